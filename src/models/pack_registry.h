// The model packs a user has, by name: packs installed under ${XDG_DATA_HOME:-~/.local/share}/facesearch/
// models/NAME (the two packs tools/setup.sh builds, mobilefacenet-faceapi (default) and dlib-faceapi, and those added with `facesearch models add`), and
// InsightFace packs found in ~/.insightface/models/NAME, used in place (never copied). A folder without a
// manifest is described from its ONNX files (pack_description.h); packs are added and removed by
// pack_install.h.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/model_pack.h"

namespace facesearch {

enum class PackSource {
  kInstalled,    // under packs_root(), with a manifest.json
  kInsightFace,  // in insightface_models_root(), described on the fly
};
const char* pack_source_name(PackSource source);  // "installed", "insightface"

struct PackEntry {
  std::string name;
  std::filesystem::path dir;
  PackSource source = PackSource::kInstalled;
};

// ${XDG_DATA_HOME:-~/.local/share}/facesearch/models.
std::filesystem::path packs_root();
// $FACESEARCH_INSIGHTFACE_ROOT, else ~/.insightface/models (insightface's default root).
std::filesystem::path insightface_models_root();

// Every pack, installed ones first, each group by name; an InsightFace pack whose name is also installed
// is shadowed by the installed one (the name means one pack).
std::vector<PackEntry> list_packs();

// The pack of that name, or nullopt.
std::optional<PackEntry> find_pack(const std::string& name);
// The same, or Error{kNotFound} naming the packs there are and how to add one.
PackEntry require_pack(const std::string& name);

// Loads a pack by name. Throws Error{kNotFound} naming the packs there are when there is none, and
// Error{kModel} when the pack is incomplete.
ModelPack load_named_pack(const std::string& name);

// Loads the pack in `dir`: its manifest.json, or else the description of its ONNX files.
ModelPack load_pack_folder(const std::filesystem::path& dir, const std::string& name);

}  // namespace facesearch
