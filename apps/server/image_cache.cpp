#include "server/image_cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <tuple>
#include <vector>

#include "core/file_io.h"

namespace facesearch::server {

namespace fs = std::filesystem;

ImageCache::ImageCache(fs::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

fs::path ImageCache::default_dir() {
  if (const char* c = std::getenv("XDG_CACHE_HOME"); c && *c) return fs::path(c) / "facesearch" / "images";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "facesearch" / "images";
}

fs::path ImageCache::file_of(const std::string& key) const {
  const std::string name = content_hash(std::vector<std::uint8_t>(key.begin(), key.end()));
  return dir_ / name.substr(0, 2) / (name + ".jpg");  // 256 subfolders: no folder of a million entries
}

std::optional<std::string> ImageCache::get(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  const fs::path file = file_of(key);
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return std::nullopt;
  if (bytes.empty()) return std::nullopt;
  std::error_code ec;
  fs::last_write_time(file, fs::file_time_type::clock::now(), ec);  // recently used: trimmed last
  return bytes;
}

void ImageCache::put(const std::string& key, const std::string& bytes) {
  if (!enabled() || bytes.empty()) return;
  const fs::path file = file_of(key);
  std::error_code ec;
  if (!fs::exists(dir_, ec)) {
    // Faces from someone's photos: the folder this makes is its owner's alone.
    fs::create_directories(dir_, ec);
    if (ec) return;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  fs::create_directories(file.parent_path(), ec);
  if (ec) return;
  static std::atomic<std::uint64_t> serial{0};
  const fs::path tmp = file.parent_path() / ("." + file.filename().string() + "." + std::to_string(::getpid()) + "." +
                                             std::to_string(serial++) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return;
  }
  std::lock_guard lock(mutex_);
  if (!bytes_) bytes_ = usage().bytes;
  else *bytes_ += bytes.size();
  if (*bytes_ > max_bytes_) trim();
}

ImageCache::Usage ImageCache::usage() const {
  Usage u;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    ++u.files;
    u.bytes += it->file_size(ec);
  }
  return u;
}

void ImageCache::trim() {
  std::vector<std::tuple<fs::file_time_type, std::uint64_t, fs::path>> files;
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::uint64_t size = it->file_size(ec);
    const auto time = it->last_write_time(ec);
    files.emplace_back(time, size, it->path());
    total += size;
  }
  std::sort(files.begin(), files.end());  // oldest first
  const std::uint64_t goal = max_bytes_ / 10 * 9;
  for (const auto& [time, size, path] : files) {
    if (total <= goal) break;
    if (fs::remove(path, ec)) total -= size;
  }
  bytes_ = total;
}

}  // namespace facesearch::server
