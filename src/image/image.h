// Stage 1 of the pipeline: turn a file into upright 8-bit BGR pixels.
//
// Decoding is by content, not by file name (a PNG named .jpg decodes as PNG). EXIF orientation is
// applied, so every coordinate downstream is in the upright image. Very large JPEGs are decoded
// reduced (libjpeg's 1/2, 1/4, 1/8 DCT scaling) so that a 48-megapixel photo never needs its full
// pixel buffer; `scale` maps decoded pixels back to full-resolution upright pixels.
// Codecs are OpenCV's (imdecode), libjpeg-turbo's TurboJPEG API for JPEG (the same pixels as imdecode,
// without libjpeg's messages on stderr), plus libheif for HEIC/AVIF in builds that have it
// (src/image/heif.cmake); only the header parsing in probe_image is our own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facesearch {

// What the header says, without decoding pixels.
struct ImageInfo {
  // "jpeg", "png", "webp", "bmp", "tiff", "gif", "heic" (any HEIF brand, AVIF included), "pnm"
  // (Netpbm P1..P6), or "" when unknown
  std::string format;
  int width = 0;             // as stored (before EXIF orientation); 0 when the header does not say
  int height = 0;
  int exif_orientation = 1;  // 1..8 from JPEG APP1 Exif, PNG eXIf or WebP EXIF; 1 when absent (and for TIFF, HEIF)
  bool has_alpha = false;    // PNG colour type 4/6 or tRNS, WebP alpha flag
};

// Images over this many pixels (width x height in the header) are refused before decoding, because a
// small file can claim any size: a 110 KB 1-bit PNG of 30000x30000 pixels decodes to 2.7 GB. 250 MP
// lets through the largest photos cameras save (200 MP phone modes, 16320x12240; 150 MP medium
// format) while one decoded image stays under 1 GB (3 bytes per pixel, plus the decoder's own copy).
inline constexpr std::int64_t kDefaultMaxPixels = 250'000'000;

struct DecodeOptions {
  // Decode JPEGs reduced by the largest factor (2, 4 or 8) that keeps the longer side at least this
  // many pixels. 0 decodes at full resolution. HEIF images over 40 megapixels are reduced the same way
  // right after decoding (libheif cannot decode reduced); smaller HEIF images and other formats never.
  int min_long_side_px = 2000;
  // Refuse images whose header says more pixels than this (full resolution, whatever the reduction),
  // and images whose header does not say their size, before decoding anything.
  std::int64_t max_pixels = kDefaultMaxPixels;
};

struct DecodedImage {
  cv::Mat bgr;             // CV_8UC3, upright; grey and 16-bit input converted, alpha composited over white
  int width = 0;           // full-resolution upright size in pixels
  int height = 0;
  float scale = 1.f;       // full-resolution pixels per decoded pixel (1, 2, 4 or 8)
  std::string format;      // as in ImageInfo
  std::vector<std::string> warnings;  // e.g. "truncated JPEG data: decoded partially"
};

// Reads the header of an encoded image by its magic bytes, without decoding pixels. Never throws and
// never reads outside `bytes`; unknown data gives format "", truncated headers leave fields at 0/1.
ImageInfo probe_image(std::span<const std::uint8_t> bytes);

// Decodes an encoded image held in memory. `name` is used in error messages only.
// Throws Error{kDecode} naming `name` and the reason (empty file, not an image, corrupt data, more
// pixels than options.max_pixels, HEIC/AVIF in a build without libheif or whose libheif lacks the codec). HEIF orientation (irot/imir) is applied
// by libheif; the Exif Orientation tag of a HEIF file is not applied on top of it.
// A JPEG cut off before its end marker still decodes (the missing part is grey) with a warning; other
// damage that libjpeg decodes past (corrupt scan data) gives a "damaged JPEG data" warning.
// Writes nothing to stdout or stderr for JPEGs TurboJPEG decodes (CMYK/YCCK ones still go through
// imdecode, whose libjpeg may print warnings). Thread-safe: no shared state besides OpenCV's and libheif's.
DecodedImage decode_image(std::span<const std::uint8_t> bytes, const std::string& name,
                          const DecodeOptions& options = {});

// Reads (read_file_bytes: regular files of at most 1 GiB) and decodes a file. Throws Error{kNotFound}
// when it does not exist, Error{kInvalidArgument} for a folder, Error{kIo} for a FIFO or device and
// when it cannot be read, Error{kDecode} as above and for a file over 1 GiB.
DecodedImage decode_image_file(const std::filesystem::path& path, const DecodeOptions& options = {});

// True for file names whose extension is a photo format facesearch reads (case-insensitive):
// used to pick files when walking a folder. Files named explicitly are decoded whatever their name.
bool has_image_extension(const std::filesystem::path& path);

}  // namespace facesearch
