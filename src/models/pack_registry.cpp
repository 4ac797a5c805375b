#include "models/pack_registry.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/error.h"
#include "core/file_io.h"
#include "models/pack_description.h"
#include "models/pack_detail.h"

namespace facesearch {
namespace fs = std::filesystem;
using pack_detail::onnx_files;
using pack_detail::pack_files_folder;
using pack_detail::valid_pack_name;

bool pack_detail::valid_pack_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::optional<fs::path> pack_detail::pack_files_folder(const fs::path& dir) {
  std::error_code ec;
  auto holds_pack = [&](const fs::path& d) { return fs::exists(d / "manifest.json", ec) || !onnx_files(d).empty(); };
  if (holds_pack(dir)) return dir;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && e.path().filename() != "__MACOSX") dirs.push_back(e.path());
  if (dirs.size() == 1 && holds_pack(dirs[0])) return dirs[0];
  return std::nullopt;
}

const char* pack_source_name(PackSource source) {
  switch (source) {
    case PackSource::kInstalled: return "installed";
    case PackSource::kSystem: return "system";
    case PackSource::kInsightFace: return "insightface";
  }
  return "installed";
}

fs::path packs_root() { return facesearch_data_home() / "models"; }

fs::path system_packs_root() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);  // Linux: the binary's real path
  if (ec || exe.empty()) return {};
  return (exe.parent_path() / ".." / "share" / "facesearch" / "models").lexically_normal();
}

fs::path insightface_models_root() {
  if (const char* r = std::getenv("FACESEARCH_INSIGHTFACE_ROOT"); r && *r) return r;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".insightface" / "models";
}

std::vector<PackEntry> pack_detail::list_packs_under(const PackRoots& roots) {
  std::vector<PackEntry> installed, system, insightface;
  std::error_code ec;
  auto named = [](const std::vector<PackEntry>& packs, const std::string& name) {
    return std::any_of(packs.begin(), packs.end(), [&](const PackEntry& p) { return p.name == name; });
  };
  for (const auto& e : fs::directory_iterator(roots.installed, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory(ec) && valid_pack_name(name) && fs::exists(e.path() / "manifest.json", ec))
      installed.push_back({name, e.path(), PackSource::kInstalled});
  }
  for (const auto& e : fs::directory_iterator(roots.system, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory(ec) && valid_pack_name(name) && fs::exists(e.path() / "manifest.json", ec) &&
        !named(installed, name))
      system.push_back({name, e.path(), PackSource::kSystem});
  }
  for (const auto& e : fs::directory_iterator(roots.insightface, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !valid_pack_name(name)) continue;
    const auto files = pack_files_folder(e.path());
    if (!files) continue;
    if (!named(installed, name) && !named(system, name)) insightface.push_back({name, *files, PackSource::kInsightFace});
  }
  auto by_name = [](const PackEntry& a, const PackEntry& b) { return a.name < b.name; };
  std::sort(installed.begin(), installed.end(), by_name);
  std::sort(system.begin(), system.end(), by_name);
  std::sort(insightface.begin(), insightface.end(), by_name);
  installed.insert(installed.end(), system.begin(), system.end());
  installed.insert(installed.end(), insightface.begin(), insightface.end());
  return installed;
}

std::vector<PackEntry> list_packs() {
  return pack_detail::list_packs_under({packs_root(), system_packs_root(), insightface_models_root()});
}

std::optional<PackEntry> find_pack(const std::string& name) {
  if (!valid_pack_name(name)) return std::nullopt;
  for (auto& p : list_packs())
    if (p.name == name) return p;
  return std::nullopt;
}

PackEntry require_pack(const std::string& name) {
  if (auto entry = find_pack(name)) return *entry;
  std::string names;
  for (const auto& p : list_packs()) names += (names.empty() ? "" : ", ") + p.name;
  throw Error(ErrorCode::kNotFound,
              "no model pack named '" + name + "' (packs here: " + (names.empty() ? std::string("none") : names) + ")",
              Hint{Remedy::kListOrAddPacks, insightface_models_root().string()});
}

ModelPack load_named_pack(const std::string& name) {
  const PackEntry entry = require_pack(name);
  return load_pack_folder(entry.dir, entry.name);
}

ModelPack load_pack_folder(const fs::path& dir, const std::string& name) {
  if (fs::exists(dir / "manifest.json")) return load_model_pack(dir);
  std::error_code ec;
  const fs::path abs = fs::absolute(dir, ec);
  ModelPack pack =
      model_pack_from_manifest(describe_pack_folder(abs, name), abs, abs.string() + " (described from its ONNX files)");
  pack.described = true;
  return pack;
}

}  // namespace facesearch
