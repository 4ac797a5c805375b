#include "core/file_io.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/error.h"

namespace facesearch {

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) throw Error(ErrorCode::kNotFound, name + ": no such file");
  if (ec) throw Error(ErrorCode::kIo, name + ": cannot access: " + ec.message());
  if (std::filesystem::is_directory(status)) throw Error(ErrorCode::kInvalidArgument, name + ": is a folder, not a file");
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorCode::kIo, name + ": cannot open: " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  if (const auto size = std::filesystem::file_size(path, ec); !ec) bytes.reserve(size);
  std::array<std::uint8_t, 1 << 16> chunk;
  while (true) {
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), file.get());
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    if (n < chunk.size()) break;
  }
  if (std::ferror(file.get())) throw Error(ErrorCode::kIo, name + ": read failed: " + std::strerror(errno));
  return bytes;
}

std::filesystem::path facesearch_data_home() {
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data) return std::filesystem::path(data) / "facesearch";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : ".") / ".local" / "share" / "facesearch";
}

std::string content_hash(const std::vector<std::uint8_t>& bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

}  // namespace facesearch
