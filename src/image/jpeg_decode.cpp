// JPEG decoding with libjpeg-turbo's TurboJPEG API (libjpeg-turbo 2.1, Debian: libturbojpeg0-dev).
// OpenCV 4.6's JPEG decoder (modules/imgcodecs/src/grfmt_jpeg.cpp) sets no output_message, so libjpeg's
// warnings for damaged data go straight to stderr; TurboJPEG's error manager stores them per handle.
#include "image/jpeg_decode.h"

#include <climits>
#include <memory>
#include <utility>

#include <turbojpeg.h>

namespace facesearch::image_detail {
namespace {

struct TurboJpegDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TurboJpegHandle = std::unique_ptr<void, TurboJpegDestroy>;

// OpenCV's default CV_IO_MAX_IMAGE_PIXELS (imgcodecs/src/loadsave.cpp): above it imdecode throws
// instead of allocating, so such images are left to imdecode for the same error.
constexpr long long kOpenCvMaxPixels = 1LL << 30;

// libjpeg-turbo scales by N/8 for N = 1..16; 1/2, 1/4 and 1/8 are always among them.
bool find_scaling_factor(int reduction_factor, tjscalingfactor* found) {
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  for (int i = 0; factors && i < count; ++i) {
    if (factors[i].num * reduction_factor == factors[i].denom) {
      *found = factors[i];
      return true;
    }
  }
  return false;
}

}  // namespace

TurboJpegResult decode_jpeg_turbo(std::span<const std::uint8_t> bytes, int reduction_factor) {
  TurboJpegResult result;
  if (bytes.empty() || bytes.size() > ULONG_MAX) return result;
  const TurboJpegHandle handle(tjInitDecompress());
  if (!handle) {
    result.message = tjGetErrorStr2(nullptr);
    return result;
  }
  const unsigned long size = static_cast<unsigned long>(bytes.size());

  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), bytes.data(), size, &width, &height, &subsampling, &colorspace) != 0) {
    result.message = tjGetErrorStr2(handle.get());
    return result;
  }
  // OpenCV reads 4-component JPEGs as CMYK and converts them itself; TurboJPEG cannot make BGR of them.
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return result;

  tjscalingfactor factor{1, 1};
  if (reduction_factor > 1 && !find_scaling_factor(reduction_factor, &factor)) return result;
  // Rounded up, as libjpeg's jpeg_calc_output_dimensions does: TJSCALED is the same formula.
  const int scaled_width = TJSCALED(width, factor);
  const int scaled_height = TJSCALED(height, factor);
  if (static_cast<long long>(scaled_width) * scaled_height > kOpenCvMaxPixels) return result;

  cv::Mat bgr(scaled_height, scaled_width, CV_8UC3);
  // No TJFLAG_FASTDCT / TJFLAG_FASTUPSAMPLE: libjpeg's defaults (ISLOW DCT, fancy upsampling), as in OpenCV.
  // Warnings do not stop decoding (no TJFLAG_STOPONWARNING): the rows of missing data come out grey.
  const int status = tjDecompress2(handle.get(), bytes.data(), size, bgr.data, scaled_width,
                                   static_cast<int>(bgr.step[0]), scaled_height, TJPF_BGR, 0);
  if (status != 0) {
    result.message = tjGetErrorStr2(handle.get());
    if (tjGetErrorCode(handle.get()) != TJERR_WARNING) return result;
    result.warned = true;
  }
  result.bgr = std::move(bgr);
  return result;
}

bool jpeg_header_size(std::span<const std::uint8_t> bytes, int* width, int* height) {
  if (bytes.empty() || bytes.size() > ULONG_MAX) return false;
  const TurboJpegHandle handle(tjInitDecompress());
  int subsampling = 0, colorspace = 0;
  return handle && tjDecompressHeader3(handle.get(), bytes.data(), static_cast<unsigned long>(bytes.size()), width,
                                       height, &subsampling, &colorspace) == 0;
}

}  // namespace facesearch::image_detail
