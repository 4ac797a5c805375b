#include "models/pack_fetch.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <zip.h>

#include "core/error.h"

namespace facesearch {
namespace fs = std::filesystem;

namespace {

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

}  // namespace

std::string sha256_file(const fs::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (status.type() == fs::file_type::not_found) throw Error(ErrorCode::kNotFound, name + ": no such file");
  if (ec) throw Error(ErrorCode::kIo, name + ": cannot access: " + ec.message());
  if (fs::is_directory(status)) throw Error(ErrorCode::kInvalidArgument, name + ": is a folder, not a file");
  const FilePtr in(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (!in) throw Error(ErrorCode::kIo, name + ": cannot open: " + std::strerror(errno));

  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::kIo, name + ": cannot start SHA-256 (OpenSSL)");
  }
  std::vector<unsigned char> block(std::size_t{1} << 20);
  while (true) {
    const std::size_t n = std::fread(block.data(), 1, block.size(), in.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), block.data(), n) != 1) throw Error(ErrorCode::kIo, name + ": SHA-256 failed");
    if (n < block.size()) break;
  }
  if (std::ferror(in.get())) throw Error(ErrorCode::kIo, name + ": read failed: " + std::strerror(errno));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) != 1) throw Error(ErrorCode::kIo, name + ": SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest_len);
  for (unsigned int i = 0; i < digest_len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

// ---------------------------------------------------------------------------------------------------------
// Downloads

namespace {

// curl_global_init is not thread-safe in older libcurl; once per process, never cleaned up (other code in
// the process may use libcurl too).
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

using Clock = std::chrono::steady_clock;

// State of one HTTP request, shared with libcurl's callbacks (which must not throw through C code: they
// store the exception and make libcurl stop).
struct Transfer {
  CURL* curl = nullptr;
  fs::path part;
  std::uint64_t resume_from = 0;  // size of the .part file when asking for a Range; 0: no Range asked
  const DownloadOptions* options = nullptr;

  // From the response headers (of the last response, after redirects).
  std::optional<std::uint64_t> range_start;  // Content-Range: bytes START-END/TOTAL
  std::optional<std::uint64_t> range_total;

  FilePtr out{nullptr, &std::fclose};  // opened at the first body byte, once the status is known
  bool body_started = false;
  long http_status = 0;            // a non-2xx status that stopped the transfer
  bool unexpected_range = false;   // a 206 that does not start where the .part file ends
  bool stalled = false;
  std::exception_ptr failure;      // thrown by the progress callback or a failed write
  DownloadProgress progress;
  Clock::time_point last_report{};
  Clock::time_point last_data{};
  curl_off_t last_dlnow = 0;

  // Decides, once headers are in, whether the body continues the .part file or replaces it.
  // Returns false (and records why) when the body must not be written.
  bool start_body() {
    body_started = true;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      http_status = status;
      return false;
    }
    const bool append = status == 206 && resume_from > 0;
    if (status == 206 && (!range_start || *range_start != resume_from)) {
      unexpected_range = true;
      return false;
    }
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    progress.resumed = append;
    progress.resumed_from = append ? resume_from : 0;
    progress.received = progress.resumed_from;
    if (range_total) {
      progress.total = *range_total;
    } else if (length >= 0) {
      progress.total = progress.resumed_from + static_cast<std::uint64_t>(length);
    }
    std::error_code ec;
    if (part.has_parent_path()) fs::create_directories(part.parent_path(), ec);
    out.reset(std::fopen(part.string().c_str(), append ? "ab" : "wb"));
    if (!out) throw Error(ErrorCode::kIo, part.string() + ": cannot open for writing: " + std::strerror(errno));
    return true;
  }

  void report(bool final) {
    if (!options->progress) return;
    const auto now = Clock::now();
    if (!final && now - last_report < std::chrono::milliseconds(100)) return;
    last_report = now;
    options->progress(progress);
  }

  // Closes the .part file, flushing it; a failure here means the data on disk is not what arrived.
  void close_part() {
    if (!out) return;
    std::FILE* f = out.release();
    if (std::fclose(f) != 0 && !failure) {
      failure = std::make_exception_ptr(
          Error(ErrorCode::kIo, part.string() + ": write failed: " + std::strerror(errno)));
    }
  }
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  const std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100 Continue)
    t.range_start.reset();
    t.range_total.reset();
    return n;
  }
  const std::string lower = lowercase(line);
  unsigned long long start = 0, end = 0, total = 0;
  if (lower.rfind("content-range:", 0) == 0) {
    if (std::sscanf(lower.c_str() + 14, " bytes %llu-%llu/%llu", &start, &end, &total) == 3) {
      t.range_start = start;
      t.range_total = total;
    } else if (std::sscanf(lower.c_str() + 14, " bytes %llu-%llu/*", &start, &end) == 2) {
      t.range_start = start;
    }
  }
  return n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  try {
    if (!t.body_started && !t.start_body()) return 0;  // returning less than n stops the transfer
    if (!t.out) return 0;
    if (std::fwrite(data, 1, n, t.out.get()) != n) {
      throw Error(ErrorCode::kIo, t.part.string() + ": write failed: " + std::strerror(errno));
    }
    t.progress.received += n;
    t.report(false);
    return n;
  } catch (...) {
    t.failure = std::current_exception();
    return 0;
  }
}

// Aborts when no body byte has arrived for stall_timeout_s since the last one. libcurl's own low-speed
// check (also set) covers the wait for the first byte, but it averages over several seconds, so after a
// burst it would notice a dead connection late.
int on_xferinfo(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  const auto now = Clock::now();
  if (dlnow == 0) return 0;
  if (dlnow != t.last_dlnow) {
    t.last_dlnow = dlnow;
    t.last_data = now;
  } else if (now - t.last_data >= std::chrono::seconds(t.options->stall_timeout_s)) {
    t.stalled = true;
    return 1;
  }
  return 0;
}

std::string http_error_text(long status) {
  switch (status) {
    case 403: return "HTTP 403 Forbidden";
    case 404: return "HTTP 404 Not Found";
    case 410: return "HTTP 410 Gone";
    case 416: return "HTTP 416 Range Not Satisfiable";
    default: return "HTTP " + std::to_string(status);
  }
}

enum class Outcome { kComplete, kStartOver };

// One request. kStartOver: the .part file cannot be resumed (the server refused or mangled the range)
// and has been deleted; the caller asks again without a Range.
Outcome fetch_once(const std::string& url, const fs::path& part, const DownloadOptions& options) {
  std::error_code ec;
  const auto part_size = fs::file_size(part, ec);
  Transfer t;
  t.part = part;
  t.resume_from = ec ? 0 : part_size;
  t.options = &options;

  const std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw Error(ErrorCode::kIo, "download of " + url + ": cannot start libcurl");
  t.curl = curl.get();
  char error_text[CURL_ERROR_SIZE] = {};
  const std::string range = std::to_string(t.resume_from) + "-";
  // A plain Range header rather than CURLOPT_RESUME_FROM: libcurl fails on a 200 answer to that, and a
  // server that ignores ranges should just make the download start over.
  if (t.resume_from > 0) curl_easy_setopt(t.curl, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(t.curl, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85
  curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(t.curl, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(t.curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(t.curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(t.curl, CURLOPT_USERAGENT, "facesearch/" FACESEARCH_VERSION);
  curl_easy_setopt(t.curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: safe on any thread
  curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(t.curl, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(t.curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, &on_xferinfo);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);

  const CURLcode code = curl_easy_perform(t.curl);
  // A 2xx answer with an empty body never reaches on_body: the (empty) file is made here.
  if (code == CURLE_OK && !t.body_started) {
    try {
      t.start_body();
    } catch (...) {
      t.failure = std::current_exception();
    }
  }
  t.close_part();
  if (t.failure) std::rethrow_exception(t.failure);

  if (t.http_status == 416 && t.resume_from > 0) {  // the .part file is not a prefix of this file
    fs::remove(part, ec);
    return Outcome::kStartOver;
  }
  if (t.unexpected_range) {
    fs::remove(part, ec);
    return Outcome::kStartOver;
  }
  if (t.http_status != 0) {
    const ErrorCode error_code =
        t.http_status == 404 || t.http_status == 410 ? ErrorCode::kNotFound : ErrorCode::kIo;
    throw Error(error_code, "download of " + url + " failed: " + http_error_text(t.http_status));
  }
  if (code != CURLE_OK) {
    const std::string why = t.stalled ? "no data for " + std::to_string(options.stall_timeout_s) + " s"
                                      : (error_text[0] ? std::string(error_text) : curl_easy_strerror(code));
    if (t.body_started || t.resume_from > 0) {
      const std::uint64_t kept = t.body_started ? t.progress.received : t.resume_from;
      throw Error(ErrorCode::kIo, "download of " + url + " interrupted after " + std::to_string(kept) +
                                      " bytes (" + why + "); run the same command again to resume");
    }
    throw Error(ErrorCode::kIo, "download of " + url + " failed: " + why);
  }
  t.report(true);
  return Outcome::kComplete;
}

}  // namespace

void download_file(const std::string& url, const fs::path& dest, const DownloadOptions& options) {
  const std::string scheme = lowercase(url.substr(0, url.find(':')));
  if (url.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    throw Error(ErrorCode::kInvalidArgument, "cannot download " + url + ": only http:// and https:// URLs are supported");
  }
  const std::string expected = lowercase(options.expected_sha256);
  if (!expected.empty() && !is_sha256_hex(expected)) {
    throw Error(ErrorCode::kInvalidArgument,
                "expected sha256 for " + url + " is not 64 hex digits: " + options.expected_sha256);
  }
  init_curl_once();

  std::error_code ec;
  fs::path part = dest;
  part += ".part";

  if (fetch_once(url, part, options) == Outcome::kStartOver) fetch_once(url, part, options);

  if (!expected.empty()) {
    const std::string actual = sha256_file(part);
    if (actual != expected) {
      fs::remove(part, ec);
      throw Error(ErrorCode::kIo, "download of " + url + " is corrupt: sha256 is " + actual + ", expected " +
                                      expected + " (the partial file was deleted; run the command again)");
    }
  }
  fs::rename(part, dest, ec);  // atomic on one file system: dest is never a partial file
  if (ec) throw Error(ErrorCode::kIo, "cannot move " + part.string() + " to " + dest.string() + ": " + ec.message());
}

// ---------------------------------------------------------------------------------------------------------
// Zip extraction

namespace {

struct ZipEntry {
  zip_uint64_t index = 0;
  fs::path relative;  // checked: relative, no "..", no "."
  bool is_dir = false;
};

[[noreturn]] void reject_entry(const fs::path& zip, const std::string& entry, const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument,
              zip.string() + ": refusing to extract entry \"" + entry + "\": " + why + "; nothing was extracted");
}

// The entry's path below the destination, or nullopt for an entry that names the destination itself ("./").
std::optional<ZipEntry> checked_entry(const fs::path& zip, zip_t* archive, zip_uint64_t index) {
  const char* raw = zip_get_name(archive, index, 0);
  if (!raw) throw Error(ErrorCode::kInvalidArgument, zip.string() + ": damaged zip archive: " + zip_strerror(archive));
  const std::string name = raw;
  if (name.empty()) reject_entry(zip, name, "empty name");
  // Zips made on Windows may use '\' as separator, so it counts as one for these checks.
  if (name.front() == '/' || name.front() == '\\' ||
      (name.size() >= 2 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0])))) {
    reject_entry(zip, name, "absolute path");
  }
  ZipEntry entry;
  entry.index = index;
  std::size_t begin = 0;
  while (begin <= name.size()) {
    const std::size_t end = std::min(name.find_first_of("/\\", begin), name.size());
    const std::string part = name.substr(begin, end - begin);
    if (part == "..") reject_entry(zip, name, "\"..\" leads outside the destination");
    if (!part.empty() && part != ".") entry.relative /= part;
    begin = end + 1;
  }
  entry.is_dir = name.back() == '/' || name.back() == '\\';

  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes) == 0 && opsys == ZIP_OPSYS_UNIX) {
    const mode_t type = (attributes >> 16) & S_IFMT;
    if (type == S_IFLNK) reject_entry(zip, name, "symbolic links are not extracted");
    if (type == S_IFDIR) entry.is_dir = true;
    if (type != 0 && type != S_IFREG && type != S_IFDIR) reject_entry(zip, name, "not a regular file or folder");
  }
  if (entry.relative.empty()) {
    if (!entry.is_dir) reject_entry(zip, name, "no file name");
    return std::nullopt;
  }
  return entry;
}

// What one extract_zip call created, removed again when it fails half-way.
class CreatedPaths {
 public:
  ~CreatedPaths() {
    if (committed_) return;
    std::error_code ec;
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) fs::remove(*it, ec);  // files, then their folders
  }
  void add(fs::path p) { paths_.push_back(std::move(p)); }
  void commit() { committed_ = true; }

  // Creates `dir` and the missing folders above it, recording each one made.
  void make_dirs(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    if (dir.has_parent_path() && dir.parent_path() != dir) make_dirs(dir.parent_path());
    if (!fs::create_directory(dir, ec) && ec) {
      throw Error(ErrorCode::kIo, "cannot create folder " + dir.string() + ": " + ec.message());
    }
    add(dir);
  }

 private:
  std::vector<fs::path> paths_;
  bool committed_ = false;
};

void extract_entry(const fs::path& zip, zip_t* archive, const ZipEntry& entry, const fs::path& target) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(target, ec))) {
    throw Error(ErrorCode::kInvalidArgument, target.string() + " is a symbolic link; not extracting " +
                                                 entry.relative.string() + " from " + zip.string() + " over it");
  }
  const std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> in(zip_fopen_index(archive, entry.index, 0), &zip_fclose);
  if (!in) {
    throw Error(ErrorCode::kInvalidArgument, zip.string() + ": cannot read entry " + entry.relative.string() + ": " +
                                                 zip_strerror(archive));
  }
  const FilePtr out(std::fopen(target.string().c_str(), "wb"), &std::fclose);
  if (!out) throw Error(ErrorCode::kIo, target.string() + ": cannot open for writing: " + std::strerror(errno));
  std::vector<char> block(1 << 16);
  while (true) {
    const zip_int64_t n = zip_fread(in.get(), block.data(), block.size());
    if (n < 0) {  // includes a CRC mismatch, noticed at the end of the entry
      throw Error(ErrorCode::kInvalidArgument, zip.string() + ": damaged zip archive: entry " +
                                                   entry.relative.string() + ": " + zip_file_strerror(in.get()));
    }
    if (n == 0) break;
    if (std::fwrite(block.data(), 1, static_cast<std::size_t>(n), out.get()) != static_cast<std::size_t>(n)) {
      throw Error(ErrorCode::kIo, target.string() + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::fflush(out.get()) != 0) throw Error(ErrorCode::kIo, target.string() + ": write failed: " + std::strerror(errno));
}

}  // namespace

std::vector<fs::path> extract_zip(const fs::path& zip, const fs::path& dest_dir) {
  const std::string name = zip.string();
  std::error_code ec;
  const auto status = fs::status(zip, ec);
  if (status.type() == fs::file_type::not_found) throw Error(ErrorCode::kNotFound, name + ": no such file");
  if (fs::is_directory(status)) throw Error(ErrorCode::kInvalidArgument, name + ": is a folder, not a zip archive");

  int open_error = 0;
  const std::unique_ptr<zip_t, void (*)(zip_t*)> archive(zip_open(name.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &open_error),
                                                         &zip_discard);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, open_error);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (open_error == ZIP_ER_OPEN || open_error == ZIP_ER_READ) throw Error(ErrorCode::kIo, name + ": cannot read: " + why);
    if (open_error == ZIP_ER_NOZIP) throw Error(ErrorCode::kInvalidArgument, name + ": not a zip archive");
    throw Error(ErrorCode::kInvalidArgument, name + ": damaged zip archive: " + why);
  }

  // Every entry is checked before anything is written, so a hostile archive leaves no trace.
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  std::vector<ZipEntry> entries;
  for (zip_int64_t i = 0; i < count; ++i) {
    if (auto entry = checked_entry(zip, archive.get(), static_cast<zip_uint64_t>(i))) entries.push_back(std::move(*entry));
  }

  CreatedPaths created;
  created.make_dirs(dest_dir);
  std::vector<fs::path> files;
  for (const ZipEntry& entry : entries) {
    const fs::path target = dest_dir / entry.relative;
    if (entry.is_dir) {
      created.make_dirs(target);
      continue;
    }
    created.make_dirs(target.parent_path());
    const bool existed = fs::exists(fs::symlink_status(target, ec));
    if (!existed) created.add(target);
    extract_entry(zip, archive.get(), entry, target);
    files.push_back(entry.relative);
  }
  created.commit();
  return files;
}

}  // namespace facesearch
