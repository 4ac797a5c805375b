// What is on disk is not trusted (issue 10, items 4-6): files that are not regular files or are too
// large are refused before reading, images that claim too many pixels before decoding, and folders
// that cannot be read (or roots that are gone) are reported instead of being taken for empty.
// The permission cases need a non-root user: tests/cli_disk_input.sh runs the binary as `nobody`.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "image/image.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "store/indexer.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using testing::TempDir;

fs::path faces_dir() { return testing::testdata_dir() / "faces"; }

using testing::expect_error;

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// --- A PNG writer for images of one colour, small files of any size in pixels -------------------
// zlib would compress them as well; by hand (RFC 1950/1951: one fixed-Huffman block of a literal
// zero then <length 258, distance 1> copies) the test needs no extra library. Checked by decoding a
// small one with OpenCV (PngWriterMakesImagesOpenCvDecodes).

class BitWriter {
 public:
  void bits(std::uint32_t value, int count) {  // deflate packs values from the least significant bit
    acc_ |= static_cast<std::uint64_t>(value) << filled_;
    filled_ += count;
    while (filled_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(acc_ & 0xFF));
      acc_ >>= 8;
      filled_ -= 8;
    }
  }
  void code(std::uint32_t huffman, int length) {  // ...but Huffman codes from their most significant bit
    std::uint32_t reversed = 0;
    for (int i = 0; i < length; ++i) reversed = (reversed << 1) | ((huffman >> i) & 1);
    bits(reversed, length);
  }
  Bytes finish() {
    if (filled_ > 0) out_.push_back(static_cast<std::uint8_t>(acc_ & 0xFF));
    return std::move(out_);
  }

 private:
  Bytes out_;
  std::uint64_t acc_ = 0;
  int filled_ = 0;
};

// zlib stream of `count` zero bytes.
Bytes zlib_zeros(std::uint64_t count) {
  BitWriter w;
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // BTYPE 01: fixed Huffman codes
  constexpr std::uint32_t kLiteralZero = 0x30;  // literal 0: 8 bits, 00110000
  constexpr std::uint32_t kLength258 = 0xC5;    // symbol 285: 8 bits, 11000101, no extra bits
  std::uint64_t left = count;
  if (left > 0) w.code(kLiteralZero, 8), --left;
  for (; left >= 258; left -= 258) {
    w.code(kLength258, 8);
    w.code(0, 5);  // distance code 0: distance 1
  }
  for (; left > 0; --left) w.code(kLiteralZero, 8);
  w.code(0, 7);  // end of block (256)
  Bytes out = {0x78, 0x01};
  const Bytes deflated = w.finish();
  out.insert(out.end(), deflated.begin(), deflated.end());
  const std::uint32_t adler = (static_cast<std::uint32_t>(count % 65521) << 16) | 1;  // of zeros: a = 1, b = n
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(adler >> shift));
  return out;
}

std::uint32_t crc32(const Bytes& data, std::size_t from) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = from; i < data.size(); ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

void append_chunk(Bytes& png, const char* type, const Bytes& data) {
  for (int shift : {24, 16, 8, 0}) png.push_back(static_cast<std::uint8_t>(data.size() >> shift));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  const std::uint32_t crc = crc32(png, start);
  for (int shift : {24, 16, 8, 0}) png.push_back(static_cast<std::uint8_t>(crc >> shift));
}

// A black 1-bit greyscale PNG of width x height pixels.
Bytes black_png(std::uint32_t width, std::uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes header;
  for (std::uint32_t v : {width, height})
    for (int shift : {24, 16, 8, 0}) header.push_back(static_cast<std::uint8_t>(v >> shift));
  header.insert(header.end(), {1, 0, 0, 0, 0});  // bit depth 1, greyscale, deflate, no filter, no interlace
  append_chunk(png, "IHDR", header);
  const std::uint64_t row_bytes = 1 + (std::uint64_t{width} + 7) / 8;  // filter byte, then the bits
  append_chunk(png, "IDAT", zlib_zeros(row_bytes * height));
  append_chunk(png, "IEND", {});
  return png;
}

TEST(DiskInput, PngWriterMakesImagesOpenCvDecodes) {
  const Bytes png = black_png(300, 20);
  const cv::Mat decoded = cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8UC1, const_cast<std::uint8_t*>(png.data())),
                                       cv::IMREAD_GRAYSCALE);
  ASSERT_EQ(decoded.size(), cv::Size(300, 20));
  EXPECT_EQ(cv::countNonZero(decoded), 0);
}

// --- Pixel limit ----------------------------------------------------------------------------------

TEST(DiskInput, HugePngIsRefusedFromItsHeaderBeforeDecoding) {
  // The file: under a megabyte on disk, 900 megapixels (2.7 GB as BGR) once decoded.
  const Bytes png = black_png(30000, 30000);
  ASSERT_LT(png.size(), 1u << 20);
  expect_error([&] { decode_image(png, "bomb.png"); }, ErrorCode::kDecode,
               {"bomb.png", "30000x30000 pixels", "900 megapixels", "over the limit of 250 megapixels"});

  TempDir dir;
  write_file(dir.path() / "bomb.png", png);
  expect_error([&] { decode_image_file(dir.path() / "bomb.png"); }, ErrorCode::kDecode, {"30000x30000 pixels"});
}

TEST(DiskInput, PixelLimitAppliesToEveryFormatOpenCvDecodes) {
  const cv::Mat image(48, 64, CV_8UC3, cv::Scalar(10, 200, 30));  // 3072 pixels
  for (const char* ext : {".jpg", ".png", ".webp", ".bmp", ".tiff", ".ppm"}) {
    SCOPED_TRACE(ext);
    std::vector<std::uint8_t> bytes;
    ASSERT_TRUE(cv::imencode(ext, image, bytes));
    DecodeOptions exact;
    exact.max_pixels = 3072;
    EXPECT_EQ(decode_image(bytes, ext, exact).bgr.size(), cv::Size(64, 48));
    DecodeOptions below;
    below.max_pixels = 3071;
    expect_error([&] { decode_image(bytes, ext, below); }, ErrorCode::kDecode,
                 {"64x48 pixels", "over the limit of"});
  }
}

TEST(DiskInput, MaxPixelsLetsALargePhotoThroughOrNot) {
  const fs::path large = faces_dir() / "bad" / "large_8000x6000_mark_img14.jpg";  // 48 MP
  DecodeOptions forty;
  forty.max_pixels = 40'000'000;
  expect_error([&] { decode_image_file(large, forty); }, ErrorCode::kDecode,
               {"large_8000x6000_mark_img14.jpg", "8000x6000 pixels (48 megapixels)", "limit of 40 megapixels"});
  EXPECT_EQ(decode_image_file(large).width, 8000);  // the default limit
}

TEST(DiskInput, ImageWhoseHeaderGivesNoSizeIsNotDecoded) {
  // A PNG signature and an IHDR chunk cut short: the decoder would have to guess.
  const Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0};
  expect_error([&] { decode_image(png, "cut.png"); }, ErrorCode::kDecode,
               {"cut.png: corrupt or unsupported png data", "does not give the image size"});
}

TEST(DiskInput, OnlyTheFirstPngHeaderCounts) {
  // libpng refuses a second IHDR, so a huge size in one must not be what the limit looks at (nor hide a
  // huge first one behind a small second one).
  Bytes png = black_png(30000, 30000);
  Bytes small_header = {0, 0, 0, 10, 0, 0, 0, 10, 1, 0, 0, 0, 0};
  Bytes second;
  append_chunk(second, "IHDR", small_header);
  png.insert(png.begin() + 8 + 25, second.begin(), second.end());  // after the first IHDR chunk
  const ImageInfo info = probe_image(png);
  EXPECT_EQ(info.width, 30000);
  EXPECT_EQ(info.height, 30000);
}

TEST(DiskInput, BigTiffSizeIsReadFromItsHeader) {
  // Little-endian BigTIFF: "II", 43, offset size 8, 0, first IFD at 16; two entries: width (LONG) and
  // height (LONG8). Without its size a BigTIFF would now be refused undecoded.
  Bytes tiff = {'I', 'I', 43, 0, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0};
  const auto u16 = [&](std::uint32_t v) { tiff.insert(tiff.end(), {std::uint8_t(v), std::uint8_t(v >> 8)}); };
  const auto u64 = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) tiff.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  u64(2);
  u16(0x0100), u16(4), u64(1), u64(70000);   // ImageWidth, LONG
  u16(0x0101), u16(16), u64(1), u64(50000);  // ImageLength, LONG8
  u64(0);                                    // no next IFD
  const ImageInfo info = probe_image(tiff);
  EXPECT_EQ(info.format, "tiff");
  EXPECT_EQ(info.width, 70000);
  EXPECT_EQ(info.height, 50000);
  expect_error([&] { decode_image(tiff, "big.tif"); }, ErrorCode::kDecode, {"70000x50000 pixels"});
}

// --- Files that are not regular files, or too large ---------------------------------------------

TEST(DiskInput, FifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  const fs::path fifo = dir.path() / "x.jpg";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Before the fix this blocked in open() for ever: no writer ever comes.
  expect_error([&] { read_file_bytes(fifo); }, ErrorCode::kIo, {fifo.string(), "named pipe", "not a regular file"});
  expect_error([&] { decode_image_file(fifo); }, ErrorCode::kIo, {"named pipe"});
}

TEST(DiskInput, LinkToDevZeroIsRefusedBeforeReading) {
  TempDir dir;
  const fs::path link = dir.path() / "zero.jpg";
  fs::create_symlink("/dev/zero", link);
  // Before the fix this read until memory ran out.
  expect_error([&] { read_file_bytes(link); }, ErrorCode::kIo, {"zero.jpg", "character device", "not a regular file"});
}

TEST(DiskInput, FileOverTheSizeLimitIsRefusedUnread) {
  TempDir dir;
  const fs::path big = dir.path() / "big.jpg";
  { std::ofstream touch(big); }
  fs::resize_file(big, std::uint64_t{2} << 30);  // sparse: instant, no disk space
  expect_error([&] { read_file_bytes(big); }, ErrorCode::kDecode, {"big.jpg", "file too large (2 GiB", "over 1 GiB"});

  const fs::path small = dir.path() / "small.jpg";
  write_file(small, Bytes(100, 7));
  expect_error([&] { read_file_bytes(small, 99); }, ErrorCode::kDecode, {"small.jpg", "file too large (100 bytes"});
  EXPECT_EQ(read_file_bytes(small, 100), Bytes(100, 7));
}

TEST(DiskInput, RegularFileIsReadWhole) {
  const fs::path photo = faces_dir() / "people" / "obama" / "fr_obama.jpg";
  std::ifstream in(photo, std::ios::binary);
  const Bytes expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(expected.size(), 1000u);
  EXPECT_EQ(read_file_bytes(photo), expected);
}

TEST(DiskInput, SymbolicLinkProblemsAreNamed) {
  TempDir dir;
  const fs::path loop = dir.path() / "q.jpg";
  fs::create_symlink("q.jpg", loop);  // ln -s q.jpg q.jpg
  expect_error([&] { read_file_bytes(loop); }, ErrorCode::kNotFound, {"q.jpg", "symbolic link loop"});
  EXPECT_NE(why_missing(loop).find("symbolic link loop"), std::string::npos);

  const fs::path broken = dir.path() / "broken.jpg";
  fs::create_symlink("gone.jpg", broken);
  expect_error([&] { read_file_bytes(broken); }, ErrorCode::kNotFound, {"broken.jpg", "broken symbolic link", "gone.jpg"});

  EXPECT_EQ(why_missing(dir.path() / "nothing.jpg"), "does not exist");
  EXPECT_EQ(why_missing(faces_dir()), "");
  expect_error([&] { read_file_bytes(dir.path() / "nothing.jpg"); }, ErrorCode::kNotFound, {"nothing.jpg: no such file"});
}

TEST(DiskInput, SelfLinkTargetIsNamedAsALoop) {
  TempDir dir;
  const fs::path loop = dir.path() / "t";
  fs::create_symlink("t", loop);
  const fs::path targets[] = {loop};
  expect_error([&] { collect_images(targets); }, ErrorCode::kNotFound, {"target", "symbolic link loop"});
}

// --- Folders --------------------------------------------------------------------------------------

TEST(DiskInput, MissingTargetIsReportedNotSkipped) {
  TempDir dir;
  fs::create_directories(dir.path() / "photos");
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", dir.path() / "photos" / "a.jpg");
  const fs::path targets[] = {dir.path() / "photos", dir.path() / "unplugged"};
  const PhotoFiles found = find_photo_files(targets);
  ASSERT_EQ(found.files.size(), 1u);
  ASSERT_EQ(found.unreadable.size(), 1u);
  EXPECT_EQ(found.unreadable[0].path, dir.path() / "unplugged");
  EXPECT_EQ(found.unreadable[0].reason, "does not exist");
  expect_error([&] { collect_images(targets); }, ErrorCode::kNotFound, {"unplugged", "does not exist"});
}

TEST(DiskInput, WalkKeepsItsRules) {
  // Hidden entries skipped, symbolic links to folders not followed, links to photos taken, FIFOs
  // and links to devices named .jpg left out of a walk (they are not photos).
  TempDir dir;
  const fs::path root = dir.path() / "root";
  fs::create_directories(root / "sub" / "deeper");
  fs::create_directories(root / ".hidden");
  const fs::path photo = faces_dir() / "people" / "obama" / "fr_obama.jpg";
  fs::copy_file(photo, root / "a.jpg");
  fs::copy_file(photo, root / "sub" / "deeper" / "b.JPG");
  fs::copy_file(photo, root / ".hidden" / "c.jpg");
  fs::copy_file(photo, root / "notes.txt");
  fs::create_symlink(photo, root / "link.jpg");
  fs::create_directory_symlink(root / "sub", root / "loop");
  fs::create_symlink("/dev/zero", root / "zero.jpg");
  ASSERT_EQ(mkfifo((root / "fifo.jpg").c_str(), 0600), 0);
  const fs::path targets[] = {root};
  const PhotoFiles found = find_photo_files(targets);
  EXPECT_TRUE(found.unreadable.empty());
  const std::vector<fs::path> expected = {root / "a.jpg", root / "link.jpg", root / "sub" / "deeper" / "b.JPG"};
  EXPECT_EQ(found.files, expected);
}

class DiskInputIndex : public testing::DefaultPipelineSuite {
 protected:
  static IndexReport index(Catalog& c, std::span<const fs::path> roots) {
    IndexOptions o;
    o.jobs = 1;
    return index_library(c, *pipeline_, roots, o);
  }
};

TEST_F(DiskInputIndex, RootThatIsGoneKeepsItsPhotosAndIsReported) {
  TempDir dir;
  const fs::path photos = dir.path() / "photos";
  fs::create_directories(photos / "sub");
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", photos / "a.jpg");
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama2.jpg", photos / "sub" / "b.jpg");
  Catalog catalog = Catalog::open(dir.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const fs::path roots[] = {photos};
  ASSERT_EQ(index(catalog, roots).added, 2u);
  const std::int64_t faces = catalog.status().faces;
  ASSERT_GT(faces, 0);

  // The drive is unplugged: `index` with no folder re-scans the library's roots.
  fs::rename(photos, dir.path() / "away");
  const IndexReport gone = index(catalog, {});
  EXPECT_EQ(gone.deleted, 0u);
  ASSERT_EQ(gone.unreadable.size(), 1u);
  EXPECT_EQ(gone.unreadable[0].path, fs::canonical(dir.path()) / "photos");
  EXPECT_EQ(gone.unreadable[0].reason, "does not exist");
  EXPECT_EQ(gone.unreadable[0].photos_kept, 2);
  EXPECT_EQ(catalog.status().images, 2);
  EXPECT_EQ(catalog.status().faces, faces);
  ASSERT_EQ(catalog.status().unreadable_folders.size(), 1u);
  EXPECT_EQ(catalog.status().unreadable_folders[0].photos_kept, 2);

  // Plugged in again: nothing to redo, and the library forgets the problem.
  fs::rename(dir.path() / "away", photos);
  const IndexReport back = index(catalog, {});
  EXPECT_TRUE(back.unreadable.empty());
  EXPECT_EQ(back.unchanged, 2u);
  EXPECT_EQ(back.added + back.deleted, 0u);
  EXPECT_TRUE(catalog.unreadable_folders().empty());
}

TEST_F(DiskInputIndex, OtherRootsProblemsAreRememberedUntilScanned) {
  TempDir dir;
  const fs::path a = dir.path() / "a", b = dir.path() / "b";
  fs::create_directories(a);
  fs::create_directories(b);
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", a / "a.jpg");
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama2.jpg", b / "b.jpg");
  Catalog catalog = Catalog::open(dir.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const fs::path both[] = {a, b};
  index(catalog, both);
  fs::rename(b, dir.path() / "b_away");
  EXPECT_EQ(index(catalog, {}).unreadable.size(), 1u);
  // A run over `a` alone says nothing new about `b`: its entry stays.
  const fs::path only_a[] = {a};
  EXPECT_TRUE(index(catalog, only_a).unreadable.empty());
  ASSERT_EQ(catalog.unreadable_folders().size(), 1u);
  EXPECT_EQ(catalog.unreadable_folders()[0].path, fs::canonical(dir.path()) / "b");
  EXPECT_EQ(catalog.status().images, 2);
}

// forget_folder takes "at or under" literally: a sibling whose name only starts the same way, or one
// that LIKE's wildcards (_ and %) would match, stays.
TEST_F(DiskInputIndex, ForgetFolderRemovesExactlyWhatIsUnderIt) {
  TempDir dir;
  const fs::path root = fs::canonical(dir.path());
  const fs::path kept[] = {root / "a_b", root / "axb", root / "a_bc", root / "a%"};
  const fs::path gone = root / "a_b" / "sub";
  for (const auto& folder : {kept[0], kept[1], kept[2], kept[3], gone}) fs::create_directories(folder);
  int n = 0;
  for (const auto& folder : {kept[1], kept[2], kept[3], gone})
    fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", folder / ("p" + std::to_string(n++) + ".jpg"));
  Catalog catalog = Catalog::open(dir.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const fs::path roots[] = {kept[0], kept[1], kept[2], kept[3]};
  ASSERT_EQ(index(catalog, roots).added, 4u);
  const std::int64_t generation = catalog.generation();
  {
    Catalog::Transaction t(catalog);
    EXPECT_EQ(catalog.forget_folder(kept[0]), 1);  // a_b/sub/p3.jpg only
    t.commit();
  }
  EXPECT_GT(catalog.generation(), generation);  // side files made before are stale
  std::vector<fs::path> paths;
  for (const auto& row : catalog.images()) paths.push_back(row.path);
  EXPECT_EQ(paths, (std::vector<fs::path>{kept[3] / "p2.jpg", kept[2] / "p1.jpg", kept[1] / "p0.jpg"}));
  EXPECT_EQ(catalog.roots(), (std::vector<fs::path>{kept[3], kept[2], kept[1]}));
}

// A root that lists nothing at all while the library holds photos from it is the mount point of a
// disk that is not mounted: its photos are kept and it is reported, as for a root that is gone.
TEST_F(DiskInputIndex, EmptyRootWithPhotosInTheLibraryIsNotTakenForDeletedPhotos) {
  TempDir dir;
  const fs::path photos = dir.path() / "mnt";
  fs::create_directories(photos);
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", photos / "a.jpg");
  Catalog catalog = Catalog::open(dir.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const fs::path roots[] = {photos};
  ASSERT_EQ(index(catalog, roots).added, 1u);
  fs::rename(photos / "a.jpg", dir.path() / "a.jpg");
  const IndexReport unmounted = index(catalog, {});
  EXPECT_EQ(unmounted.deleted, 0u);
  ASSERT_EQ(unmounted.unreadable.size(), 1u);
  EXPECT_EQ(unmounted.unreadable[0].photos_kept, 1);
  EXPECT_EQ(catalog.status().images, 1);
  // A folder that still holds something (here a subfolder) is read as usual: the photo was deleted.
  fs::create_directories(photos / "other");
  const IndexReport emptied = index(catalog, {});
  EXPECT_TRUE(emptied.unreadable.empty());
  EXPECT_EQ(emptied.deleted, 1u);
  EXPECT_EQ(catalog.status().images, 0);
  // An empty folder the library has nothing from is just empty.
  fs::remove(photos / "other");
  EXPECT_TRUE(index(catalog, {}).unreadable.empty());
}

TEST_F(DiskInputIndex, NamedRootThatDoesNotExistIsStillAnError) {
  TempDir dir;
  Catalog catalog = Catalog::open(dir.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const fs::path roots[] = {dir.path() / "typo"};
  expect_error([&] { index(catalog, roots); }, ErrorCode::kNotFound, {"typo", "does not exist"});
}

TEST_F(DiskInputIndex, SelfLinkQueryIsNamedAsALoop) {
  TempDir dir;
  const fs::path loop = dir.path() / "q.jpg";
  fs::create_symlink("q.jpg", loop);
  expect_error([&] { embed_query(*pipeline_, loop, {}, {}); }, ErrorCode::kNotFound,
               {"query photo", "q.jpg", "symbolic link loop"});
}

}  // namespace
}  // namespace facesearch
