// Internal to src/image: header facts the decoder needs beyond ImageInfo.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace facesearch::image_detail {

// True when a JPEG stops before its end-of-image marker (a cut-off download or copy): the data runs
// out inside the marker segments, or no EOI follows the first start-of-scan. Thumbnails in APP
// segments are skipped, so their EOI never counts.
bool jpeg_is_truncated(std::span<const std::uint8_t> bytes);

// Throws Error{kDecode} naming `name` when width x height is over `max_pixels` (DecodeOptions::max_pixels;
// <= 0: no limit). Every decoder calls it with the size from the header, before decoding pixels.
void check_pixel_limit(long long width, long long height, std::int64_t max_pixels, const std::string& name);

}  // namespace facesearch::image_detail
