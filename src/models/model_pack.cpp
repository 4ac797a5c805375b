#include "models/model_pack.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "models/pack_registry.h"

namespace facesearch {
namespace {

constexpr int kPackFormatVersion = 1;

[[noreturn]] void fail(const std::filesystem::path& where, const std::string& what) {
  throw Error(ErrorCode::kModel, "model pack " + where.string() + ": " + what);
}

// An integer field: a JSON integer within int's range, else the manifest's error. nlohmann's get<int>
// (and value(key, int)) casts whatever number it finds, and a float such as 7.8e35 cast to int is
// undefined behaviour (found by fuzz/manifest_fuzz.cpp under UBSan).
int as_int(const nlohmann::json& v, const char* name, const std::filesystem::path& manifest) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<int>::max())) return int(v.get<std::uint64_t>());
  } else if (v.is_number_integer()) {
    const auto x = v.get<std::int64_t>();
    if (x >= std::numeric_limits<int>::min() && x <= std::numeric_limits<int>::max()) return int(x);
  }
  fail(manifest, std::string(name) + " must be a whole number of a sensible size, not " + v.dump());
}

// obj[key] as an int (as_int), or `fallback` when obj has no such key.
int int_value(const nlohmann::json& obj, const char* key, int fallback, const std::filesystem::path& manifest) {
  const auto it = obj.find(key);
  return it == obj.end() ? fallback : as_int(*it, key, manifest);
}

InputSpec parse_input(const nlohmann::json& j, const std::filesystem::path& manifest) {
  InputSpec in;
  try {
    const auto& size = j.at("input_size");
    in.width = as_int(size.at(0), "input_size", manifest);
    in.height = as_int(size.at(1), "input_size", manifest);
    in.rgb = j.value("color", std::string("rgb")) == "rgb";
    const auto& mean = j.at("mean");
    for (int c = 0; c < 3; ++c) in.mean[c] = mean.at(c).get<float>();
    in.scale = j.at("scale").get<float>();
  } catch (const nlohmann::json::exception& e) {
    fail(manifest, std::string("bad input description: ") + e.what());
  }
  if (in.width <= 0 || in.height <= 0) fail(manifest, "input_size must be positive");
  return in;
}

// DIR/file, which must be a file: else a model error naming the pack and the file.
std::filesystem::path pack_file(const std::filesystem::path& dir, const std::string& file) {
  // The error_code form: a name the file system refuses (too long, say) is a missing file, not a
  // filesystem_error thrown past the caller (found by fuzz/manifest_fuzz.cpp).
  std::error_code ec;
  std::filesystem::path path = dir / file;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorCode::kModel,
                "model pack " + dir.string() + ": missing " + file + (ec ? " (" + ec.message() + ")" : std::string()),
                Hint{Remedy::kSetupModels});
  return path;
}

void parse_network(const nlohmann::json& j, const std::filesystem::path& dir, NetworkSpec& net) {
  const auto manifest = dir / "manifest.json";
  net.kind = j.value("kind", std::string());
  const std::string file = j.value("file", std::string());
  if (net.kind.empty() || file.empty()) fail(manifest, "every network needs a kind and a file");
  net.file = pack_file(dir, file);
  net.sha256 = j.value("sha256", std::string());
  net.input = parse_input(j, manifest);
}

void parse_detector(const nlohmann::json& j, const std::filesystem::path& dir, DetectorSpec& det) {
  parse_network(j, dir, det);
  det.letterbox = j.value("letterbox", std::string("pad_bottom_right"));
  det.score_threshold = j.value("score_threshold", 0.5f);
  det.nms_iou = j.value("nms_iou", 0.5f);
  det.max_faces = int_value(j, "max_faces", 100, dir / "manifest.json");
  det.small_face_px = j.value("small_face_px", 0.f);
  det.small_face_score = j.value("small_face_score", 0.f);
  if (j.contains("fitted")) {
    const auto manifest = dir / "manifest.json";
    const auto& f = j["fitted"];
    FittedDetector fitted;
    const std::string file = f.value("file", std::string());
    if (file.empty()) fail(manifest, det.kind + ": the fitted graph needs a file");
    fitted.file = pack_file(dir, file);
    fitted.sha256 = f.value("sha256", std::string());
    for (const auto& size : f.at("input_sizes")) {
      const std::array<int, 2> wh{as_int(size.at(0), "input_sizes", manifest), as_int(size.at(1), "input_sizes", manifest)};
      if (wh[0] <= 0 || wh[1] <= 0) fail(manifest, file + ": input sizes must be positive");
      fitted.input_sizes.push_back(wh);
    }
    if (fitted.input_sizes.empty()) fail(manifest, file + ": the fitted graph lists no input sizes");
    det.fitted = std::move(fitted);
  }
}

}  // namespace

const char* metric_name(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
  }
  return "?";
}

ModelPack load_model_pack(const std::filesystem::path& dir_in) {
  std::error_code ec;
  const auto dir = std::filesystem::absolute(dir_in, ec);
  const auto manifest_path = dir / "manifest.json";
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(ErrorCode::kModel, "models folder " + dir.string() + " does not exist", Hint{Remedy::kSetupModels});
  std::ifstream in(manifest_path);
  if (!in) throw Error(ErrorCode::kModel, "no manifest.json in " + dir.string(), Hint{Remedy::kSetupModels});
  std::stringstream text;
  text << in.rdbuf();
  return model_pack_from_manifest(text.str(), dir, manifest_path.string());
}

ModelPack model_pack_from_manifest(const std::string& manifest_json, const std::filesystem::path& dir,
                                   const std::string& where) {
  const std::filesystem::path manifest_path = where;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(manifest_json);
  } catch (const nlohmann::json::exception& e) {
    fail(manifest_path, std::string("not valid JSON: ") + e.what());
  }
  // Valid JSON of the wrong shape (not an object, a string where a number goes) is a manifest error too,
  // never a nlohmann exception reaching the caller (found by fuzz/manifest_fuzz.cpp).
  if (!j.is_object()) fail(manifest_path, "not a facesearch model pack manifest (not a JSON object)");
  ModelPack pack;
  try {
    if (j.value("format", std::string()) != "facesearch-model-pack")
      fail(manifest_path, "not a facesearch model pack manifest");
    const int format_version = int_value(j, "format_version", 0, manifest_path);
    if (format_version > kPackFormatVersion)
      fail(manifest_path, "made by a newer facesearch (format_version " + std::to_string(format_version) +
                              "); upgrade facesearch");
    pack.dir = dir;
    pack.name = j.value("name", dir.filename().string());
    pack.description = j.value("description", std::string());
    pack.source = j.value("source", std::string());
    pack.license = j.value("license", std::string());
    pack.non_commercial = j.value("non_commercial", false);
    pack.threshold_source = j.value("threshold_source", std::string());
    parse_detector(j.at("detector"), dir, pack.detector);
    if (j.contains("fast_detector")) {
      DetectorSpec fast;
      parse_detector(j["fast_detector"], dir, fast);
      pack.fast_detector = std::move(fast);
    }
    if (j.contains("landmarker")) {
      LandmarkerSpec lm;
      parse_network(j["landmarker"], dir, lm);
      lm.points = int_value(j["landmarker"], "points", 68, manifest_path);
      pack.landmarker = lm;
    }
    const auto& a = j.at("aligner");
    pack.aligner.kind = a.value("kind", std::string("dlib_chip"));
    pack.aligner.size = int_value(a, "size", 150, manifest_path);
    pack.aligner.padding = a.value("padding", 0.25f);
    pack.aligner.antialias = a.value("antialias", false);
    const auto& e = j.at("embedder");
    parse_network(e, dir, pack.embedder);
    pack.embedder.dim = int_value(e, "dim", 128, manifest_path);
    pack.embedder.batch = std::max(1, int_value(e, "batch", 8, manifest_path));
    if (const std::string fast = e.value("fast_file", std::string()); !fast.empty()) {
      pack.embedder.fast_file = pack_file(dir, fast);
      pack.embedder.fast_sha256 = e.value("fast_sha256", std::string());
    }
    const std::string metric = j.value("metric", std::string("cosine"));
    if (metric != "cosine") fail(manifest_path, "unknown metric '" + metric + "'");
    pack.metric = Metric::kCosine;
    pack.threshold = j.at("threshold").get<float>();
    if (j.contains("query_expansion")) {
      const auto& x = j["query_expansion"];
      QueryExpansion q;
      q.top = int_value(x, "top", 3, manifest_path);
      q.at_least = x.value("at_least", 0.5f);
      q.raise = x.value("raise", 0.f);
      if (q.top < 1 || !(q.at_least > -1 && q.at_least <= 1))
        fail(manifest_path, "query_expansion needs top >= 1 and at_least in (-1, 1]");
      if (!(q.raise >= 0 && q.raise <= 0.5f)) fail(manifest_path, "query_expansion's raise must be from 0 to 0.5");
      pack.query_expansion = q;
    }
    if (j.contains("several_photos")) {
      pack.several_photos.person_share = j["several_photos"].value("person_share", 1.f);
      if (!(pack.several_photos.person_share > 0 && pack.several_photos.person_share <= 1))
        fail(manifest_path, "several_photos' person_share must be in (0, 1]");
    }
  } catch (const nlohmann::json::exception& e) {
    fail(manifest_path, std::string("incomplete manifest: ") + e.what());
  }

  // Fingerprint: the weights' checksums and everything that changes what an embedding means. The fast
  // detector is left out on purpose: it only finds faces, and packs without one must keep their id.
  std::ostringstream fp;
  fp << pack.detector.sha256 << '|' << (pack.landmarker ? pack.landmarker->sha256 : "") << '|' << pack.embedder.sha256
     << '|' << pack.aligner.kind << pack.aligner.size << '|' << pack.aligner.padding;
  if (pack.aligner.antialias) fp << "|antialias";
  // Packs other than dlib's also hash how their pixels are normalised (inferred for InsightFace packs,
  // editable in a manifest): a change there changes every embedding. dlib-faceapi keeps its old id.
  if (pack.embedder.kind != "dlib_resnet128") {
    for (const NetworkSpec* net : {static_cast<const NetworkSpec*>(&pack.detector), static_cast<const NetworkSpec*>(&pack.embedder)})
      fp << '|' << net->input.width << 'x' << net->input.height << (net->input.rgb ? "rgb" : "bgr") << net->input.mean[0]
         << ',' << net->input.mean[1] << ',' << net->input.mean[2] << '*' << net->input.scale;
  }
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64: stable across builds and platforms
  for (unsigned char ch : fp.str()) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  pack.fingerprint = pack.name + ":" + pack.embedder.sha256.substr(0, 16) + ":" + hex;
  return pack;
}

std::filesystem::path resolve_models_dir(const std::optional<std::filesystem::path>& explicit_dir) {
  if (explicit_dir && !explicit_dir->empty()) return *explicit_dir;
  if (const char* env = std::getenv("FACESEARCH_MODELS"); env && *env) return env;
  // The user's own copy (tools/setup.sh builds it there) before the one installed with facesearch; when
  // neither is there, the user's path, which the error then names.
  const std::filesystem::path own = packs_root() / kDefaultPackName;
  const std::filesystem::path system = system_packs_root();
  std::error_code ec;
  if (!system.empty() && !std::filesystem::exists(own / "manifest.json", ec) &&
      std::filesystem::exists(system / kDefaultPackName / "manifest.json", ec))
    return system / kDefaultPackName;
  return own;
}

}  // namespace facesearch
