// Header parsing by magic bytes, no pixel decoding. Every read goes through ByteReader, which checks
// bounds, so truncated or hostile input can only end a parse early, never read past the data.
//
// References: JPEG ITU-T T.81 annex B (markers), Exif 2.32 / TIFF 6.0 (IFD layout, tag 0x0112),
// PNG 3rd edition (IHDR, tRNS, eXIf), the WebP container spec (RIFF, VP8X flags, VP8L header),
// RFC 6386 section 9.1 (VP8 key frame header), ISO/IEC 14496-12 (ftyp box), Netpbm (PNM header).
#include "image/image_probe.h"

#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <string_view>

#include "image/image.h"

namespace facesearch {
namespace {

using Bytes = std::span<const std::uint8_t>;

class ByteReader {
 public:
  ByteReader(Bytes data, bool little_endian) : data_(data), little_(little_endian) {}

  std::size_t size() const { return data_.size(); }
  bool has(std::size_t offset, std::size_t count) const {
    return offset <= data_.size() && count <= data_.size() - offset;
  }
  // The part of [offset, offset + count) that lies inside the data.
  Bytes clipped(std::size_t offset, std::size_t count) const {
    if (offset >= data_.size()) return {};
    return data_.subspan(offset, std::min(count, data_.size() - offset));
  }
  bool starts_with(std::size_t offset, std::string_view magic) const {
    if (!has(offset, magic.size())) return false;
    return std::equal(magic.begin(), magic.end(), data_.begin() + static_cast<std::ptrdiff_t>(offset),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  }
  std::optional<std::uint32_t> u8(std::size_t offset) const { return read(offset, 1); }
  std::optional<std::uint32_t> u16(std::size_t offset) const { return read(offset, 2); }
  std::optional<std::uint32_t> u24(std::size_t offset) const { return read(offset, 3); }
  std::optional<std::uint32_t> u32(std::size_t offset) const { return read(offset, 4); }
  std::optional<std::uint64_t> u64(std::size_t offset) const {
    const std::optional<std::uint32_t> first = read(offset, 4), second = read(offset + 4, 4);
    if (!first || !second) return std::nullopt;
    const std::uint64_t low = little_ ? *first : *second, high = little_ ? *second : *first;
    return (high << 32) | low;
  }

 private:
  std::optional<std::uint32_t> read(std::size_t offset, std::size_t count) const {
    if (!has(offset, count)) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t at = little_ ? offset + count - 1 - i : offset + i;
      value = (value << 8) | data_[at];
    }
    return value;
  }

  Bytes data_;
  bool little_;
};

int to_dimension(std::uint32_t value) { return value <= INT_MAX ? static_cast<int>(value) : 0; }

bool is_valid_orientation(std::uint32_t value) { return value >= 1 && value <= 8; }

// Image size and orientation from the first IFD of a TIFF structure (a TIFF file, or the payload of
// an Exif block, which is a TIFF structure too).
struct TiffTags {
  int width = 0;
  int height = 0;
  int orientation = 1;
};

std::optional<bool> tiff_is_little_endian(Bytes tiff) {
  const ByteReader r(tiff, true);
  if (r.starts_with(0, std::string_view("II*\0", 4))) return true;
  if (r.starts_with(0, std::string_view("MM\0*", 4))) return false;
  return std::nullopt;
}

TiffTags read_tiff_ifd0(Bytes tiff) {
  TiffTags tags;
  const std::optional<bool> little = tiff_is_little_endian(tiff);
  if (!little) return tags;
  const ByteReader r(tiff, *little);
  const std::optional<std::uint32_t> ifd = r.u32(4);
  if (!ifd) return tags;
  const std::optional<std::uint32_t> count = r.u16(*ifd);
  if (!count) return tags;
  constexpr std::size_t kEntrySize = 12;  // tag u16, type u16, count u32, value or offset u32
  for (std::size_t i = 0; i < *count; ++i) {
    const std::size_t entry = std::size_t{*ifd} + 2 + i * kEntrySize;
    if (!r.has(entry, kEntrySize)) break;
    const std::uint32_t tag = *r.u16(entry);
    const std::uint32_t type = *r.u16(entry + 2);
    const std::uint32_t n = *r.u32(entry + 4);
    std::optional<std::uint32_t> value;
    if (n >= 1 && type == 3) value = r.u16(entry + 8);       // SHORT, stored left-justified
    else if (n >= 1 && type == 4) value = r.u32(entry + 8);  // LONG
    if (!value) continue;
    if (tag == 0x0100) tags.width = to_dimension(*value);
    else if (tag == 0x0101) tags.height = to_dimension(*value);
    else if (tag == 0x0112 && is_valid_orientation(*value)) tags.orientation = static_cast<int>(*value);
  }
  return tags;
}

// Image size from the first IFD of a BigTIFF file (the 64-bit TIFF variant libtiff reads too): an
// 8-byte IFD offset at 8, then an 8-byte entry count and 20-byte entries (tag u16, type u16,
// count u64, value or offset u64).
TiffTags read_bigtiff_ifd0(Bytes tiff) {
  TiffTags tags;
  const ByteReader probe(tiff, true);
  const bool little = probe.starts_with(0, std::string_view("II+\0", 4));
  const ByteReader r(tiff, little);
  if (r.u16(4) != 8u || r.u16(6) != 0u) return tags;  // offset size 8, reserved 0
  const std::optional<std::uint64_t> ifd = r.u64(8);
  if (!ifd || *ifd > tiff.size()) return tags;
  const std::optional<std::uint64_t> count = r.u64(static_cast<std::size_t>(*ifd));
  if (!count) return tags;
  constexpr std::size_t kEntrySize = 20;
  for (std::uint64_t i = 0; i < *count; ++i) {
    const std::size_t entry = static_cast<std::size_t>(*ifd) + 8 + static_cast<std::size_t>(i) * kEntrySize;
    if (!r.has(entry, kEntrySize)) break;
    const std::uint32_t tag = *r.u16(entry);
    const std::uint32_t type = *r.u16(entry + 2);
    const std::uint64_t n = *r.u64(entry + 4);
    std::optional<std::uint64_t> value;
    if (n >= 1 && type == 3) value = r.u16(entry + 12);       // SHORT, stored left-justified
    else if (n >= 1 && type == 4) value = r.u32(entry + 12);  // LONG
    else if (n >= 1 && type == 16) value = r.u64(entry + 12); // LONG8
    if (!value) continue;
    const int dimension = *value <= INT_MAX ? static_cast<int>(*value) : 0;
    if (tag == 0x0100) tags.width = dimension;
    else if (tag == 0x0101) tags.height = dimension;
  }
  return tags;
}

// Orientation from an Exif block, with or without the "Exif\0\0" prefix JPEG APP1 uses.
int exif_orientation(Bytes exif) {
  constexpr std::string_view kExifPrefix("Exif\0\0", 6);
  if (ByteReader(exif, false).starts_with(0, kExifPrefix)) exif = exif.subspan(kExifPrefix.size());
  return read_tiff_ifd0(exif).orientation;
}

// --- JPEG ---------------------------------------------------------------------------------------

bool is_jpeg_sof(std::uint32_t marker) {
  // SOF0..SOF15 minus DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

struct JpegWalk {
  std::optional<std::size_t> scan = std::nullopt;  // offset of the entropy-coded data after the first SOS header
  bool ran_out = false;             // the data ended inside the marker segments
};

// Walks the marker segments from SOI to the first SOS, filling `info` on the way.
JpegWalk walk_jpeg(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, false);
  bool have_size = false;
  bool have_orientation = false;
  std::size_t pos = 2;  // after SOI
  while (true) {
    if (!r.has(pos, 1)) return {.ran_out = true};
    if (r.u8(pos) != 0xFFu) return {};  // not a marker where one must be: malformed
    while (r.u8(pos) == 0xFFu) ++pos;   // fill bytes may precede a marker
    const std::optional<std::uint32_t> marker = r.u8(pos);
    if (!marker) return {.ran_out = true};
    ++pos;
    if (*marker == 0xD8 || *marker == 0x01 || (*marker >= 0xD0 && *marker <= 0xD7)) continue;  // no length
    if (*marker == 0xD9) return {};  // EOI before any scan: complete, if empty
    const std::optional<std::uint32_t> length = r.u16(pos);  // includes its own two bytes
    if (!length) return {.ran_out = true};
    if (*length < 2) return {};
    const std::size_t segment = pos + 2;
    const std::size_t segment_size = *length - 2;
    if (*marker == 0xDA) {
      if (!r.has(segment, segment_size)) return {.ran_out = true};
      return {.scan = segment + segment_size};
    }
    if (is_jpeg_sof(*marker) && !have_size && segment_size >= 5) {
      // precision u8, height u16, width u16
      const std::optional<std::uint32_t> height = r.u16(segment + 1);
      const std::optional<std::uint32_t> width = r.u16(segment + 3);
      if (height && width) {
        info->height = static_cast<int>(*height);
        info->width = static_cast<int>(*width);
        have_size = true;
      }
    } else if (*marker == 0xE1 && !have_orientation && r.starts_with(segment, std::string_view("Exif\0\0", 6))) {
      info->exif_orientation = exif_orientation(r.clipped(segment, segment_size));
      have_orientation = true;
    }
    pos = segment + segment_size;
  }
}

void probe_jpeg(Bytes bytes, ImageInfo* info) { walk_jpeg(bytes, info); }

// --- PNG ----------------------------------------------------------------------------------------

void probe_png(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, false);
  std::size_t pos = 8;  // after the signature
  bool have_header = false;
  while (r.has(pos, 8)) {
    const std::size_t length = *r.u32(pos);
    const std::size_t data = pos + 8;
    // Only the first IHDR counts: libpng refuses a second one, so its size is never decoded.
    if (r.starts_with(pos + 4, "IHDR") && r.has(data, 13) && !have_header) {
      have_header = true;
      info->width = to_dimension(*r.u32(data));
      info->height = to_dimension(*r.u32(data + 4));
      const std::uint32_t colour_type = *r.u8(data + 9);
      if (colour_type == 4 || colour_type == 6) info->has_alpha = true;  // grey + alpha, RGBA
    } else if (r.starts_with(pos + 4, "tRNS")) {
      info->has_alpha = true;  // a transparent colour or palette alpha
    } else if (r.starts_with(pos + 4, "eXIf")) {
      info->exif_orientation = exif_orientation(r.clipped(data, length));
    } else if (r.starts_with(pos + 4, "IEND")) {
      break;
    }
    if (!r.has(data, length)) break;
    pos = data + length + 4;  // data, then CRC
  }
}

// --- WebP ---------------------------------------------------------------------------------------

void probe_webp(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, true);
  constexpr std::size_t kFirstChunk = 12;  // after "RIFF", size, "WEBP"
  const std::size_t payload = kFirstChunk + 8;
  if (r.starts_with(kFirstChunk, "VP8 ")) {
    // Key frame: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
    if (r.u8(payload + 3) == 0x9Du && r.u8(payload + 4) == 0x01u && r.u8(payload + 5) == 0x2Au) {
      if (auto w = r.u16(payload + 6), h = r.u16(payload + 8); w && h) {
        info->width = static_cast<int>(*w & 0x3FFF);
        info->height = static_cast<int>(*h & 0x3FFF);
      }
    }
  } else if (r.starts_with(kFirstChunk, "VP8L")) {
    // Signature 0x2f, then width-1 (14 bits), height-1 (14 bits), alpha_is_used (1 bit).
    if (r.u8(payload) == 0x2Fu) {
      if (auto bits = r.u32(payload + 1)) {
        info->width = static_cast<int>((*bits & 0x3FFF) + 1);
        info->height = static_cast<int>(((*bits >> 14) & 0x3FFF) + 1);
        info->has_alpha = ((*bits >> 28) & 1) != 0;
      }
    }
  } else if (r.starts_with(kFirstChunk, "VP8X")) {
    // Flags byte (0x10 alpha, 0x08 Exif), 3 reserved bytes, canvas width-1 and height-1 (24 bits).
    const std::optional<std::uint32_t> flags = r.u8(payload);
    const std::optional<std::uint32_t> w = r.u24(payload + 4);
    const std::optional<std::uint32_t> h = r.u24(payload + 7);
    if (flags && w && h) {
      info->width = static_cast<int>(*w + 1);
      info->height = static_cast<int>(*h + 1);
      info->has_alpha = (*flags & 0x10) != 0;
    }
    // The Exif chunk follows the image data, so walk the chunks to find it.
    std::size_t pos = kFirstChunk;
    while (flags && (*flags & 0x08) && r.has(pos, 8)) {
      const std::size_t length = *r.u32(pos + 4);
      if (r.starts_with(pos, "EXIF")) {
        info->exif_orientation = exif_orientation(r.clipped(pos + 8, length));
        break;
      }
      if (!r.has(pos + 8, length)) break;
      pos += 8 + length + (length & 1);  // chunks are padded to an even size
    }
  }
}

// --- Others -------------------------------------------------------------------------------------

bool probe_bmp(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, true);
  const std::optional<std::uint32_t> dib_size = r.u32(14);
  constexpr std::array<std::uint32_t, 7> kDibSizes = {12, 40, 52, 56, 64, 108, 124};
  if (!dib_size || std::find(kDibSizes.begin(), kDibSizes.end(), *dib_size) == kDibSizes.end()) {
    return false;  // "BM" alone is too weak a signature: plain text can start with it
  }
  if (*dib_size == 12) {  // BITMAPCOREHEADER: 16-bit sizes
    if (auto w = r.u16(18), h = r.u16(20); w && h) {
      info->width = static_cast<int>(*w);
      info->height = static_cast<int>(*h);
    }
  } else if (auto w = r.u32(18), h = r.u32(22); w && h) {
    // Signed; a negative height means rows are stored top-down.
    const auto height = static_cast<std::int32_t>(*h);
    info->width = to_dimension(*w);
    info->height = height == INT32_MIN ? 0 : std::abs(height);
  }
  return true;
}

void probe_gif(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, true);
  if (auto w = r.u16(6), h = r.u16(8); w && h) {
    info->width = static_cast<int>(*w);
    info->height = static_cast<int>(*h);
  }
}

// HEIF family (HEIC, AVIF): an ftyp box whose major or compatible brands name a HEIF brand.
bool is_heif(Bytes bytes) {
  const ByteReader r(bytes, false);
  if (!r.starts_with(4, "ftyp")) return false;
  const std::optional<std::uint32_t> box_size = r.u32(0);
  if (!box_size) return false;
  constexpr std::array<std::string_view, 10> kBrands = {"heic", "heix", "hevc", "hevx", "heim",
                                                        "heis", "mif1", "msf1", "avif", "avis"};
  const auto is_heif_brand = [&](std::size_t offset) {
    return std::any_of(kBrands.begin(), kBrands.end(), [&](std::string_view b) { return r.starts_with(offset, b); });
  };
  if (is_heif_brand(8)) return true;  // major brand
  const std::size_t end = std::min<std::size_t>(*box_size, r.size());
  for (std::size_t offset = 16; offset + 4 <= end; offset += 4) {  // after minor version
    if (is_heif_brand(offset)) return true;
  }
  return false;
}

// Binary and ASCII Netpbm (P1..P6): magic, then width and height as decimal text, with '#' comments.
bool probe_pnm(Bytes bytes, ImageInfo* info) {
  const ByteReader r(bytes, false);
  const std::optional<std::uint32_t> kind = r.u8(1);
  const std::optional<std::uint32_t> after = r.u8(2);
  const auto is_space = [](std::uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  if (r.u8(0) != std::uint32_t{'P'} || !kind || *kind < '1' || *kind > '6' || !after || !is_space(*after)) {
    return false;
  }
  std::size_t pos = 2;
  const auto next_number = [&]() -> int {
    while (true) {  // skip white space and comments
      const std::optional<std::uint32_t> c = r.u8(pos);
      if (!c) return 0;
      if (*c == '#') {
        while (r.u8(pos) && r.u8(pos) != std::uint32_t{'\n'}) ++pos;
      } else if (is_space(*c)) {
        ++pos;
      } else {
        break;
      }
    }
    long long value = 0;
    int digits = 0;
    for (std::optional<std::uint32_t> c = r.u8(pos); c && *c >= '0' && *c <= '9'; c = r.u8(++pos)) {
      if (++digits > 9) return 0;
      value = value * 10 + (*c - '0');
    }
    return static_cast<int>(value);
  };
  const int width = next_number();
  const int height = next_number();
  if (width > 0 && height > 0) {
    info->width = width;
    info->height = height;
  }
  return true;
}

}  // namespace

ImageInfo probe_image(std::span<const std::uint8_t> bytes) {
  ImageInfo info;
  const ByteReader r(bytes, false);
  if (r.u8(0) == 0xFFu && r.u8(1) == 0xD8u && r.u8(2) == 0xFFu) {
    info.format = "jpeg";
    probe_jpeg(bytes, &info);
  } else if (r.starts_with(0, "\x89PNG\r\n\x1a\n")) {
    info.format = "png";
    probe_png(bytes, &info);
  } else if (r.starts_with(0, "RIFF") && r.starts_with(8, "WEBP")) {
    info.format = "webp";
    probe_webp(bytes, &info);
  } else if (r.starts_with(0, "GIF87a") || r.starts_with(0, "GIF89a")) {
    info.format = "gif";
    probe_gif(bytes, &info);
  } else if (tiff_is_little_endian(bytes)) {
    info.format = "tiff";
    // Size only. A TIFF's own Orientation tag is left at 1: libtiff's RGBA reader, which OpenCV
    // uses for many layouts, already applies part of it, so applying it again could double-flip.
    const TiffTags tags = read_tiff_ifd0(bytes);
    info.width = tags.width;
    info.height = tags.height;
  } else if (r.starts_with(0, std::string_view("II+\0", 4)) || r.starts_with(0, std::string_view("MM\0+", 4))) {
    info.format = "tiff";  // BigTIFF: 64-bit offsets; size only, as for TIFF
    const TiffTags tags = read_bigtiff_ifd0(bytes);
    info.width = tags.width;
    info.height = tags.height;
  } else if (r.starts_with(0, "BM") && probe_bmp(bytes, &info)) {
    info.format = "bmp";
  } else if (is_heif(bytes)) {
    info.format = "heic";
  } else if (probe_pnm(bytes, &info)) {
    info.format = "pnm";
  }
  return info;
}

namespace image_detail {

bool jpeg_is_truncated(std::span<const std::uint8_t> bytes) {
  ImageInfo ignored;
  const JpegWalk walk = walk_jpeg(bytes, &ignored);
  if (walk.ran_out) return true;
  if (!walk.scan) return false;  // malformed rather than cut off
  // Inside entropy-coded data a 0xFF byte is always followed by 0x00 (stuffing), a restart marker
  // or another marker segment, so the first FF D9 after the first SOS is the real EOI.
  constexpr std::array<std::uint8_t, 2> kEoi = {0xFF, 0xD9};
  const auto rest = bytes.subspan(*walk.scan);
  return std::search(rest.begin(), rest.end(), kEoi.begin(), kEoi.end()) == rest.end();
}

}  // namespace image_detail
}  // namespace facesearch
