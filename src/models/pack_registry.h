// The model packs a user has, by name: packs installed under ${XDG_DATA_HOME:-~/.local/share}/facesearch/
// models/NAME (the two packs tools/setup.sh builds, mobilefacenet-faceapi (default) and dlib-faceapi, and those added with `facesearch models add`),
// the packs installed with facesearch itself (`make install`, the .deb: PREFIX/share/facesearch/models/NAME),
// and InsightFace packs found in ~/.insightface/models/NAME, used in place (never copied). A folder without a
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
  kSystem,       // under system_packs_root(), with a manifest.json: installed with facesearch, read-only
  kInsightFace,  // in insightface_models_root(), described on the fly
};
const char* pack_source_name(PackSource source);  // "installed", "system", "insightface"

struct PackEntry {
  std::string name;
  std::filesystem::path dir;
  PackSource source = PackSource::kInstalled;
};

// ${XDG_DATA_HOME:-~/.local/share}/facesearch/models.
std::filesystem::path packs_root();
// The packs installed with facesearch: <folder of the running executable>/../share/facesearch/models, so
// that an installed binary finds its own wherever it was installed (PREFIX/bin/facesearch). Empty when the
// executable's path cannot be read.
std::filesystem::path system_packs_root();
// $FACESEARCH_INSIGHTFACE_ROOT, else ~/.insightface/models (insightface's default root).
std::filesystem::path insightface_models_root();

// Every pack: the user's installed ones first, then the system's, then InsightFace's, each group by name.
// A name means one pack: a system pack of the same name as one of the user's is shadowed by the user's,
// an InsightFace pack by either.
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
