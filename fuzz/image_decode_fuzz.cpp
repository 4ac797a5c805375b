// Fuzzes stage 1 on arbitrary bytes: the header probe (our own parser of JPEG, PNG, WebP, BMP, TIFF,
// GIF, HEIF and Netpbm headers) and decode_image for every format it dispatches to (TurboJPEG, OpenCV's
// imdecode, libheif), with the options the product uses. Anything but facesearch::Error escaping, a
// decoded image that breaks DecodedImage's promises, or a sanitizer report is a finding.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/error.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const facesearch::ImageInfo info = facesearch::probe_image(bytes);  // never throws
  if (info.width < 0 || info.height < 0 || info.exif_orientation < 1 || info.exif_orientation > 8) std::abort();
  try {
    const facesearch::DecodedImage image = facesearch::decode_image(bytes, "fuzz-input", facesearch::DecodeOptions{});
    if (image.bgr.empty() || image.bgr.type() != CV_8UC3 || image.width <= 0 || image.height <= 0 ||
        !(image.scale >= 1.f))
      std::abort();
  } catch (const facesearch::Error&) {
    // A clear error is the right answer to bad bytes.
  }
  return 0;
}
