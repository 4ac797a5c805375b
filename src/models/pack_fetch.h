// Fetching model packs: downloads that resume and verify their checksum, zip extraction that cannot
// write outside its folder, and SHA-256 of files. No knowledge of any particular pack or host.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace facesearch {

// Lowercase hex SHA-256 of a file, read in 1 MiB blocks. Throws Error{kNotFound} when the file does not
// exist, Error{kInvalidArgument} for a folder, Error{kIo} when it cannot be read; messages name the file.
std::string sha256_file(const std::filesystem::path& file);

struct DownloadProgress {
  std::uint64_t received = 0;      // bytes in the file so far, including those resumed from
  std::uint64_t total = 0;         // size of the whole file; 0 = unknown
  bool resumed = false;            // the server honoured a Range request for an earlier .part file
  std::uint64_t resumed_from = 0;  // bytes kept from that .part file
};

struct DownloadOptions {
  std::string expected_sha256;  // empty: not checked; hex digits in either case
  // Called on the downloading thread, at most ~10 times a second and once at the end. May throw: the
  // download stops (the .part file is kept) and the exception reaches the caller.
  std::function<void(const DownloadProgress&)> progress;
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // abort when fewer than 1 byte/s arrive for this long
};

// Downloads an http:// or https:// URL to `dest` (its folder is created). Data goes to `dest` + ".part"
// first; when that file is already there (an earlier interrupted download of the same URL) the download
// resumes from its size with a Range request, and starts over when the server answers 200 instead of 206.
// Once complete and, when expected_sha256 is given, verified, the .part file is renamed onto `dest`, so
// `dest` never holds a partial file. Errors name the URL:
//  - a scheme other than http/https: Error{kInvalidArgument};
//  - an HTTP error status: Error{kNotFound} for 404/410, else Error{kIo}, with "HTTP <status>";
//  - no connection, or a dropped/stalled transfer: Error{kIo}; once data has arrived it says "interrupted
//    after N bytes; run the same command again to resume" and the .part file is kept;
//  - a checksum mismatch: Error{kIo} "sha256 is X, expected Y", and the .part file is deleted.
void download_file(const std::string& url, const std::filesystem::path& dest,
                   const DownloadOptions& options = {});

// Extracts a .zip archive into `dest_dir` (created when missing) and returns the relative paths of the
// regular files written, in archive order. Entries with absolute paths or ".." components, symlinks and
// other special files are rejected before anything is written: Error{kInvalidArgument} naming the entry.
// A missing archive is Error{kNotFound}; not-a-zip or a damaged zip is Error{kInvalidArgument} naming the
// file, and whatever this call wrote before finding the damage is removed again.
std::vector<std::filesystem::path> extract_zip(const std::filesystem::path& zip,
                                               const std::filesystem::path& dest_dir);

}  // namespace facesearch
