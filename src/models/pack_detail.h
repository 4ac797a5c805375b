// Internal to the model-pack code: the helpers that discovery (pack_registry.cpp), description
// (pack_description.cpp), install (pack_install.cpp) and verification (library/pack_verify.cpp) share.
// Each is defined in the .cpp file named above it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/pack_registry.h"

namespace facesearch::pack_detail {

// pack_registry.cpp

// The folders list_packs() reads: packs_root(), system_packs_root(), insightface_models_root().
struct PackRoots {
  std::filesystem::path installed, system, insightface;
};
// list_packs() over these roots (an empty or missing one holds no pack).
std::vector<PackEntry> list_packs_under(const PackRoots& roots);

// Letters, digits, '.', '_', '-'; not empty, not starting with '.', at most 100 characters.
bool valid_pack_name(const std::string& name);
// The folder that holds a pack's files: `dir` itself, or its only subfolder holding them (insightface
// unzips antelopev2.zip into ~/.insightface/models/antelopev2/antelopev2/).
std::optional<std::filesystem::path> pack_files_folder(const std::filesystem::path& dir);

// pack_description.cpp

// ${XDG_CACHE_HOME:-~/.cache}/facesearch.
std::filesystem::path cache_home();
std::string lower(std::string s);
// 16 hex digits of the 64-bit FNV-1a hash of `text` (cache keys, download folders).
std::string fnv_hex(const std::string& text);
// The *.onnx files directly in `dir`, sorted (insightface: sorted(glob('*.onnx'))).
std::vector<std::filesystem::path> onnx_files(const std::filesystem::path& dir);
// describe_pack_folder without the cache, for `files` (onnx_files(dir)). `remember`: record each used
// file's checksum as first seen (for packs used in place, not staging copies).
std::string describe_uncached(const std::filesystem::path& dir, const std::string& name,
                              const std::vector<std::filesystem::path>& files, bool remember);
// The sha256 each file of a described pack had when facesearch first hashed it, so that `models verify`
// can tell a file that changed since (the description itself is re-made when a file changes):
// {"/abs/file.onnx": {"sha256": ..., "first_seen": "YYYY-MM-DD"}}.
std::filesystem::path first_seen_path();
nlohmann::json read_first_seen();

}  // namespace facesearch::pack_detail
