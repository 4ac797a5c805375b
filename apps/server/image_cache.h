// Face crops and downscaled photos kept on disk between requests and between runs of `facesearch
// serve`: one JPEG per answer in ${XDG_CACHE_HOME:-~/.cache}/facesearch/images, named by a hash of what
// makes the answer (the photo's content hash, the face's box, the asked size), so a moved or renamed
// photo keeps its entries and a changed one gets new ones. Bounded: when a write takes the folder past
// its limit, the least recently used files (modification time, refreshed on every hit) are dropped
// until it is under 90% of it. Safe for concurrent requests and for two servers sharing the folder
// (files are written under a temporary name and renamed into place). A folder it creates is readable by
// its owner only (mode 0700): the crops are faces from someone's photos.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

namespace facesearch::server {

class ImageCache {
 public:
  // max_bytes 0: nothing is cached (get always misses, put does nothing).
  ImageCache(std::filesystem::path dir, std::uint64_t max_bytes);

  // ${XDG_CACHE_HOME:-$HOME/.cache}/facesearch/images
  static std::filesystem::path default_dir();

  bool enabled() const { return max_bytes_ > 0; }
  const std::filesystem::path& dir() const { return dir_; }

  // The bytes stored under `key`, or nothing. A hit refreshes the file's time (it is used again).
  std::optional<std::string> get(const std::string& key) const;
  // Stores `bytes` under `key`; failures (disk full, no permission) only mean no caching.
  void put(const std::string& key, const std::string& bytes);

  // What the folder holds now (files and bytes), counted from the disk.
  struct Usage {
    std::uint64_t files = 0, bytes = 0;
  };
  Usage usage() const;

 private:
  std::filesystem::path file_of(const std::string& key) const;
  void trim();  // under mutex_

  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  std::mutex mutex_;
  std::optional<std::uint64_t> bytes_;  // the folder's size as last counted plus what was written since
};

}  // namespace facesearch::server
