// Internal to src/image: header facts the decoder needs beyond ImageInfo.
#pragma once

#include <cstdint>
#include <span>

namespace facesearch::image_detail {

// True when a JPEG stops before its end-of-image marker (a cut-off download or copy): the data runs
// out inside the marker segments, or no EOI follows the first start-of-scan. Thumbnails in APP
// segments are skipped, so their EOI never counts.
bool jpeg_is_truncated(std::span<const std::uint8_t> bytes);

}  // namespace facesearch::image_detail
