// Internal to src/image: JPEG decoding through libjpeg-turbo's TurboJPEG API. It runs the same
// libjpeg-turbo code as OpenCV's imdecode, with the same settings, but its error manager keeps
// libjpeg's messages instead of printing them to stderr ("Corrupt JPEG data: ..."), so facesearch
// reports a damaged file once, as its own warning, and --quiet stays quiet.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

namespace facesearch::image_detail {

struct TurboJpegResult {
  cv::Mat bgr;          // CV_8UC3 as stored (no EXIF orientation); empty when TurboJPEG did not decode
  bool warned = false;  // libjpeg warned (corrupt or missing data) but the image decoded
  std::string message;  // libjpeg's warning or error text; "" after a clean decode
};

// Decodes a JPEG to 8-bit BGR reduced by `reduction_factor` (1, 2, 4 or 8) with libjpeg's DCT
// scaling: the same pixels and sizes as cv::imdecode with IMREAD_COLOR / IMREAD_REDUCED_COLOR_N
// (ISLOW DCT, fancy upsampling, grey as three equal channels). Leaves `bgr` empty, without throwing,
// for what OpenCV must decode instead: CMYK/YCCK, anything TurboJPEG refuses, fatal errors, and
// sizes over OpenCV's pixel limit (so that the caller's cv::imdecode gives today's error).
// Thread-safe: one TurboJPEG handle per call.
TurboJpegResult decode_jpeg_turbo(std::span<const std::uint8_t> bytes, int reduction_factor);

// The image size libjpeg reads from the header (it skips junk between markers that probe_image
// stops at); false when it finds none.
bool jpeg_header_size(std::span<const std::uint8_t> bytes, int* width, int* height);

}  // namespace facesearch::image_detail
