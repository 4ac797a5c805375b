// HEIF decoding (ISO/IEC 23008-12) with libheif's C API. OpenCV 4.6 has no HEIF codec, so without
// libheif every HEIF file gets the "not supported by this build" error.
#include "image/heif_decode.h"

#include "core/error.h"
#include "image/image_probe.h"

#ifdef FACESEARCH_HAVE_LIBHEIF
#include <algorithm>
#include <cctype>
#include <climits>
#include <memory>
#include <new>

#include <libheif/heif.h>
#include <opencv2/imgproc.hpp>
#endif

namespace facesearch::image_detail {

#ifdef FACESEARCH_HAVE_LIBHEIF

namespace {

using HeifContext = std::unique_ptr<heif_context, void (*)(heif_context*)>;
using HeifImageHandle = std::unique_ptr<heif_image_handle, void (*)(const heif_image_handle*)>;
using HeifImage = std::unique_ptr<heif_image, void (*)(const heif_image*)>;
using HeifDecodingOptions = std::unique_ptr<heif_decoding_options, void (*)(heif_decoding_options*)>;

// libheif registers its built-in codecs when it is loaded, but codecs packaged as plugins (Debian 13's
// libheif-plugin-*, Homebrew) are only loaded by heif_init(). One reference for the whole process,
// never released: plugins stay loaded until exit. Its error is ignored on purpose: libheif 1.15
// reports a missing plugin folder as one even though the built-in codecs work, and a codec that
// really is missing is reported per file by heif_decode_image.
void init_libheif_once() {
  [[maybe_unused]] static const heif_error result = heif_init(nullptr);
}

// AVIF is HEIF with AV1 instead of HEVC; probe_image calls both "heic", the brands tell them apart.
bool is_avif(std::span<const std::uint8_t> bytes) {
  const int size = static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX));
  for (const char* brand : {"avif", "avis"}) {
    if (size >= 12 && heif_read_main_brand(bytes.data(), size) == heif_fourcc_to_brand(brand)) return true;
    if (heif_has_compatible_brand(bytes.data(), size, brand) == 1) return true;
  }
  return false;
}

std::string trimmed(std::string text) {  // libheif's messages may end with a newline
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

cv::Mat decode_heif(std::span<const std::uint8_t> bytes, const std::string& name, std::int64_t max_pixels) {
  init_libheif_once();
  const bool avif = is_avif(bytes);
  const std::string kind = avif ? "AVIF" : "HEIC";
  const auto check = [&](const heif_error& error) {
    if (error.code == heif_error_Ok) return;
    if (error.code == heif_error_Unsupported_feature && error.subcode == heif_suberror_Unsupported_codec) {
      throw Error(ErrorCode::kDecode, name + ": " + kind + " images are not supported by this build (libheif has no " +
                                          (avif ? "AV1" : "HEVC") + " decoder); convert it to JPEG or PNG");
    }
    throw Error(ErrorCode::kDecode,
                name + ": corrupt or unsupported " + kind + " data (" + trimmed(error.message) + ")");
  };

  // The context reads `bytes` in place; it and everything decoded from it die before this returns.
  const HeifContext context(heif_context_alloc(), &heif_context_free);
  if (!context) throw std::bad_alloc();
  check(heif_context_read_from_memory_without_copy(context.get(), bytes.data(), bytes.size(), nullptr));
  heif_image_handle* primary = nullptr;
  check(heif_context_get_primary_image_handle(context.get(), &primary));
  const HeifImageHandle handle(primary, &heif_image_handle_release);
  // The size the file declares (its ispe property, after irot/clap), which libheif allocates for.
  check_pixel_limit(heif_image_handle_get_width(handle.get()), heif_image_handle_get_height(handle.get()), max_pixels,
                    name);

  const HeifDecodingOptions options(heif_decoding_options_alloc(), &heif_decoding_options_free);
  if (!options) throw std::bad_alloc();
  // irot/imir (and the clap crop) are HEIF's form of EXIF orientation. libheif applies them by default;
  // set here because an upright image is this stage's contract. Phones also write an Exif block whose
  // Orientation tag describes the same rotation: decode_image must never apply that one as well.
  options->ignore_transformations = 0;
  const bool has_alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;
  heif_image* decoded = nullptr;
  // Interleaved RGB is 8 bits per sample: libheif converts 10- and 12-bit images down.
  check(heif_decode_image(handle.get(), &decoded, heif_colorspace_RGB,
                          has_alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options.get()));
  const HeifImage image(decoded, &heif_image_release);

  int stride = 0;
  const std::uint8_t* pixels = heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
  const int width = heif_image_get_width(image.get(), heif_channel_interleaved);
  const int height = heif_image_get_height(image.get(), heif_channel_interleaved);
  if (pixels == nullptr || width <= 0 || height <= 0 ||
      heif_image_get_bits_per_pixel_range(image.get(), heif_channel_interleaved) != 8) {
    throw Error(ErrorCode::kDecode,
                name + ": corrupt or unsupported " + kind + " data (libheif gave no 8-bit RGB image)");
  }
  // A header over libheif's pixels, which the conversions below copy into memory OpenCV owns.
  const cv::Mat rgb(height, width, has_alpha ? CV_8UC4 : CV_8UC3, const_cast<std::uint8_t*>(pixels),
                    static_cast<std::size_t>(stride));
  cv::Mat bgr;
  if (!has_alpha) {
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  } else if (heif_image_is_premultiplied_alpha(image.get())) {
    cv::Mat straight;
    cv::cvtColor(rgb, straight, cv::COLOR_mRGBA2RGBA);
    cv::cvtColor(straight, bgr, cv::COLOR_RGBA2BGRA);
  } else {
    cv::cvtColor(rgb, bgr, cv::COLOR_RGBA2BGRA);
  }
  return bgr;
}

#else  // no libheif

cv::Mat decode_heif(std::span<const std::uint8_t>, const std::string& name, std::int64_t) {
  throw Error(ErrorCode::kDecode, name + ": HEIC images are not supported by this build; convert it to JPEG or PNG");
}

#endif

}  // namespace facesearch::image_detail
