#include "core/file_io.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/error.h"

namespace facesearch {
namespace {

// Closes the descriptor it owns.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// "1.5 GiB", "300 MiB", "12 KiB", "7 bytes"
std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 4) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, value < 10 ? "%.1f" : "%.0f", value);
  std::string out = text;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out + " " + kUnits[unit];
}

// What a stat mode that is neither a regular file nor a folder is, in words.
const char* special_file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// Refuses what is not a regular file of at most `max_bytes`; `st` is the file's stat (links followed).
void check_regular_file(const struct stat& st, const std::string& name, std::uint64_t max_bytes) {
  if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::kInvalidArgument, name + ": is a folder, not a file");
  if (!S_ISREG(st.st_mode)) {
    // Reading one could block forever (a FIFO) or never end (/dev/zero).
    throw Error(ErrorCode::kIo, name + ": is " + special_file_kind(st.st_mode) + ", not a regular file; give a photo file");
  }
  if (st.st_size >= 0 && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw Error(ErrorCode::kDecode, name + ": file too large (" + human_size(static_cast<std::uint64_t>(st.st_size)) +
                                        "; files over " + human_size(max_bytes) + " are not read)");
  }
}

// The error for a path that open() or stat() failed on with `err`.
Error open_error(const std::filesystem::path& path, int err) {
  const std::string name = path.string();
  if (err == ENOENT || err == ENOTDIR || err == ELOOP) {
    const std::string why = why_missing(path);
    if (why == "does not exist" || why.empty()) return Error(ErrorCode::kNotFound, name + ": no such file");
    return Error(ErrorCode::kNotFound, name + " " + why);
  }
  return Error(ErrorCode::kIo, name + ": cannot open: " + std::strerror(err));
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const std::string name = path.string();
  // A first look by name keeps devices and sockets from being opened at all (opening some devices
  // acts, a tape rewinds); the fstat below is the check that counts, on what was really opened.
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) throw open_error(path, errno);
  check_regular_file(st, name, max_bytes);

  // O_NONBLOCK: if a FIFO took the file's place since, open() returns at once instead of waiting
  // for a writer (regular files ignore the flag).
  const FileDescriptor fd(::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) throw open_error(path, errno);
  if (::fstat(fd.get(), &st) != 0) throw Error(ErrorCode::kIo, name + ": cannot read: " + std::strerror(errno));
  check_regular_file(st, name, max_bytes);

  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  const auto read_some = [&](std::uint8_t* into, std::size_t count) -> std::size_t {
    while (true) {
      const ssize_t n = ::read(fd.get(), into, count);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) throw Error(ErrorCode::kIo, name + ": read failed: " + std::strerror(errno));
    }
  };
  while (used < bytes.size()) {
    const std::size_t n = read_some(bytes.data() + used, bytes.size() - used);
    if (n == 0) break;  // it shrank since fstat
    used += n;
  }
  bytes.resize(used);
  if (used == static_cast<std::size_t>(st.st_size)) {
    // Read on to the end: the file may be growing, but not past the limit.
    std::array<std::uint8_t, 1 << 16> chunk;
    while (const std::size_t n = read_some(chunk.data(), chunk.size())) {
      if (bytes.size() + n > max_bytes) {
        throw Error(ErrorCode::kDecode,
                    name + ": file too large (it grew past " + human_size(max_bytes) + " while being read)");
      }
      bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  return bytes;
}

std::string why_missing(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) == 0) return "";
  const int err = errno;
  if (err == ELOOP) return "is a symbolic link loop (it leads back to itself, directly or through other links)";
  if (err != ENOENT && err != ENOTDIR) return "";
  if (::lstat(name.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::read_symlink(path, ec);
    if (!ec) return "is a broken symbolic link (to " + target.string() + ", which does not exist)";
    return "is a broken symbolic link";
  }
  return "does not exist";
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
