#include "image/image.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "image/heif_decode.h"
#include "image/image_probe.h"
#include "image/jpeg_decode.h"

namespace facesearch {
namespace {

// Transparent pixels are composited over white, the background most viewers show, so a cut-out
// portrait looks like a studio photo instead of revealing whatever colours hide under alpha 0.
constexpr int kAlphaBackground = 255;

Error decode_error(const std::string& name, const std::string& reason) {
  return Error(ErrorCode::kDecode, name + ": " + reason);
}

// HEIF has no reduced decoding: libheif always decodes the full image. Above this many pixels the
// decoded image is reduced straight away, by the same factors as a JPEG, so that later stages hold no
// more than for a JPEG of that size. Decoding itself still needs the full-size buffers.
// Above the 12 MP of most phone photos, below the 48 MP that recent phone main cameras can save.
constexpr long long kHeifReduceAbovePixels = 40'000'000;

// The largest libjpeg DCT scaling factor (1/2, 1/4, 1/8) that keeps the longer side at least
// `min_long_side_px` pixels. libjpeg rounds scaled sizes up, so compare against the rounded-up size.
int reduction_factor(int width, int height, int min_long_side_px) {
  if (min_long_side_px <= 0) return 1;
  const long long long_side = std::max(width, height);
  for (int factor : {8, 4, 2}) {
    if ((long_side + factor - 1) / factor >= min_long_side_px) return factor;
  }
  return 1;
}

int imread_flags(const ImageInfo& info, int reduction_factor) {
  // Alpha needs the raw channels; IMREAD_UNCHANGED also skips OpenCV's orientation handling.
  if (info.has_alpha) return cv::IMREAD_UNCHANGED;
  // Orientation is applied below from our own header parse, so that it is the same for every format
  // and every flag (OpenCV 4.6 applies it for JPEG with IMREAD_COLOR only).
  int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  switch (reduction_factor) {
    case 2: flags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION; break;
    case 4: flags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION; break;
    case 8: flags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION; break;
    default: break;
  }
  return flags;
}

// out = colour * a + background * (1 - a), per pixel, for 8-bit BGRA or grey+alpha input.
cv::Mat composite_over_background(const cv::Mat& with_alpha) {
  const int channels = with_alpha.channels();
  cv::Mat bgr(with_alpha.size(), CV_8UC3);
  for (int y = 0; y < with_alpha.rows; ++y) {
    const std::uint8_t* in = with_alpha.ptr<std::uint8_t>(y);
    std::uint8_t* out = bgr.ptr<std::uint8_t>(y);
    for (int x = 0; x < with_alpha.cols; ++x, in += channels, out += 3) {
      const int alpha = in[channels - 1];
      for (int c = 0; c < 3; ++c) {
        const int colour = channels == 4 ? in[c] : in[0];
        out[c] = static_cast<std::uint8_t>((colour * alpha + kAlphaBackground * (255 - alpha) + 127) / 255);
      }
    }
  }
  return bgr;
}

// Any 8- or 16-bit grey, grey+alpha, BGR or BGRA Mat to 8-bit BGR.
cv::Mat to_bgr8(cv::Mat decoded, const std::string& name, const std::string& format) {
  if (decoded.depth() == CV_16U) {
    decoded.convertTo(decoded, CV_8U, 1.0 / 257.0);  // 65535 -> 255
  } else if (decoded.depth() != CV_8U) {
    throw decode_error(name, "unsupported " + format + " sample type (" + cv::typeToString(decoded.type()) + ")");
  }
  switch (decoded.channels()) {
    case 1: {
      cv::Mat bgr;
      cv::cvtColor(decoded, bgr, cv::COLOR_GRAY2BGR);
      return bgr;
    }
    case 2:
    case 4: return composite_over_background(decoded);
    case 3: return decoded;
    default:
      throw decode_error(name, "unsupported " + format + " channel count (" + std::to_string(decoded.channels()) + ")");
  }
}

// EXIF orientation (1..8) to upright, as in the Exif 2.32 table for tag 0x0112: the value says
// where the stored first row and column belong.
cv::Mat apply_orientation(const cv::Mat& stored, int orientation) {
  cv::Mat upright;
  switch (orientation) {
    case 2: cv::flip(stored, upright, 1); break;                              // mirrored
    case 3: cv::rotate(stored, upright, cv::ROTATE_180); break;
    case 4: cv::flip(stored, upright, 0); break;                              // mirrored, upside down
    case 5: cv::transpose(stored, upright); break;                            // mirrored, rotated
    case 6: cv::rotate(stored, upright, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(stored, upright); cv::flip(upright, upright, -1); break;
    case 8: cv::rotate(stored, upright, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return stored;
  }
  return upright;
}

// HEIF (HEIC, AVIF) goes to libheif, which applies the file's irot/imir transformations while decoding:
// the HEIF form of EXIF orientation. The Exif block's Orientation tag, which phones write to describe
// the same rotation, is deliberately not applied: that would rotate the photo twice.
DecodedImage decode_heif_image(std::span<const std::uint8_t> bytes, const std::string& name,
                               const DecodeOptions& options) {
  DecodedImage image;
  image.format = "heic";
  image.bgr = to_bgr8(image_detail::decode_heif(bytes, name, options.max_pixels), name, "heic");
  image.width = image.bgr.cols;
  image.height = image.bgr.rows;
  const bool huge = static_cast<long long>(image.width) * image.height > kHeifReduceAbovePixels;
  const int factor = huge ? reduction_factor(image.width, image.height, options.min_long_side_px) : 1;
  if (factor > 1) {
    // Rounded up like libjpeg's scaled sizes, so that `scale` means the same as for a JPEG.
    const cv::Size reduced((image.width + factor - 1) / factor, (image.height + factor - 1) / factor);
    cv::Mat full = std::move(image.bgr);
    cv::resize(full, image.bgr, reduced, 0, 0, cv::INTER_AREA);
  }
  image.scale = static_cast<float>(factor);
  return image;
}

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "900", "47.5", "0.0031": megapixels for messages.
std::string megapixels(long long pixels) {
  char text[32];
  std::snprintf(text, sizeof text, pixels >= 100'000 ? "%.1f" : "%.2g", static_cast<double>(pixels) / 1e6);
  std::string out = text;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out;
}

}  // namespace

namespace image_detail {

void check_pixel_limit(long long width, long long height, std::int64_t max_pixels, const std::string& name) {
  if (max_pixels <= 0 || width * height <= max_pixels) return;
  throw Error(ErrorCode::kDecode,
              name + ": " + std::to_string(width) + "x" + std::to_string(height) + " pixels (" +
                  megapixels(width * height) + " megapixels) is over the limit of " + megapixels(max_pixels) +
                  " megapixels for one image; not decoded",
              Hint{Remedy::kRaisePixelLimit});
}

}  // namespace image_detail

DecodedImage decode_image(std::span<const std::uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
  if (bytes.empty()) throw decode_error(name, "empty file (0 bytes)");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) - 2) throw decode_error(name, "file too large (over 2 GiB)");
  const ImageInfo info = probe_image(bytes);
  if (info.format.empty()) throw decode_error(name, "not an image (unrecognised data)");
  if (info.format == "heic") return decode_heif_image(bytes, name, options);  // checks the size libheif reads

  // The decoders below allocate what the header says; a small file can say anything. Formats whose
  // header gave no size are refused too (their decoders could not read one either, except libjpeg,
  // which skips junk between markers that the probe stops at: asked for its own reading).
  const bool is_jpeg = info.format == "jpeg";
  long long width = info.width, height = info.height;
  if (is_jpeg && (width <= 0 || height <= 0)) {
    int w = 0, h = 0;
    if (image_detail::jpeg_header_size(bytes, &w, &h)) width = w, height = h;
  }
  const bool jpeg_truncated = is_jpeg && image_detail::jpeg_is_truncated(bytes);
  if (width <= 0 || height <= 0) {
    throw decode_error(name, "corrupt or unsupported " + info.format + " data (" +
                                 (jpeg_truncated ? "the file is truncated" : "its header does not give the image size") + ")");
  }
  image_detail::check_pixel_limit(width, height, options.max_pixels, name);

  const int factor = is_jpeg ? reduction_factor(info.width, info.height, options.min_long_side_px) : 1;

  // OpenCV 4.6 decodes a JPEG held in memory that ends early by repeating the last decoded row down
  // to the bottom, smearing the picture. With an end-of-image marker appended, libjpeg instead fills
  // the missing blocks with flat grey, as its own file reader does (jdatasrc.c, fill_input_buffer).
  std::vector<std::uint8_t> completed;
  if (jpeg_truncated) {
    completed.reserve(bytes.size() + 2);
    completed.assign(bytes.begin(), bytes.end());
    completed.insert(completed.end(), {0xFF, 0xD9});
    bytes = completed;
  }

  cv::Mat decoded;
  std::vector<std::string> warnings;
  if (is_jpeg && !info.has_alpha) {
    // TurboJPEG gives imdecode's pixels for the same flags, but keeps libjpeg's warnings off stderr.
    // What it leaves undecoded (CMYK, fatal errors) goes to imdecode below, for today's result.
    image_detail::TurboJpegResult turbo = image_detail::decode_jpeg_turbo(bytes, factor);
    decoded = std::move(turbo.bgr);
    // A cut-off file has its own warning below; any other damage libjpeg noticed is named here.
    if (!decoded.empty() && turbo.warned && !jpeg_truncated) {
      warnings.push_back("damaged JPEG data, decoded anyway (libjpeg: " + turbo.message + ")");
    }
  }
  if (decoded.empty()) {
    try {
      // imdecode only reads the buffer; the Mat header avoids copying it.
      const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<std::uint8_t*>(bytes.data()));
      decoded = cv::imdecode(buffer, imread_flags(info, factor));
    } catch (const cv::Exception& e) {  // e.g. a header claiming more pixels than OpenCV allows
      throw decode_error(name, "corrupt or unsupported " + info.format + " data (" + e.err + ")");
    }
  }
  if (decoded.empty()) {
    if (info.format == "gif") throw decode_error(name, "GIF images are not supported by this build; convert it to PNG or JPEG");
    throw decode_error(name, "corrupt or unsupported " + info.format + " data" +
                                 (jpeg_truncated ? " (the file is truncated)" : ""));
  }

  DecodedImage image;
  image.format = info.format;
  image.bgr = apply_orientation(to_bgr8(std::move(decoded), name, info.format), info.exif_orientation);
  if (factor > 1) {
    // The reduced Mat's size is rounded; the header gives the exact full-resolution size.
    const bool swaps_sides = info.exif_orientation >= 5;
    image.width = swaps_sides ? info.height : info.width;
    image.height = swaps_sides ? info.width : info.height;
  } else {
    image.width = image.bgr.cols;
    image.height = image.bgr.rows;
  }
  image.scale = static_cast<float>(factor);
  image.warnings = std::move(warnings);
  if (jpeg_truncated) image.warnings.push_back("truncated JPEG data: decoded partially");
  return image;
}

DecodedImage decode_image_file(const std::filesystem::path& path, const DecodeOptions& options) {
  return decode_image(read_file_bytes(path), path.string(), options);
}

bool has_image_extension(const std::filesystem::path& path) {
  // HEIC/HEIF/AVIF are listed even in builds without libheif: a folder scan then reports each such
  // photo with a clear error instead of skipping it silently. GIF is left out (OpenCV 4.6 has no GIF
  // decoder, and GIFs are rarely photos).
  static constexpr std::array<std::string_view, 16> kExtensions = {
      ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff",
      ".heic", ".heif", ".avif", ".pgm", ".ppm", ".pnm"};
  const std::string extension = lower_ascii(path.extension().string());
  return std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end();
}

}  // namespace facesearch
