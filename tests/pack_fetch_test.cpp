// Model pack fetching against an in-process HTTP server on 127.0.0.1: full and resumed downloads, servers
// that drop, stall, ignore ranges or answer 404, checksum checks; zip extraction, hostile and damaged zips.
#include "models/pack_fetch.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zip.h>

#include "core/error.h"
#include "local_http_server.h"
#include "test_support.h"

namespace facesearch {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

// 3 MiB + 123 bytes from a 32-bit LCG (Numerical Recipes' constants), byte = top 8 bits: not a multiple of
// the 1 MiB hashing block. Its SHA-256 was computed independently with Python's hashlib.
std::string deterministic_body() {
  std::string body(3 * 1024 * 1024 + 123, '\0');
  std::uint32_t x = 12345;
  for (char& c : body) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return body;
}
constexpr const char* kBodySha256 = "68597bee11547d634448ed6548cbc6e2292dafb8a516537eb62a1fc018550a0f";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

fs::path part_of(const fs::path& dest) {
  fs::path part = dest;
  part += ".part";
  return part;
}

class PackFetch : public ::testing::Test {
 protected:
  PackFetch() : body_(deterministic_body()), server_({{"/pack.bin", body_}}) {}
  fs::path dest() const { return tmp_.path() / "models" / "pack.bin"; }

  // Downloads dest(), recording every progress report.
  void download(DownloadOptions options = {}) {
    options.progress = [this](const DownloadProgress& p) { reports_.push_back(p); };
    download_file(server_.url("/pack.bin"), dest(), options);
  }

  const std::string body_;
  testing::LocalHttpServer server_;
  TempDir tmp_;
  std::vector<DownloadProgress> reports_;
};

TEST(PackFetchSha256, MatchesKnownDigests) {
  TempDir tmp;
  write_all(tmp.path() / "abc", "abc");
  write_all(tmp.path() / "empty", "");
  write_all(tmp.path() / "body", deterministic_body());
  EXPECT_EQ(sha256_file(tmp.path() / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_file(tmp.path() / "empty"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_file(tmp.path() / "body"), kBodySha256);
  try {
    sha256_file(tmp.path() / "missing");
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

TEST_F(PackFetch, FullDownloadHasTheRightBytesAndReportsProgress) {
  DownloadOptions options;
  options.expected_sha256 = kBodySha256;
  download(options);
  EXPECT_EQ(read_all(dest()), body_);
  EXPECT_EQ(sha256_file(dest()), kBodySha256);
  EXPECT_FALSE(fs::exists(part_of(dest())));
  ASSERT_FALSE(reports_.empty());
  for (std::size_t i = 1; i < reports_.size(); ++i) EXPECT_GE(reports_[i].received, reports_[i - 1].received);
  EXPECT_EQ(reports_.back().received, body_.size());
  EXPECT_EQ(reports_.back().total, body_.size());
  EXPECT_FALSE(reports_.back().resumed);
  EXPECT_EQ(server_.ranges_seen(), std::vector<std::string>{""});
}

TEST_F(PackFetch, UppercaseChecksumIsAccepted) {
  DownloadOptions options;
  for (const char c : std::string(kBodySha256)) options.expected_sha256 += static_cast<char>(std::toupper(c));
  download(options);
  EXPECT_EQ(read_all(dest()), body_);
}

TEST_F(PackFetch, WrongChecksumDeletesTheDataAndNamesBothHashes) {
  const std::string wrong(64, 'a');
  DownloadOptions options;
  options.expected_sha256 = wrong;
  try {
    download(options);
    FAIL() << "no error for a wrong checksum";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    const std::string message = e.what();
    EXPECT_NE(message.find(kBodySha256), std::string::npos) << message;
    EXPECT_NE(message.find(wrong), std::string::npos) << message;
    EXPECT_NE(message.find(server_.url("/pack.bin")), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(part_of(dest())));
}

TEST_F(PackFetch, InterruptedDownloadKeepsThePartAndResumesWithARange) {
  const std::size_t cut = 1024 * 1024 + 17;
  server_.cut_next_body(cut);
  try {
    download();
    FAIL() << "no error for a dropped connection";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    const std::string message = e.what();
    EXPECT_NE(message.find("interrupted after " + std::to_string(cut) + " bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("run the same command again to resume"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dest()));
  ASSERT_TRUE(fs::exists(part_of(dest())));
  EXPECT_EQ(read_all(part_of(dest())), body_.substr(0, cut));

  reports_.clear();
  DownloadOptions options;
  options.expected_sha256 = kBodySha256;
  download(options);
  EXPECT_EQ(server_.ranges_seen(), (std::vector<std::string>{"", "bytes=" + std::to_string(cut) + "-"}));
  ASSERT_FALSE(reports_.empty());
  for (const auto& p : reports_) {
    EXPECT_TRUE(p.resumed);
    EXPECT_EQ(p.resumed_from, cut);
    EXPECT_GE(p.received, cut);
  }
  EXPECT_EQ(reports_.back().received, body_.size());
  EXPECT_EQ(reports_.back().total, body_.size());
  EXPECT_EQ(read_all(dest()), body_);
  EXPECT_FALSE(fs::exists(part_of(dest())));
}

TEST_F(PackFetch, StalledServerTimesOutAndKeepsThePart) {
  const std::size_t cut = 200000;
  server_.cut_next_body(cut, /*stall=*/true);
  DownloadOptions options;
  options.stall_timeout_s = 1;
  try {
    download(options);
    FAIL() << "no error for a stalled server";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("interrupted after " + std::to_string(cut) + " bytes"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(fs::file_size(part_of(dest())), cut);
  EXPECT_FALSE(fs::exists(dest()));
}

TEST_F(PackFetch, ServerIgnoringRangeStartsOver) {
  fs::create_directories(dest().parent_path());
  write_all(part_of(dest()), std::string(1000, 'x'));  // not a prefix of the body: must not survive
  server_.ignore_ranges(true);
  DownloadOptions options;
  options.expected_sha256 = kBodySha256;
  download(options);
  EXPECT_EQ(server_.ranges_seen(), std::vector<std::string>{"bytes=1000-"});
  EXPECT_EQ(read_all(dest()), body_);
  ASSERT_FALSE(reports_.empty());
  EXPECT_FALSE(reports_.back().resumed);
  EXPECT_EQ(reports_.back().received, body_.size());
  EXPECT_FALSE(fs::exists(part_of(dest())));
}

TEST_F(PackFetch, PartLongerThanTheFileStartsOver) {
  fs::create_directories(dest().parent_path());
  write_all(part_of(dest()), body_ + "trailing");  // the server answers 416 to its range
  download();
  EXPECT_EQ(server_.ranges_seen(), (std::vector<std::string>{"bytes=" + std::to_string(body_.size() + 8) + "-", ""}));
  EXPECT_EQ(read_all(dest()), body_);
  EXPECT_FALSE(fs::exists(part_of(dest())));
}

TEST_F(PackFetch, Http404NamesTheUrlAndLeavesNothing) {
  const std::string url = server_.url("/no-such-pack.bin");
  try {
    download_file(url, dest());
    FAIL() << "no error for a 404";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    const std::string message = e.what();
    EXPECT_NE(message.find(url), std::string::npos) << message;
    EXPECT_NE(message.find("HTTP 404"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(part_of(dest())));
}

TEST_F(PackFetch, UnsupportedSchemeIsACallerMistake) {
  for (const std::string url : {"ftp://127.0.0.1/pack.bin", "file:///etc/passwd", "pack.bin"}) {
    try {
      download_file(url, dest());
      FAIL() << "no error for " << url;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(server_.ranges_seen().empty());
  EXPECT_FALSE(fs::exists(dest()));
}

// ---------------------------------------------------------------------------------------------------------
// Zip extraction

struct ZipItem {
  std::string name;
  std::string content;  // ignored for folders (names ending in '/')
  bool store = false;   // no compression, so the test can find and damage the bytes
};

void make_zip(const fs::path& file, const std::vector<ZipItem>& items) {
  int error = 0;
  zip_t* archive = zip_open(file.string().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr);
  for (const ZipItem& item : items) {
    if (!item.name.empty() && item.name.back() == '/') {
      ASSERT_GE(zip_dir_add(archive, item.name.c_str(), ZIP_FL_ENC_UTF_8), 0);
      continue;
    }
    zip_source_t* source = zip_source_buffer(archive, item.content.data(), item.content.size(), 0);
    ASSERT_NE(source, nullptr);
    const zip_int64_t index = zip_file_add(archive, item.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(archive);
    if (item.store) zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) files.push_back(fs::relative(e.path(), dir));
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PackFetchZip, ExtractsFilesAndNestedFolders) {
  TempDir tmp;
  const fs::path zip = tmp.path() / "pack.zip";
  make_zip(zip, {{"pack/", ""},
                 {"pack/manifest.json", "{\"name\": \"test\"}"},
                 {"pack/nets/detector.onnx", deterministic_body().substr(0, 100000)},
                 {"pack/nets/deeper/embedder.onnx", "embedder bytes"},
                 {"pack/empty/", ""}});
  const fs::path dest = tmp.path() / "out" / "models";
  const auto files = extract_zip(zip, dest);
  EXPECT_EQ(files, (std::vector<fs::path>{"pack/manifest.json", "pack/nets/detector.onnx",
                                          "pack/nets/deeper/embedder.onnx"}));
  EXPECT_EQ(read_all(dest / "pack/manifest.json"), "{\"name\": \"test\"}");
  EXPECT_EQ(read_all(dest / "pack/nets/detector.onnx"), deterministic_body().substr(0, 100000));
  EXPECT_EQ(read_all(dest / "pack/nets/deeper/embedder.onnx"), "embedder bytes");
  EXPECT_TRUE(fs::is_directory(dest / "pack/empty"));
}

TEST(PackFetchZip, RejectsEntriesLeadingOutsideAndWritesNothing) {
  TempDir tmp;
  const fs::path dest = tmp.path() / "out";
  for (const std::string bad : {"../evil", "pack/../../evil", "/tmp/evil", "pack\\..\\..\\evil"}) {
    SCOPED_TRACE(bad);
    const fs::path zip = tmp.path() / "hostile.zip";
    make_zip(zip, {{"pack/good.txt", "fine"}, {bad, "evil"}});
    try {
      extract_zip(zip, dest);
      FAIL() << "no error for entry " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_FALSE(fs::exists(tmp.path() / "evil"));
    EXPECT_EQ(files_under(tmp.path()), std::vector<fs::path>{"hostile.zip"});
  }
}

TEST(PackFetchZip, RejectsSymlinks) {
  TempDir tmp;
  const fs::path zip = tmp.path() / "link.zip";
  make_zip(zip, {{"pack/readme.txt", "hi"}, {"pack/link", "/etc/passwd"}});
  {  // mark "pack/link" as a Unix symlink, as `zip --symlinks` stores one
    int error = 0;
    zip_t* archive = zip_open(zip.string().c_str(), 0, &error);
    ASSERT_NE(archive, nullptr);
    const zip_int64_t index = zip_name_locate(archive, "pack/link", 0);
    ASSERT_GE(index, 0);
    ASSERT_EQ(zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_UNIX,
                                               (0120777u) << 16),
              0);
    ASSERT_EQ(zip_close(archive), 0);
  }
  const fs::path dest = tmp.path() / "out";
  try {
    extract_zip(zip, dest);
    FAIL() << "no error for a symlink entry";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("pack/link"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dest));
}

TEST(PackFetchZip, NotAZipIsRejectedByName) {
  TempDir tmp;
  const fs::path fake = tmp.path() / "pack.zip";
  write_all(fake, "<html>this is an error page, not a zip</html>\n");
  try {
    extract_zip(fake, tmp.path() / "out");
    FAIL() << "no error for a non-zip file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find(fake.string()), std::string::npos) << message;
    EXPECT_NE(message.find("not a zip archive"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));
  try {
    extract_zip(tmp.path() / "missing.zip", tmp.path() / "out");
    FAIL() << "no error for a missing zip";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(PackFetchZip, DamagedEntryLeavesNothingBehind) {
  TempDir tmp;
  const fs::path zip = tmp.path() / "damaged.zip";
  const std::string payload = "0123456789abcdefghijklmnopqrstuvwxyz-payload-that-will-be-damaged";
  make_zip(zip, {{"pack/first.txt", "first file is intact"}, {"pack/sub/second.bin", payload, /*store=*/true}});
  std::string bytes = read_all(zip);
  const auto at = bytes.find(payload);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] ^= 0x55;  // the CRC no longer matches
  write_all(zip, bytes);

  const fs::path dest = tmp.path() / "out";
  try {
    extract_zip(zip, dest);
    FAIL() << "no error for a damaged entry";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find(zip.string()), std::string::npos) << message;
    EXPECT_NE(message.find("pack/sub/second.bin"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dest));
}

}  // namespace
}  // namespace facesearch
