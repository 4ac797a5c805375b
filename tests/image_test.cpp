// Image decoding stage: header probing on synthetic bytes (including truncated and garbage input),
// decoding of every tricky file in ../shared/testdata/faces/bad, and our EXIF orientation handling
// checked against OpenCV's own where OpenCV has one; JPEG decoding through TurboJPEG checked pixel for
// pixel against cv::imdecode, and for silence on stderr. HEIC/AVIF files are made at test time with
// libheif's own encoders (no HEIF file is stored in the test data).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <unistd.h>

#ifdef FACESEARCH_HAVE_LIBHEIF  // set by src/image/heif.cmake for the core and these tests together
#include <libheif/heif.h>
#endif

#include "core/error.h"
#include "image/image.h"
#include "image/jpeg_decode.h"
#include "test_support.h"

namespace facesearch {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::filesystem::path faces_dir() { return testing::testdata_dir() / "faces"; }
std::filesystem::path bad_file(const std::string& name) { return faces_dir() / "bad" / name; }

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes encode(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, image, out, params));
  return out;
}

Bytes to_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

using testing::expect_error;

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// A small image whose every pixel differs, so any wrong flip or rotation shows.
cv::Mat gradient_bgr(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(x * 255 / (width - 1)),
                                            static_cast<std::uint8_t>(y * 255 / (height - 1)),
                                            static_cast<std::uint8_t>((x * 7 + y * 13) % 256));
    }
  }
  return image;
}

// --- Synthetic containers -------------------------------------------------------------------------

void put16(Bytes& out, std::uint32_t v, bool little) {
  if (little) out.insert(out.end(), {std::uint8_t(v), std::uint8_t(v >> 8)});
  else out.insert(out.end(), {std::uint8_t(v >> 8), std::uint8_t(v)});
}
void put32(Bytes& out, std::uint32_t v, bool little) {
  if (little) out.insert(out.end(), {std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16), std::uint8_t(v >> 24)});
  else out.insert(out.end(), {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)});
}

// A TIFF structure whose IFD0 holds one Orientation entry (what an Exif block carries).
Bytes tiff_with_orientation(int orientation, bool little) {
  Bytes tiff = little ? Bytes{'I', 'I', 42, 0} : Bytes{'M', 'M', 0, 42};
  put32(tiff, 8, little);            // IFD0 offset
  put16(tiff, 1, little);            // one entry
  put16(tiff, 0x0112, little);       // Orientation
  put16(tiff, 3, little);            // SHORT
  put32(tiff, 1, little);            // count
  put16(tiff, static_cast<std::uint32_t>(orientation), little);
  put16(tiff, 0, little);            // padding of the 4-byte value field
  put32(tiff, 0, little);            // no next IFD
  return tiff;
}

// `jpeg` with an APP1 Exif segment holding `tiff` inserted right after SOI.
Bytes with_exif_segment(const Bytes& jpeg, const Bytes& tiff) {
  Bytes segment = {0xFF, 0xE1};
  put16(segment, static_cast<std::uint32_t>(2 + 6 + tiff.size()), false);
  segment.insert(segment.end(), {'E', 'x', 'i', 'f', 0, 0});
  segment.insert(segment.end(), tiff.begin(), tiff.end());
  Bytes out = jpeg;
  out.insert(out.begin() + 2, segment.begin(), segment.end());
  return out;
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {  // PNG's CRC (ISO 3309)
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// `png` with a chunk inserted right after IHDR (8-byte signature + 25-byte IHDR chunk).
Bytes with_png_chunk(const Bytes& png, const std::string& type, const Bytes& data) {
  Bytes chunk;
  put32(chunk, static_cast<std::uint32_t>(data.size()), false);
  chunk.insert(chunk.end(), type.begin(), type.end());
  chunk.insert(chunk.end(), data.begin(), data.end());
  put32(chunk, crc32(chunk.data() + 4, chunk.size() - 4), false);
  Bytes out = png;
  out.insert(out.begin() + 33, chunk.begin(), chunk.end());
  return out;
}

// A simple (VP8 or VP8L) WebP rewrapped as an extended one: VP8X header, the image chunk, an EXIF chunk.
Bytes webp_with_exif(const Bytes& simple_webp, int width, int height, const Bytes& tiff) {
  Bytes out = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X'};
  put32(out, 10, true);
  out.insert(out.end(), {0x08, 0, 0, 0});  // flags: Exif present
  for (std::uint32_t v : {static_cast<std::uint32_t>(width - 1), static_cast<std::uint32_t>(height - 1)}) {
    out.insert(out.end(), {std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16)});
  }
  out.insert(out.end(), simple_webp.begin() + 12, simple_webp.end());
  out.insert(out.end(), {'E', 'X', 'I', 'F'});
  put32(out, static_cast<std::uint32_t>(tiff.size()), true);
  out.insert(out.end(), tiff.begin(), tiff.end());
  if (tiff.size() % 2) out.push_back(0);
  const auto riff_size = static_cast<std::uint32_t>(out.size() - 8);
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(riff_size >> (8 * i));
  return out;
}

cv::Mat upright_reference(const cv::Mat& stored, int orientation) {
  // Written independently of image.cpp, from the Exif 2.32 description of each value.
  cv::Mat out = stored.clone();
  if (orientation == 2) cv::flip(stored, out, 1);
  if (orientation == 3) cv::flip(stored, out, -1);
  if (orientation == 4) cv::flip(stored, out, 0);
  if (orientation == 5) out = stored.t();
  if (orientation == 6) cv::flip(stored.t(), out, 1);
  if (orientation == 7) cv::flip(stored.t(), out, -1);
  if (orientation == 8) cv::flip(stored.t(), out, 0);
  return out;
}

#ifdef FACESEARCH_HAVE_LIBHEIF

// --- HEIF files made with libheif's encoders ------------------------------------------------------

// Mean absolute difference per channel, the largest of the three: for comparing lossy decodes.
double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar mean = cv::mean(diff);
  return std::max({mean[0], mean[1], mean[2]});
}

struct HeifEncoding {
  heif_compression_format format = heif_compression_HEVC;
  int quality = 90;
  int orientation = 1;  // EXIF values 1..8, written as irot/imir boxes
  Bytes exif;           // a TIFF structure written as the image's Exif item; none when empty
  bool coarse = false;  // x265's largest coding blocks only: faster still, for very large flat images
};

void check_heif(const heif_error& error, const std::string& what) {
  if (error.code != heif_error_Ok) throw std::runtime_error(what + ": " + error.message);
}

// `image` (8-bit BGR, or BGRA for an alpha plane) as a HEIF file, the way a phone writes one.
// nullopt when this libheif has no encoder for the format; any other failure throws (fails the test).
std::optional<Bytes> encode_heif(const cv::Mat& image, const HeifEncoding& how = {}) {
  // heif_init/heif_deinit are reference-counted: this reference keeps the codecs loaded while encoding.
  struct LibheifReference {
    LibheifReference() { heif_init(nullptr); }
    ~LibheifReference() { heif_deinit(); }
  } library;
  if (!heif_have_encoder_for_format(how.format)) return std::nullopt;

  const std::unique_ptr<heif_context, void (*)(heif_context*)> context(heif_context_alloc(), &heif_context_free);
  heif_encoder* raw_encoder = nullptr;
  check_heif(heif_context_get_encoder_for_format(context.get(), how.format, &raw_encoder), "get encoder");
  const std::unique_ptr<heif_encoder, void (*)(heif_encoder*)> encoder(raw_encoder, &heif_encoder_release);
  check_heif(heif_encoder_set_lossy_quality(encoder.get(), how.quality), "set quality");
  // Speed only, so best effort: encoders other than x265 may not know these, and are just slower.
  heif_encoder_set_parameter(encoder.get(), "preset", "ultrafast");
  if (how.coarse) {
    heif_encoder_set_parameter(encoder.get(), "x265:ctu", "64");
    heif_encoder_set_parameter(encoder.get(), "x265:min-cu-size", "32");
  }

  const bool alpha = image.channels() == 4;
  heif_image* raw_image = nullptr;
  check_heif(heif_image_create(image.cols, image.rows, heif_colorspace_RGB,
                               alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, &raw_image),
             "create image");
  const std::unique_ptr<heif_image, void (*)(const heif_image*)> pixels(raw_image, &heif_image_release);
  check_heif(heif_image_add_plane(pixels.get(), heif_channel_interleaved, image.cols, image.rows, 8), "add plane");
  int stride = 0;
  std::uint8_t* plane = heif_image_get_plane(pixels.get(), heif_channel_interleaved, &stride);
  cv::Mat rgb(image.rows, image.cols, alpha ? CV_8UC4 : CV_8UC3, plane, static_cast<std::size_t>(stride));
  cv::cvtColor(image, rgb, alpha ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGR2RGB);

  const std::unique_ptr<heif_encoding_options, void (*)(heif_encoding_options*)> options(
      heif_encoding_options_alloc(), &heif_encoding_options_free);
  options->image_orientation = static_cast<heif_orientation>(how.orientation);
  heif_image_handle* raw_handle = nullptr;
  check_heif(heif_context_encode_image(context.get(), pixels.get(), encoder.get(), options.get(), &raw_handle),
             "encode");
  const std::unique_ptr<heif_image_handle, void (*)(const heif_image_handle*)> handle(raw_handle,
                                                                                     &heif_image_handle_release);
  if (!how.exif.empty()) {
    check_heif(heif_context_add_exif_metadata(context.get(), handle.get(), how.exif.data(),
                                              static_cast<int>(how.exif.size())),
               "add Exif");
  }

  Bytes out;
  heif_writer writer{1, [](heif_context*, const void* data, std::size_t size, void* user) {
                       auto* bytes = static_cast<Bytes*>(user);
                       bytes->insert(bytes->end(), static_cast<const std::uint8_t*>(data),
                                     static_cast<const std::uint8_t*>(data) + size);
                       return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
                     }};
  check_heif(heif_context_write(context.get(), &writer, &out), "write");
  return out;
}

// Debian's libheif1 depends on its HEVC (x265) and AV1 (aom) encoders, which tools/setup.sh installs.
std::string no_encoder(const char* codec) {
  return std::string("libheif ") + heif_get_version() + " has no " + codec + " encoder to make the test file";
}

#endif  // FACESEARCH_HAVE_LIBHEIF

// --- probe_image ---------------------------------------------------------------------------------

TEST(ProbeImage, RealFilesGiveFormatSizeOrientationAndAlpha) {
  struct Case {
    const char* file;
    const char* format;
    int width, height, orientation;
    bool alpha;
  };
  const Case cases[] = {
      {"exif_orientation6_obama.jpg", "jpeg", 1137, 910, 6, false},
      {"exif_orientation8_obama2.jpg", "jpeg", 1200, 626, 8, false},  // big-endian Exif
      {"large_8000x6000_mark_img14.jpg", "jpeg", 8000, 6000, 1, false},
      {"progressive_mark_img13.jpg", "jpeg", 800, 533, 1, false},     // SOF2
      {"cmyk_elon_img18.jpg", "jpeg", 600, 600, 1, false},
      {"grayscale_angelina_img11.jpg", "jpeg", 600, 800, 1, false},
      {"truncated_obama2.jpg", "jpeg", 626, 1200, 1, false},
      {"tiny_16x16_angelina_img5.jpg", "jpeg", 16, 16, 1, false},
      {"rgba_alpha_alex_lacamoire.png", "png", 437, 600, 1, true},
      {"rgb16bit_jennifer_img12.png", "png", 560, 415, 1, false},
      {"png_bytes_named_amy1.jpg", "png", 150, 150, 1, false},
      {"text_file_named.png", "", 0, 0, 1, false},
      {"zero_bytes.jpg", "", 0, 0, 1, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const ImageInfo info = probe_image(read_bytes(bad_file(c.file)));
    EXPECT_EQ(info.format, c.format);
    EXPECT_EQ(info.width, c.width);
    EXPECT_EQ(info.height, c.height);
    EXPECT_EQ(info.exif_orientation, c.orientation);
    EXPECT_EQ(info.has_alpha, c.alpha);
  }
}

TEST(ProbeImage, EveryPrefixOfEveryBadFileIsSafe) {
  // Truncated headers must end the parse early, never read past the end (run under ASan to be sure).
  for (const auto& entry : std::filesystem::directory_iterator(faces_dir() / "bad")) {
    const Bytes bytes = read_bytes(entry.path());
    const std::size_t limit = std::min<std::size_t>(bytes.size(), 8192);
    for (std::size_t n = 0; n <= limit; ++n) {
      // A copy of exactly n bytes, so ASan would catch a read past the end.
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      const ImageInfo info = probe_image(prefix);
      EXPECT_GE(info.width, 0);
      EXPECT_GE(info.height, 0);
      EXPECT_TRUE(info.exif_orientation >= 1 && info.exif_orientation <= 8);
    }
  }
}

TEST(ProbeImage, GarbageAndMutatedHeadersAreSafe) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  EXPECT_EQ(probe_image({}).format, "");
  for (int i = 0; i < 2000; ++i) {  // random bytes of random length
    Bytes garbage(static_cast<std::size_t>(i % 97));
    for (auto& b : garbage) b = static_cast<std::uint8_t>(byte(rng));
    (void)probe_image(garbage);
  }
  // Real headers with random bytes overwritten: lengths, offsets and counts become nonsense.
  for (const char* file : {"exif_orientation6_obama.jpg", "exif_orientation8_obama2.jpg", "rgba_alpha_alex_lacamoire.png"}) {
    const Bytes original = read_bytes(bad_file(file));
    const Bytes head(original.begin(), original.begin() + 4096);
    std::uniform_int_distribution<std::size_t> position(0, head.size() - 1);
    for (int i = 0; i < 3000; ++i) {
      Bytes mutated = head;
      for (int k = 0; k < 4; ++k) mutated[position(rng)] = static_cast<std::uint8_t>(byte(rng));
      const ImageInfo info = probe_image(mutated);
      EXPECT_TRUE(info.exif_orientation >= 1 && info.exif_orientation <= 8);
    }
  }
}

TEST(ProbeImage, PlainTextIsNotAnImage) {
  EXPECT_EQ(probe_image(to_bytes("hello, this is not a picture\n")).format, "");
  EXPECT_EQ(probe_image(to_bytes("BMW is a car brand, not a bitmap")).format, "");  // "BM" alone is not enough
  EXPECT_EQ(probe_image(to_bytes("P7 is not a Netpbm type we read")).format, "");
  Bytes mp4 = {0, 0, 0, 24};
  for (char c : std::string("ftypisom\0\0\0\0isommp42", 20)) mp4.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(probe_image(mp4).format, "");  // an ftyp box, but a video brand
}

TEST(ProbeImage, JpegExifOrientationInBothByteOrders) {
  const Bytes jpeg = encode(".jpg", gradient_bgr(40, 30));
  for (bool little : {true, false}) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      SCOPED_TRACE(std::string(little ? "II " : "MM ") + std::to_string(orientation));
      const ImageInfo info = probe_image(with_exif_segment(jpeg, tiff_with_orientation(orientation, little)));
      EXPECT_EQ(info.format, "jpeg");
      EXPECT_EQ(info.width, 40);  // as stored
      EXPECT_EQ(info.height, 30);
      EXPECT_EQ(info.exif_orientation, orientation);
    }
  }
}

TEST(ProbeImage, BrokenExifFallsBackToOrientation1) {
  const Bytes jpeg = encode(".jpg", gradient_bgr(40, 30));
  Bytes out_of_range = tiff_with_orientation(9, true);
  EXPECT_EQ(probe_image(with_exif_segment(jpeg, out_of_range)).exif_orientation, 1);
  Bytes bad_ifd_offset = tiff_with_orientation(6, true);
  bad_ifd_offset[4] = 0xF0;  // IFD0 offset far past the block
  EXPECT_EQ(probe_image(with_exif_segment(jpeg, bad_ifd_offset)).exif_orientation, 1);
  Bytes huge_count = tiff_with_orientation(6, false);
  huge_count[8] = 0xFF;  // 65000+ entries claimed, one present: the one present is still read
  huge_count[9] = 0xFF;
  EXPECT_EQ(probe_image(with_exif_segment(jpeg, huge_count)).exif_orientation, 6);
  Bytes not_tiff = tiff_with_orientation(6, true);
  not_tiff[0] = 'X';
  const ImageInfo info = probe_image(with_exif_segment(jpeg, not_tiff));
  EXPECT_EQ(info.exif_orientation, 1);
  EXPECT_EQ(info.width, 40);  // the rest of the walk is unaffected
}

TEST(ProbeImage, PngAlphaFromColourTypeOrTrns) {
  EXPECT_FALSE(probe_image(encode(".png", gradient_bgr(20, 10))).has_alpha);
  cv::Mat bgra;
  cv::cvtColor(gradient_bgr(20, 10), bgra, cv::COLOR_BGR2BGRA);
  const ImageInfo rgba = probe_image(encode(".png", bgra));
  EXPECT_TRUE(rgba.has_alpha);
  EXPECT_EQ(rgba.width, 20);
  EXPECT_EQ(rgba.height, 10);
  const Bytes trns = with_png_chunk(encode(".png", gradient_bgr(20, 10)), "tRNS", {0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(probe_image(trns).has_alpha);
}

TEST(ProbeImage, OtherFormats) {
  const cv::Mat image = gradient_bgr(37, 21);
  struct Case {
    const char* ext;
    const char* format;
    std::vector<int> params;
  };
  const Case cases[] = {
      {".webp", "webp", {cv::IMWRITE_WEBP_QUALITY, 80}},   // lossy: VP8
      {".webp", "webp", {cv::IMWRITE_WEBP_QUALITY, 101}},  // lossless: VP8L
      {".bmp", "bmp", {}},
      {".tiff", "tiff", {}},
      {".ppm", "pnm", {}},
      {".ppm", "pnm", {cv::IMWRITE_PXM_BINARY, 0}},  // ASCII P3
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.ext) + " " + std::to_string(c.params.empty() ? 0 : c.params[1]));
    const ImageInfo info = probe_image(encode(c.ext, image, c.params));
    EXPECT_EQ(info.format, c.format);
    EXPECT_EQ(info.width, 37);
    EXPECT_EQ(info.height, 21);
  }
  EXPECT_EQ(probe_image(to_bytes("P2\n# a comment\n 12 7\n255\n")).width, 12);

  Bytes gif = to_bytes("GIF89a");
  put16(gif, 320, true);
  put16(gif, 200, true);
  const ImageInfo gif_info = probe_image(gif);
  EXPECT_EQ(gif_info.format, "gif");
  EXPECT_EQ(gif_info.width, 320);
  EXPECT_EQ(gif_info.height, 200);

  Bytes heic = {0, 0, 0, 24};
  for (char c : std::string("ftypheic\0\0\0\0mif1heic", 20)) heic.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(probe_image(heic).format, "heic");
  Bytes compatible_only = {0, 0, 0, 24};  // major brand unknown, HEIF brand among the compatible ones
  for (char c : std::string("ftypxxxx\0\0\0\0isomavif", 20)) compatible_only.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(probe_image(compatible_only).format, "heic");
}

// --- decode_image: the files in bad/ ---------------------------------------------------------------

TEST(DecodeImage, ZeroBytesIsACleanError) {
  expect_error([] { decode_image_file(bad_file("zero_bytes.jpg")); }, ErrorCode::kDecode,
               {"zero_bytes.jpg", "empty file (0 bytes)"});
  expect_error([] { decode_image({}, "memory.jpg"); }, ErrorCode::kDecode, {"memory.jpg: empty file (0 bytes)"});
}

TEST(DecodeImage, TextFileNamedPngIsNotAnImage) {
  expect_error([] { decode_image_file(bad_file("text_file_named.png")); }, ErrorCode::kDecode,
               {"text_file_named.png: not an image (unrecognised data)"});
}

TEST(DecodeImage, TruncatedJpegDecodesPartiallyWithWarning) {
  const DecodedImage image = decode_image_file(bad_file("truncated_obama2.jpg"));
  EXPECT_EQ(image.format, "jpeg");
  EXPECT_EQ(image.width, 626);
  EXPECT_EQ(image.height, 1200);
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  ASSERT_EQ(image.bgr.size(), cv::Size(626, 1200));
  EXPECT_EQ(image.warnings, std::vector<std::string>{"truncated JPEG data: decoded partially"});
  // The file is the first 45% of people/obama/fr_obama2.jpg: the top rows match the complete photo,
  // the rows whose data is missing are flat grey (OpenCV alone would smear the last row down).
  const DecodedImage complete = decode_image_file(faces_dir() / "people" / "obama" / "fr_obama2.jpg");
  EXPECT_TRUE(complete.warnings.empty());
  const cv::Rect top(0, 0, 626, 300);
  EXPECT_TRUE(same_pixels(image.bgr(top), complete.bgr(top)));
  cv::Scalar mean, stddev;
  cv::meanStdDev(image.bgr(cv::Rect(0, 800, 626, 400)), mean, stddev);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean[c], 128.0, 1.0) << "channel " << c;
    EXPECT_LT(stddev[c], 1.0) << "channel " << c;
  }
}

TEST(DecodeImage, RgbaPngIsCompositedOverWhite) {
  const DecodedImage image = decode_image_file(bad_file("rgba_alpha_alex_lacamoire.png"));
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  ASSERT_EQ(image.bgr.size(), cv::Size(437, 600));
  const cv::Vec3b white(255, 255, 255);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(0, 0), white);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(0, 436), white);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(599, 0), white);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(599, 436), white);
  // Where the face is opaque the photo's own colours are kept.
  const cv::Mat raw = cv::imread(bad_file("rgba_alpha_alex_lacamoire.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(raw.type(), CV_8UC4);
  const cv::Point centre(218, 300);
  ASSERT_EQ(raw.at<cv::Vec4b>(centre)[3], 255);
  const cv::Vec4b raw_centre = raw.at<cv::Vec4b>(centre);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(centre), cv::Vec3b(raw_centre[0], raw_centre[1], raw_centre[2]));
}

TEST(DecodeImage, GrayscaleJpegBecomesThreeEqualChannels) {
  const DecodedImage image = decode_image_file(bad_file("grayscale_angelina_img11.jpg"));
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  EXPECT_EQ(image.bgr.size(), cv::Size(600, 800));
  std::vector<cv::Mat> channels;
  cv::split(image.bgr, channels);
  EXPECT_TRUE(same_pixels(channels[0], channels[1]));
  EXPECT_TRUE(same_pixels(channels[1], channels[2]));
}

TEST(DecodeImage, SixteenBitPngBecomesEightBitWithTheSameLook) {
  const DecodedImage image = decode_image_file(bad_file("rgb16bit_jennifer_img12.png"));
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  ASSERT_EQ(image.bgr.size(), cv::Size(560, 415));
  double min_value = 0, max_value = 0;
  cv::minMaxLoc(image.bgr.reshape(1), &min_value, &max_value);
  EXPECT_GT(max_value, 200);  // full range kept, not squashed into the bottom bits
  // Made from people/Jennifer/deepface_img12.jpg: the same picture, colour for colour.
  const DecodedImage source = decode_image_file(faces_dir() / "people" / "Jennifer" / "deepface_img12.jpg");
  ASSERT_EQ(source.bgr.size(), image.bgr.size());
  cv::Mat diff;
  cv::absdiff(image.bgr, source.bgr, diff);
  const cv::Scalar mean_diff = cv::mean(diff);
  for (int c = 0; c < 3; ++c) EXPECT_LT(mean_diff[c], 2.0) << "channel " << c;
}

TEST(DecodeImage, ExifOrientation6IsUpright) {
  const Bytes bytes = read_bytes(bad_file("exif_orientation6_obama.jpg"));
  const DecodedImage image = decode_image(bytes, "exif6.jpg");
  EXPECT_EQ(image.width, 910);
  EXPECT_EQ(image.height, 1137);
  EXPECT_EQ(image.scale, 1.f);
  EXPECT_EQ(image.bgr.size(), cv::Size(910, 1137));
  // OpenCV applies JPEG EXIF orientation itself for IMREAD_COLOR: ours must agree exactly.
  EXPECT_TRUE(same_pixels(image.bgr, cv::imdecode(bytes, cv::IMREAD_COLOR)));
}

TEST(DecodeImage, ExifOrientation8IsUprightAndMatchesTheOriginal) {
  const Bytes bytes = read_bytes(bad_file("exif_orientation8_obama2.jpg"));
  const DecodedImage image = decode_image(bytes, "exif8.jpg");
  EXPECT_EQ(image.width, 626);
  EXPECT_EQ(image.height, 1200);
  EXPECT_EQ(image.bgr.size(), cv::Size(626, 1200));
  EXPECT_TRUE(same_pixels(image.bgr, cv::imdecode(bytes, cv::IMREAD_COLOR)));
  // Independent of OpenCV: the file was made by rotating people/obama/fr_obama2.jpg, which is upright.
  const DecodedImage original = decode_image_file(faces_dir() / "people" / "obama" / "fr_obama2.jpg");
  ASSERT_EQ(original.bgr.size(), image.bgr.size());
  cv::Mat diff;
  cv::absdiff(image.bgr, original.bgr, diff);
  EXPECT_LT(cv::mean(diff)[0], 8.0);  // JPEG re-encoding only; a wrong rotation gives far more
}

TEST(DecodeImage, LargeJpegIsDecodedReducedButReportsFullSize) {
  const DecodedImage image = decode_image_file(bad_file("large_8000x6000_mark_img14.jpg"));
  EXPECT_EQ(image.width, 8000);
  EXPECT_EQ(image.height, 6000);
  // The default keeps the longer side at least 2000 px: a quarter, 2000x1500.
  EXPECT_EQ(image.scale, 4.f);
  ASSERT_EQ(image.bgr.size(), cv::Size(2000, 1500));
  // The pasted 600x400 photo at (5200, 1400) full-resolution is at (1300, 350) in decoded pixels.
  cv::Scalar mean, photo_stddev, canvas_stddev;
  cv::meanStdDev(image.bgr(cv::Rect(5200 / 4, 1400 / 4, 600 / 4, 400 / 4)), mean, photo_stddev);
  cv::meanStdDev(image.bgr(cv::Rect(250, 250, 500, 500)), mean, canvas_stddev);
  EXPECT_GT(photo_stddev[0], 20.0);
  EXPECT_LT(canvas_stddev[0], 3.0);

  DecodeOptions smaller;
  smaller.min_long_side_px = 1000;  // 8000 / 8 = 1000 is still enough
  const DecodedImage eighth = decode_image_file(bad_file("large_8000x6000_mark_img14.jpg"), smaller);
  EXPECT_EQ(eighth.scale, 8.f);
  EXPECT_EQ(eighth.bgr.size(), cv::Size(1000, 750));
  EXPECT_EQ(eighth.width, 8000);
  EXPECT_EQ(eighth.height, 6000);
}

TEST(DecodeImage, TinyJpegDecodes) {
  const DecodedImage image = decode_image_file(bad_file("tiny_16x16_angelina_img5.jpg"));
  EXPECT_EQ(image.bgr.type(), CV_8UC3);
  EXPECT_EQ(image.bgr.size(), cv::Size(16, 16));
  EXPECT_EQ(image.scale, 1.f);
}

TEST(DecodeImage, CmykJpegHasTheColoursOfTheRgbOriginal) {
  const DecodedImage cmyk = decode_image_file(bad_file("cmyk_elon_img18.jpg"));
  ASSERT_EQ(cmyk.bgr.type(), CV_8UC3);
  ASSERT_EQ(cmyk.bgr.size(), cv::Size(600, 600));
  // Made from people/Elon/deepface_img18.jpg (1200x1200). Inverted or unconverted CMYK would differ
  // by about 100 levels; a correct conversion by about 1.
  const DecodedImage rgb = decode_image_file(faces_dir() / "people" / "Elon" / "deepface_img18.jpg");
  cv::Mat reference;
  cv::resize(rgb.bgr, reference, cmyk.bgr.size(), 0, 0, cv::INTER_AREA);
  cv::Mat diff;
  cv::absdiff(cmyk.bgr, reference, diff);
  const cv::Scalar mean_diff = cv::mean(diff);
  for (int c = 0; c < 3; ++c) EXPECT_LT(mean_diff[c], 6.0) << "channel " << c;
}

TEST(DecodeImage, PngNamedJpgDecodesByContent) {
  const DecodedImage image = decode_image_file(bad_file("png_bytes_named_amy1.jpg"));
  EXPECT_EQ(image.format, "png");
  EXPECT_EQ(image.bgr.type(), CV_8UC3);
  EXPECT_EQ(image.bgr.size(), cv::Size(150, 150));
}

TEST(DecodeImage, ProgressiveJpegDecodes) {
  const DecodedImage image = decode_image_file(bad_file("progressive_mark_img13.jpg"));
  EXPECT_EQ(image.format, "jpeg");
  EXPECT_EQ(image.bgr.size(), cv::Size(800, 533));
  EXPECT_TRUE(image.warnings.empty());
  cv::Scalar mean, stddev;
  cv::meanStdDev(image.bgr, mean, stddev);
  EXPECT_GT(stddev[0], 20.0);  // a real picture, not a flat fill
}

// --- decode_image: synthetic inputs --------------------------------------------------------------

TEST(DecodeImage, AllEightJpegOrientationsMatchOpenCV) {
  const Bytes jpeg = encode(".jpg", gradient_bgr(40, 30), {cv::IMWRITE_JPEG_QUALITY, 100});
  for (bool little : {true, false}) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      SCOPED_TRACE(std::string(little ? "II " : "MM ") + std::to_string(orientation));
      const Bytes bytes = with_exif_segment(jpeg, tiff_with_orientation(orientation, little));
      const DecodedImage image = decode_image(bytes, "synthetic.jpg");
      const bool swapped = orientation >= 5;
      EXPECT_EQ(image.width, swapped ? 30 : 40);
      EXPECT_EQ(image.height, swapped ? 40 : 30);
      EXPECT_TRUE(same_pixels(image.bgr, cv::imdecode(bytes, cv::IMREAD_COLOR)));
      const cv::Mat stored = cv::imdecode(jpeg, cv::IMREAD_COLOR);
      EXPECT_TRUE(same_pixels(image.bgr, upright_reference(stored, orientation)));
    }
  }
}

TEST(DecodeImage, ReducedJpegKeepsOrientationAndExactFullSize) {
  // 101x61 stored, Orientation 6: upright 61x101. Factor 4 keeps the long side >= 25 (ceil(101/4) = 26).
  const Bytes jpeg = encode(".jpg", gradient_bgr(101, 61));
  const Bytes bytes = with_exif_segment(jpeg, tiff_with_orientation(6, true));
  DecodeOptions options;
  options.min_long_side_px = 25;
  const DecodedImage image = decode_image(bytes, "reduced.jpg", options);
  EXPECT_EQ(image.scale, 4.f);
  EXPECT_EQ(image.width, 61);
  EXPECT_EQ(image.height, 101);
  EXPECT_EQ(image.bgr.size(), cv::Size(16, 26));  // libjpeg rounds up: ceil(61/4) x ceil(101/4)
  EXPECT_TRUE(same_pixels(image.bgr, cv::imdecode(bytes, cv::IMREAD_REDUCED_COLOR_4)));

  options.min_long_side_px = 0;  // never reduce
  const DecodedImage full = decode_image(bytes, "full.jpg", options);
  EXPECT_EQ(full.scale, 1.f);
  EXPECT_EQ(full.bgr.size(), cv::Size(61, 101));
}

TEST(DecodeImage, ReductionFactorIsTheLargestThatKeepsTheMinimum) {
  const Bytes jpeg = encode(".jpg", cv::Mat(8, 4101, CV_8UC3, cv::Scalar(90, 120, 150)));
  const DecodedImage image = decode_image(jpeg, "wide.jpg");  // default 2048: ceil(4101/2) = 2051
  EXPECT_EQ(image.scale, 2.f);
  EXPECT_EQ(image.width, 4101);
  EXPECT_EQ(image.height, 8);
  EXPECT_EQ(image.bgr.cols, 2051);
  // Other formats are never reduced (OpenCV would decode them fully and resize anyway).
  const DecodedImage png = decode_image(encode(".png", cv::Mat(8, 4101, CV_8UC3, cv::Scalar::all(7))), "wide.png");
  EXPECT_EQ(png.scale, 1.f);
  EXPECT_EQ(png.bgr.cols, 4101);
}

TEST(DecodeImage, PngExifOrientationIsAppliedWithAndWithoutAlpha) {
  const cv::Mat stored = gradient_bgr(24, 16);
  const Bytes rgb = with_png_chunk(encode(".png", stored), "eXIf", tiff_with_orientation(8, false));
  const DecodedImage image = decode_image(rgb, "rgb.png");
  EXPECT_EQ(image.width, 16);
  EXPECT_EQ(image.height, 24);
  EXPECT_TRUE(same_pixels(image.bgr, upright_reference(stored, 8)));

  cv::Mat bgra;  // opaque alpha: decoded through the IMREAD_UNCHANGED path, where OpenCV never rotates
  cv::cvtColor(stored, bgra, cv::COLOR_BGR2BGRA);
  const Bytes rgba = with_png_chunk(encode(".png", bgra), "eXIf", tiff_with_orientation(6, true));
  const DecodedImage with_alpha = decode_image(rgba, "rgba.png");
  EXPECT_TRUE(same_pixels(with_alpha.bgr, upright_reference(stored, 6)));
}

TEST(DecodeImage, WebpExifOrientationIsApplied) {
  const cv::Mat stored = gradient_bgr(24, 16);
  const Bytes simple = encode(".webp", stored, {cv::IMWRITE_WEBP_QUALITY, 101});  // lossless
  const Bytes extended = webp_with_exif(simple, 24, 16, tiff_with_orientation(3, true));
  const ImageInfo info = probe_image(extended);
  EXPECT_EQ(info.format, "webp");
  EXPECT_EQ(info.exif_orientation, 3);
  const DecodedImage image = decode_image(extended, "extended.webp");
  EXPECT_TRUE(same_pixels(image.bgr, upright_reference(stored, 3)));
  EXPECT_TRUE(same_pixels(decode_image(simple, "simple.webp").bgr, stored));
}

TEST(DecodeImage, AlphaIsCompositedPerPixel) {
  cv::Mat bgra(2, 3, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = {0, 0, 255, 0};      // transparent red -> background
  bgra.at<cv::Vec4b>(0, 1) = {0, 0, 255, 255};    // opaque red stays red
  bgra.at<cv::Vec4b>(0, 2) = {0, 0, 0, 128};      // half-transparent black -> mid grey
  bgra.at<cv::Vec4b>(1, 0) = {10, 20, 30, 255};
  bgra.at<cv::Vec4b>(1, 1) = {200, 100, 50, 0};
  bgra.at<cv::Vec4b>(1, 2) = {255, 255, 255, 255};
  const DecodedImage image = decode_image(encode(".png", bgra), "alpha.png");
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(0, 2), cv::Vec3b(127, 127, 127));
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(1, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(image.bgr.at<cv::Vec3b>(1, 1), cv::Vec3b(255, 255, 255));

  cv::Mat bgra16;  // 16-bit RGBA: scaled to 8 bits before compositing
  bgra.convertTo(bgra16, CV_16U, 257.0);
  const DecodedImage deep = decode_image(encode(".png", bgra16), "alpha16.png");
  ASSERT_EQ(deep.bgr.type(), CV_8UC3);
  EXPECT_TRUE(same_pixels(deep.bgr, image.bgr));

  const Bytes trns = with_png_chunk(encode(".png", cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3))), "tRNS", {0, 3, 0, 2, 0, 1});
  const DecodedImage keyed = decode_image(trns, "trns.png");  // RGB (3,2,1) is the transparent colour
  EXPECT_EQ(keyed.bgr.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
}

TEST(DecodeImage, OtherFormatsDecodeToBgr) {
  const cv::Mat stored = gradient_bgr(37, 21);
  for (const char* ext : {".bmp", ".tiff", ".ppm", ".pgm"}) {
    SCOPED_TRACE(ext);
    cv::Mat source = stored;
    if (std::string(ext) == ".pgm") cv::cvtColor(stored, source, cv::COLOR_BGR2GRAY);
    const DecodedImage image = decode_image(encode(ext, source), ext);
    ASSERT_EQ(image.bgr.type(), CV_8UC3);
    cv::Mat expected = stored;
    if (source.channels() == 1) cv::cvtColor(source, expected, cv::COLOR_GRAY2BGR);
    EXPECT_TRUE(same_pixels(image.bgr, expected));
  }
}

TEST(DecodeImage, UnsupportedAndCorruptDataGiveClearErrors) {
  Bytes heic = {0, 0, 0, 24};
  for (char c : std::string("ftypheic\0\0\0\0mif1heic", 20)) heic.push_back(static_cast<std::uint8_t>(c));
#ifdef FACESEARCH_HAVE_LIBHEIF  // a bare ftyp box: no image in it
  expect_error([&] { decode_image(heic, "phone.HEIC"); }, ErrorCode::kDecode,
               {"phone.HEIC: corrupt or unsupported HEIC data ("});
#else
  expect_error([&] { decode_image(heic, "phone.HEIC"); }, ErrorCode::kDecode,
               {"phone.HEIC: HEIC images are not supported by this build"});
#endif

  Bytes gif = to_bytes("GIF89a");
  gif.insert(gif.end(), {1, 0, 1, 0, 0, 0, 0, ';'});
  expect_error([&] { decode_image(gif, "anim.gif"); }, ErrorCode::kDecode, {"anim.gif: GIF images are not supported"});

  Bytes png = read_bytes(bad_file("rgba_alpha_alex_lacamoire.png"));
  png.resize(png.size() / 2);
  expect_error([&] { decode_image(png, "half.png"); }, ErrorCode::kDecode, {"half.png: corrupt or unsupported png data"});

  const Bytes jpeg = read_bytes(faces_dir() / "people" / "obama" / "fr_obama2.jpg");
  const Bytes header_only(jpeg.begin(), jpeg.begin() + 1000);  // cut inside the marker segments
  expect_error([&] { decode_image(header_only, "cut.jpg"); }, ErrorCode::kDecode,
               {"cut.jpg: corrupt or unsupported jpeg data", "truncated"});
}

TEST(DecodeImage, PrefixesOfRealFilesDecodeOrThrowOurError) {
  // Whatever OpenCV makes of a cut-off file, callers see either pixels or facesearch::Error.
  for (const char* file : {"tiny_16x16_angelina_img5.jpg", "png_bytes_named_amy1.jpg", "progressive_mark_img13.jpg"}) {
    const Bytes bytes = read_bytes(bad_file(file));
    for (std::size_t n = 0; n < bytes.size(); n += std::max<std::size_t>(1, bytes.size() / 40)) {
      SCOPED_TRACE(std::string(file) + " " + std::to_string(n));
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      try {
        const DecodedImage image = decode_image(prefix, file);
        EXPECT_EQ(image.bgr.type(), CV_8UC3);
        EXPECT_FALSE(image.bgr.empty());
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kDecode);
      }
    }
  }
}

// --- JPEG through TurboJPEG: the same pixels as imdecode, nothing on stderr -------------------------

// What decode_image does to a JPEG cut off before its end marker (see image.cpp): append an EOI.
Bytes with_eoi(Bytes jpeg) {
  jpeg.insert(jpeg.end(), {0xFF, 0xD9});
  return jpeg;
}

int reduced_color_flags(int factor) {
  switch (factor) {
    case 2: return cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION;
    case 4: return cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION;
    case 8: return cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION;
    default: return cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  }
}

// Everything written to file descriptor 2 (where libjpeg's default output_message prints) while it
// lives. A temporary file rather than a pipe, so that a long message cannot block the writer.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()) {
    if (!file_) throw std::runtime_error("tmpfile failed");
    std::fflush(stderr);
    saved_fd_ = dup(STDERR_FILENO);
    if (saved_fd_ < 0 || dup2(fileno(file_), STDERR_FILENO) < 0) throw std::runtime_error("dup2 failed");
  }
  ~StderrCapture() { restore(); std::fclose(file_); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Puts fd 2 back and returns what was written to it.
  std::string finish() {
    restore();
    std::string text;
    std::rewind(file_);
    for (int c; (c = std::fgetc(file_)) != EOF;) text.push_back(static_cast<char>(c));
    return text;
  }

 private:
  void restore() {
    if (saved_fd_ < 0) return;
    std::fflush(stderr);
    dup2(saved_fd_, STDERR_FILENO);
    close(saved_fd_);
    saved_fd_ = -1;
  }
  std::FILE* file_;
  int saved_fd_ = -1;
};

TEST(DecodeJpegTurbo, SamePixelsAsImdecodeAtEveryReduction) {
  // Colour (626x1200: odd reduced sizes), grey (two), progressive, an EXIF-rotated one (compared as
  // stored), a tiny one, an 8000x6000 one, and the truncated one as decode_image passes it on.
  struct Case { std::filesystem::path path; bool truncated; };
  const std::vector<Case> cases = {
      {faces_dir() / "people" / "obama" / "fr_obama2.jpg", false},
      {faces_dir() / "people" / "Hugo_Chavez" / "lfw_Hugo_Chavez_0001.jpg", false},
      {bad_file("grayscale_angelina_img11.jpg"), false},
      {bad_file("progressive_mark_img13.jpg"), false},
      {bad_file("exif_orientation6_obama.jpg"), false},
      {bad_file("tiny_16x16_angelina_img5.jpg"), false},
      {bad_file("large_8000x6000_mark_img14.jpg"), false},
      {bad_file("truncated_obama2.jpg"), true},
  };
  for (const Case& c : cases) {
    const Bytes bytes = c.truncated ? with_eoi(read_bytes(c.path)) : read_bytes(c.path);
    for (int factor : {1, 2, 4, 8}) {
      SCOPED_TRACE(c.path.filename().string() + " 1/" + std::to_string(factor));
      const image_detail::TurboJpegResult turbo = image_detail::decode_jpeg_turbo(bytes, factor);
      const cv::Mat reference = cv::imdecode(bytes, reduced_color_flags(factor));
      ASSERT_FALSE(reference.empty());
      ASSERT_FALSE(turbo.bgr.empty()) << turbo.message;
      EXPECT_EQ(turbo.bgr.size(), reference.size());
      EXPECT_TRUE(same_pixels(turbo.bgr, reference));
      EXPECT_EQ(turbo.warned, c.truncated) << turbo.message;
      if (c.truncated) EXPECT_NE(turbo.message.find("premature end of data segment"), std::string::npos) << turbo.message;
    }
  }
}

TEST(DecodeJpegTurbo, GreyJpegGivesThreeEqualChannels) {
  const Bytes bytes = read_bytes(faces_dir() / "people" / "Hugo_Chavez" / "lfw_Hugo_Chavez_0001.jpg");
  const image_detail::TurboJpegResult turbo = image_detail::decode_jpeg_turbo(bytes, 1);
  ASSERT_EQ(turbo.bgr.type(), CV_8UC3);
  std::vector<cv::Mat> channels;
  cv::split(turbo.bgr, channels);
  EXPECT_TRUE(same_pixels(channels[0], channels[1]));
  EXPECT_TRUE(same_pixels(channels[1], channels[2]));
}

TEST(DecodeJpegTurbo, CmykAndBrokenHeadersAreLeftToOpenCV) {
  // OpenCV converts CMYK itself (CmykJpegHasTheColoursOfTheRgbOriginal checks the result).
  EXPECT_TRUE(image_detail::decode_jpeg_turbo(read_bytes(bad_file("cmyk_elon_img18.jpg")), 1).bgr.empty());
  const Bytes jpeg = read_bytes(faces_dir() / "people" / "obama" / "fr_obama2.jpg");
  const image_detail::TurboJpegResult cut = image_detail::decode_jpeg_turbo(Bytes(jpeg.begin(), jpeg.begin() + 100), 1);
  EXPECT_TRUE(cut.bgr.empty());
  EXPECT_FALSE(cut.message.empty());
  EXPECT_TRUE(image_detail::decode_jpeg_turbo(to_bytes("not a jpeg"), 1).bgr.empty());
}

TEST(DecodeJpegTurbo, DamagedScanDataGivesImdecodesPixelsAndAWarning) {
  // Corrupted entropy-coded data in a complete file: a libjpeg warning, not a fatal error.
  Bytes bytes = encode(".jpg", gradient_bgr(160, 120), {cv::IMWRITE_JPEG_QUALITY, 90});
  // Markers FF D0..D7 in the middle of the scan: libjpeg warns about a marker it did not expect.
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 40; i += 8) {
    bytes[i] = 0xFF;
    bytes[i + 1] = 0xD3;
  }
  const image_detail::TurboJpegResult turbo = image_detail::decode_jpeg_turbo(bytes, 1);
  ASSERT_FALSE(turbo.bgr.empty()) << turbo.message;
  EXPECT_TRUE(turbo.warned);
  EXPECT_FALSE(turbo.message.empty());
  EXPECT_TRUE(same_pixels(turbo.bgr, cv::imdecode(bytes, reduced_color_flags(1))));

  StderrCapture capture;
  const DecodedImage image = decode_image(bytes, "damaged.jpg");
  EXPECT_EQ(capture.finish(), "");
  ASSERT_EQ(image.warnings.size(), 1u);
  EXPECT_NE(image.warnings[0].find("damaged JPEG data, decoded anyway (libjpeg: " + turbo.message + ")"),
            std::string::npos) << image.warnings[0];
}

TEST(DecodeJpegTurbo, DecodingEveryBadFileWritesNothingToStderr) {
  // libjpeg's "Corrupt JPEG data: premature end of data segment" for truncated_obama2.jpg used to go
  // straight to stderr, past --quiet; facesearch's own warning is the only report now.
  for (const auto& entry : std::filesystem::directory_iterator(faces_dir() / "bad")) {
    SCOPED_TRACE(entry.path().filename().string());
    StderrCapture capture;
    std::vector<std::string> warnings;
    try {
      warnings = decode_image_file(entry.path()).warnings;
    } catch (const Error&) {  // zero_bytes.jpg, text_file_named.png: errors, checked elsewhere
    }
    EXPECT_EQ(capture.finish(), "");
    if (entry.path().filename().string().starts_with("truncated_")) {
      EXPECT_EQ(warnings, std::vector<std::string>{"truncated JPEG data: decoded partially"});
    }
  }
}

TEST(DecodeJpegTurbo, DecodeImageKeepsImdecodesPixelsWhileThreadsDecodeAtOnce) {
  // One TurboJPEG handle per call: threads decoding at once get what one thread gets.
  const Bytes bytes = read_bytes(faces_dir() / "people" / "obama" / "fr_obama2.jpg");
  DecodeOptions full;
  full.min_long_side_px = 0;
  const cv::Mat reference = cv::imdecode(bytes, reduced_color_flags(1));
  std::vector<cv::Mat> results(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 4; ++round) results[t] = decode_image(bytes, "x.jpg", full).bgr;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const cv::Mat& result : results) EXPECT_TRUE(same_pixels(result, reference));
}

// --- decode_image: HEIF through libheif ------------------------------------------------------------

#ifdef FACESEARCH_HAVE_LIBHEIF

TEST(DecodeHeif, HeicPhotoDecodesCloseToItsSource) {
  const cv::Mat source = decode_image_file(faces_dir() / "people" / "obama" / "fr_obama.jpg").bgr;
  const std::optional<Bytes> heic = encode_heif(source);
  ASSERT_TRUE(heic) << no_encoder("HEVC");
  EXPECT_EQ(probe_image(*heic).format, "heic");

  const DecodedImage image = decode_image(*heic, "phone.heic");
  EXPECT_EQ(image.format, "heic");
  EXPECT_EQ(image.width, 910);
  EXPECT_EQ(image.height, 1137);
  EXPECT_EQ(image.scale, 1.f);
  EXPECT_TRUE(image.warnings.empty());
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  ASSERT_EQ(image.bgr.size(), source.size());
  // x265 at quality 90 differs by under 1 level on average; swapped R and B, or a wrong YCbCr matrix,
  // by several.
  EXPECT_LT(mean_abs_diff(image.bgr, source), 3.0);

  DecodeOptions small;
  small.min_long_side_px = 100;  // HEIF under 40 megapixels is never reduced
  EXPECT_EQ(decode_image(*heic, "phone.heic", small).scale, 1.f);
}

TEST(DecodeHeif, IrotIsAppliedOnceAndTheExifOrientationNotAgain) {
  cv::Mat stored;
  cv::resize(decode_image_file(faces_dir() / "people" / "obama" / "fr_obama.jpg").bgr, stored, cv::Size(240, 300), 0,
             0, cv::INTER_AREA);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    // As a phone writes it: irot/imir boxes and an Exif Orientation tag that say the same.
    const Bytes exif = tiff_with_orientation(orientation, true);
    const std::optional<Bytes> heic = encode_heif(stored, {.orientation = orientation, .exif = exif});
    ASSERT_TRUE(heic) << no_encoder("HEVC");
    ASSERT_NE(std::search(heic->begin(), heic->end(), exif.begin(), exif.end()), heic->end()) << "no Exif item";

    const DecodedImage image = decode_image(*heic, "rotated.heic");
    const cv::Mat expected = upright_reference(stored, orientation);
    EXPECT_EQ(image.width, expected.cols);
    EXPECT_EQ(image.height, expected.rows);
    ASSERT_EQ(image.bgr.size(), expected.size());
    EXPECT_LT(mean_abs_diff(image.bgr, expected), 8.0);  // about 2; any other orientation 50 or more
  }
}

TEST(DecodeHeif, AlphaIsCompositedOverWhite) {
  cv::Mat bgra(48, 64, CV_8UC4, cv::Scalar(20, 40, 230, 0));          // transparent red on the left
  bgra(cv::Rect(32, 0, 32, 48)).setTo(cv::Scalar(200, 120, 30, 255));  // opaque blue on the right
  const std::optional<Bytes> heic = encode_heif(bgra);
  ASSERT_TRUE(heic) << no_encoder("HEVC");
  const DecodedImage image = decode_image(*heic, "cutout.heic");
  ASSERT_EQ(image.bgr.type(), CV_8UC3);
  ASSERT_EQ(image.bgr.size(), cv::Size(64, 48));
  // Away from the edge, where lossy coding of colour and alpha blurs the two halves together.
  const cv::Mat white(40, 20, CV_8UC3, cv::Scalar::all(255));
  const cv::Mat blue(40, 20, CV_8UC3, cv::Scalar(200, 120, 30));
  EXPECT_LT(mean_abs_diff(image.bgr(cv::Rect(4, 4, 20, 40)), white), 6.0);  // the red under alpha 0 would be ~150
  EXPECT_LT(mean_abs_diff(image.bgr(cv::Rect(40, 4, 20, 40)), blue), 6.0);
}

TEST(DecodeHeif, AvifDecodesOrSaysItIsNotSupported) {
  cv::Mat source;
  cv::resize(decode_image_file(faces_dir() / "people" / "obama" / "fr_obama.jpg").bgr, source, cv::Size(240, 300), 0,
             0, cv::INTER_AREA);
  HeifEncoding av1;
  av1.format = heif_compression_AV1;
  const std::optional<Bytes> avif = encode_heif(source, av1);
  ASSERT_TRUE(avif) << no_encoder("AV1");
  EXPECT_EQ(probe_image(*avif).format, "heic");  // the HEIF family
  // Ask libheif only once it is initialised (as the decoder does): before heif_init its plugins, and
  // so its decoder list, may be missing, as when CTest runs this test alone.
  heif_init(nullptr);
  const bool have_av1 = heif_have_decoder_for_format(heif_compression_AV1);
  heif_deinit();
  if (!have_av1) {
    expect_error([&] { decode_image(*avif, "photo.avif"); }, ErrorCode::kDecode,
                 {"photo.avif: AVIF images are not supported by this build"});
    return;
  }
  const DecodedImage image = decode_image(*avif, "photo.avif");
  EXPECT_EQ(image.format, "heic");
  ASSERT_EQ(image.bgr.size(), source.size());
  EXPECT_LT(mean_abs_diff(image.bgr, source), 6.0);  // about 2.5 with libaom at quality 90
}

TEST(DecodeHeif, CutOrDamagedHeicGivesOurError) {
  cv::Mat source;
  cv::resize(decode_image_file(faces_dir() / "people" / "obama" / "fr_obama.jpg").bgr, source, cv::Size(240, 300), 0,
             0, cv::INTER_AREA);
  const std::optional<Bytes> heic = encode_heif(source);
  ASSERT_TRUE(heic) << no_encoder("HEVC");

  const Bytes half(heic->begin(), heic->begin() + static_cast<std::ptrdiff_t>(heic->size() / 2));
  expect_error([&] { decode_image(half, "cut.heic"); }, ErrorCode::kDecode,
               {"cut.heic: corrupt or unsupported HEIC data ("});

  // Whatever libheif makes of a prefix or of damaged bytes, callers see either pixels or facesearch::Error.
  const auto decodes_or_throws_ours = [](const Bytes& bytes) {
    try {
      const DecodedImage image = decode_image(bytes, "damaged.heic");
      EXPECT_EQ(image.bgr.type(), CV_8UC3);
      EXPECT_FALSE(image.bgr.empty());
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDecode);
      EXPECT_NE(std::string(e.what()).find("damaged.heic: "), std::string::npos) << e.what();
    }
  };
  for (std::size_t n = 0; n < heic->size(); n += std::max<std::size_t>(1, heic->size() / 40)) {
    SCOPED_TRACE("prefix " + std::to_string(n));
    decodes_or_throws_ours(Bytes(heic->begin(), heic->begin() + static_cast<std::ptrdiff_t>(n)));
  }
  std::mt19937 random(7);
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Bytes damaged = *heic;
    for (int k = 0; k < 8; ++k) damaged[random() % damaged.size()] = static_cast<std::uint8_t>(random());
    decodes_or_throws_ours(damaged);
  }
}

TEST(DecodeHeif, HugeHeicIsReducedAfterDecodingButReportsFullSize) {
  // 8200 x 5000 = 41 megapixels, over the 40 MP above which HEIF is reduced like a JPEG.
  cv::Mat canvas(5000, 8200, CV_8UC3, cv::Scalar(90, 120, 150));
  canvas(cv::Rect(5200, 1400, 600, 400)).setTo(cv::Scalar(250, 20, 20));
  HeifEncoding flat;
  flat.quality = 50;
  flat.coarse = true;
  const std::optional<Bytes> heic = encode_heif(canvas, flat);
  ASSERT_TRUE(heic) << no_encoder("HEVC");

  const DecodedImage image = decode_image(*heic, "huge.heic");  // default 2048: 8200 / 4 = 2050
  EXPECT_EQ(image.width, 8200);
  EXPECT_EQ(image.height, 5000);
  EXPECT_EQ(image.scale, 4.f);
  ASSERT_EQ(image.bgr.size(), cv::Size(2050, 1250));
  // The block at (5200, 1400) full-resolution is at (1300, 350) in decoded pixels.
  const cv::Mat block(80, 130, CV_8UC3, cv::Scalar(250, 20, 20));
  const cv::Mat background(500, 500, CV_8UC3, cv::Scalar(90, 120, 150));
  EXPECT_LT(mean_abs_diff(image.bgr(cv::Rect(1310, 360, 130, 80)), block), 6.0);
  EXPECT_LT(mean_abs_diff(image.bgr(cv::Rect(100, 100, 500, 500)), background), 3.0);
  // min_long_side_px = 0 (never reduce) takes the same path as for a JPEG: not decoded again here,
  // since each 41-megapixel decode costs seconds.
}

TEST(DecodeHeif, PixelLimitIsCheckedOnTheDeclaredSizeBeforeDecoding) {
  const std::optional<Bytes> heic = encode_heif(cv::Mat(48, 64, CV_8UC3, cv::Scalar(30, 60, 90)));
  ASSERT_TRUE(heic) << no_encoder("HEVC");
  DecodeOptions exact;
  exact.max_pixels = 64 * 48;
  EXPECT_EQ(decode_image(*heic, "small.heic", exact).bgr.size(), cv::Size(64, 48));
  DecodeOptions below;
  below.max_pixels = 64 * 48 - 1;
  expect_error([&] { decode_image(*heic, "small.heic", below); }, ErrorCode::kDecode,
               {"small.heic: 64x48 pixels", "over the limit of"});
}

#endif  // FACESEARCH_HAVE_LIBHEIF

// --- decode_image_file ---------------------------------------------------------------------------

TEST(DecodeImageFile, MissingFileIsNotFound) {
  const auto path = bad_file("does_not_exist.jpg");
  expect_error([&] { decode_image_file(path); }, ErrorCode::kNotFound, {path.string() + ": no such file"});
}

TEST(DecodeImageFile, FolderIsAnInvalidArgument) {
  expect_error([] { decode_image_file(faces_dir() / "bad"); }, ErrorCode::kInvalidArgument, {"bad", "is a folder"});
}

TEST(DecodeImageFile, DecodesTheSameAsFromMemory) {
  const auto path = bad_file("exif_orientation6_obama.jpg");
  const DecodedImage from_file = decode_image_file(path);
  const DecodedImage from_memory = decode_image(read_bytes(path), "x");
  EXPECT_TRUE(same_pixels(from_file.bgr, from_memory.bgr));
  EXPECT_EQ(from_file.width, from_memory.width);
}

// --- has_image_extension ---------------------------------------------------------------------------

TEST(HasImageExtension, PhotoFormatsCaseInsensitive) {
  for (const char* name : {"a.jpg", "a.JPG", "a.jpeg", "a.Jpe", "a.png", "a.webp", "a.bmp", "a.dib", "a.tif", "a.TIFF",
                           "a.heic", "a.HEIF", "a.avif", "a.pgm", "a.ppm", "a.pnm", "dir.d/a.jpg"}) {
    EXPECT_TRUE(has_image_extension(name)) << name;
  }
  for (const char* name : {"a.gif", "a.txt", "a.jpg.txt", "jpg", "a.", "a", ".jpg.swp", "a.mp4", "a.json"}) {
    EXPECT_FALSE(has_image_extension(name)) << name;
  }
}

}  // namespace
}  // namespace facesearch
