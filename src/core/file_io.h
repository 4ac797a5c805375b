// Reading whole files with errors that name the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace facesearch {

// Files over this size are refused before a byte of them is read, so a 2 GB video or disk image
// named .jpg costs nothing. 1 GiB holds any photo at the default pixel limit (kDefaultMaxPixels,
// 250 MP: 750 MB as an uncompressed 8-bit TIFF, tens of MB as JPEG or HEIC) and stays well inside
// what the decoders take at all (OpenCV's buffers are int-sized: 2 GiB).
inline constexpr std::uint64_t kMaxPhotoFileBytes = std::uint64_t{1} << 30;

// The bytes of a regular file. The file is opened without blocking (a FIFO named x.jpg cannot hang
// the call), and the opened descriptor is checked with fstat before anything is read: only regular
// files (also behind symbolic links), of at most `max_bytes`. Throws Error{kNotFound} ("<path>: no
// such file", a broken symbolic link, a symbolic link loop), Error{kInvalidArgument} for a folder,
// Error{kIo} for a FIFO, a device or a socket and when it cannot be opened or read (permissions, disk
// errors), Error{kDecode} for a file over `max_bytes`.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                          std::uint64_t max_bytes = kMaxPhotoFileBytes);

// Why `path` is not there, to finish a message that names it: "does not exist", "is a symbolic link
// loop (...)", "is a broken symbolic link (to T, which does not exist)". "" when it is there, and
// when it cannot be told (e.g. a folder on the way is not searchable: reading it will say so).
std::string why_missing(const std::filesystem::path& path);

// ${XDG_DATA_HOME:-~/.local/share}/facesearch: where the default library and model packs live.
std::filesystem::path facesearch_data_home();

// 128-bit content hash (XXH3), 32 lowercase hex digits: identifies a photo across renames and moves.
std::string content_hash(const std::vector<std::uint8_t>& bytes);

}  // namespace facesearch
