// Internal to src/image: HEIF (HEIC, AVIF) decoding through libheif, in builds that have it
// (FACESEARCH_HAVE_LIBHEIF, set by src/image/heif.cmake).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

namespace facesearch::image_detail {

// Decodes the primary image of a HEIF file at full size: CV_8UC3 BGR, or CV_8UC4 BGRA with straight
// (not premultiplied) alpha when the image has an alpha plane. Upright: libheif applies the file's
// irot/imir/clap transformations. Throws Error{kDecode} naming `name` for corrupt data, a codec this
// libheif lacks, and in builds without libheif, and for images over `max_pixels` (checked on the size
// the file declares, before decoding). Thread-safe.
cv::Mat decode_heif(std::span<const std::uint8_t> bytes, const std::string& name, std::int64_t max_pixels);

}  // namespace facesearch::image_detail
