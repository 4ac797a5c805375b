// Reading whole files with errors that name the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace facesearch {

// The file's bytes. Throws Error{kNotFound} ("<path>: no such file"), Error{kInvalidArgument} for a
// folder, Error{kIo} when it cannot be opened or read.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

// ${XDG_DATA_HOME:-~/.local/share}/facesearch: where the default library and model packs live.
std::filesystem::path facesearch_data_home();

// 128-bit content hash (XXH3), 32 lowercase hex digits: identifies a photo across renames and moves.
std::string content_hash(const std::vector<std::uint8_t>& bytes);

}  // namespace facesearch
