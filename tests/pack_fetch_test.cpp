// Model pack fetching against an in-process HTTP server on 127.0.0.1: full and resumed downloads, servers
// that drop, stall, ignore ranges or answer 404, checksum checks; zip extraction, hostile and damaged zips.
#include "models/pack_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zip.h>

#include "core/error.h"

namespace facesearch {
namespace {

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

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "facesearch-fetch-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

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

// A one-connection-at-a-time HTTP/1.1 server: GET /pack.bin serves `body` (honouring "Range: bytes=N-"
// unless told to ignore ranges), any other path is 404. It can be told to send only part of the next
// body (with the full Content-Length announced), then close the connection or stall until the client
// gives up.
class TestServer {
 public:
  explicit TestServer(std::string body) : body_(std::move(body)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 8) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("test server: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // The next response sends only `bytes` of its body, then closes (or stalls, keeping the connection open).
  void cut_next_body(std::size_t bytes, bool stall = false) {
    std::lock_guard lock(mutex_);
    cut_after_ = bytes;
    stall_ = stall;
  }
  void ignore_ranges(bool ignore) {
    std::lock_guard lock(mutex_);
    ignore_ranges_ = ignore;
  }
  // The Range header of every request so far ("" when it had none).
  std::vector<std::string> ranges_seen() {
    std::lock_guard lock(mutex_);
    return ranges_seen_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      handle(fd);
      shutdown(fd, SHUT_WR);
      close(fd);
    }
  }

  bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      const ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data += sent;
      n -= static_cast<std::size_t>(sent);
    }
    return true;
  }

  void handle(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const std::string path = request.substr(4, request.find(' ', 4) - 4);  // "GET /path HTTP/1.1"
    std::string range;
    for (const std::string key : {"\r\nRange: ", "\r\nrange: "}) {
      if (const auto at = request.find(key); at != std::string::npos) {
        range = request.substr(at + key.size(), request.find("\r\n", at + key.size()) - at - key.size());
      }
    }
    std::optional<std::size_t> cut;
    bool stall = false, ignore = false;
    {
      std::lock_guard lock(mutex_);
      ranges_seen_.push_back(range);
      cut = std::exchange(cut_after_, std::nullopt);
      stall = std::exchange(stall_, false);
      ignore = ignore_ranges_;
    }
    if (path != "/pack.bin") {
      const std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n";
      send_all(fd, answer.data(), answer.size());
      return;
    }
    std::size_t start = 0;
    std::string head;
    unsigned long long from = 0;
    if (!ignore && std::sscanf(range.c_str(), "bytes=%llu-", &from) == 1) {
      if (from >= body_.size()) {
        head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + std::to_string(body_.size()) +
               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(fd, head.data(), head.size());
        return;
      }
      start = from;
      head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(start) + "-" +
             std::to_string(body_.size() - 1) + "/" + std::to_string(body_.size()) + "\r\n";
    } else {
      head = "HTTP/1.1 200 OK\r\n";
    }
    head += "Content-Length: " + std::to_string(body_.size() - start) + "\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, head.data(), head.size())) return;
    const std::size_t length = std::min(body_.size() - start, cut.value_or(body_.size()));
    if (!send_all(fd, body_.data() + start, length)) return;
    while (stall && !stop_) {  // hold the connection open, silent, until the client hangs up
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) > 0 && recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
  }

  std::string body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::optional<std::size_t> cut_after_;
  bool stall_ = false;
  bool ignore_ranges_ = false;
  std::vector<std::string> ranges_seen_;
};

class PackFetch : public ::testing::Test {
 protected:
  PackFetch() : body_(deterministic_body()), server_(body_) {}
  fs::path dest() const { return tmp_.path() / "models" / "pack.bin"; }

  // Downloads dest(), recording every progress report.
  void download(DownloadOptions options = {}) {
    options.progress = [this](const DownloadProgress& p) { reports_.push_back(p); };
    download_file(server_.url("/pack.bin"), dest(), options);
  }

  const std::string body_;
  TestServer server_;
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
