#include "models/pack_registry.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "detect/detector.h"
#include "embed/embedder.h"
#include "models/onnx_graph_head.h"
#include "models/onnx_session.h"
#include "models/pack_fetch.h"

namespace facesearch {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kInsightFaceLicense =
    "InsightFace's pretrained models are licensed for non-commercial research purposes only (see the "
    "InsightFace project's model licence); facesearch's code that runs them is not";
constexpr const char* kYuNetLicense = "MIT (OpenCV zoo, face_detection_yunet)";
constexpr const char* kSFaceLicense = "Apache-2.0 (OpenCV zoo, face_recognition_sface)";
// The seed system compared ArcFace embeddings at cosine 0.5; it was not re-measured here (no real weights).
constexpr float kArcFaceThreshold = 0.5f;
constexpr const char* kArcFaceThresholdSource =
    "the seed system's cosine threshold for InsightFace packs, not re-measured by facesearch (docs/MODELS.md)";
// OpenCV's FaceRecognizerSF documentation and zoo demo: cosine >= 0.363 is the same person.
constexpr float kSFaceThreshold = 0.363f;
constexpr const char* kSFaceThresholdSource = "OpenCV's published SFace cosine threshold (FaceRecognizerSF, zoo demo)";

fs::path cache_home() {
  if (const char* c = std::getenv("XDG_CACHE_HOME"); c && *c) return fs::path(c) / "facesearch";
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".cache" / "facesearch";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool valid_pack_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::vector<fs::path> onnx_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && lower(e.path().extension().string()) == ".onnx") files.push_back(e.path());
  std::sort(files.begin(), files.end());  // insightface: sorted(glob('*.onnx'))
  return files;
}

// The folder that holds a pack's files: `dir` itself, or its only subfolder holding them (insightface
// unzips antelopev2.zip into ~/.insightface/models/antelopev2/antelopev2/).
std::optional<fs::path> pack_files_folder(const fs::path& dir) {
  std::error_code ec;
  auto holds_pack = [&](const fs::path& d) { return fs::exists(d / "manifest.json", ec) || !onnx_files(d).empty(); };
  if (holds_pack(dir)) return dir;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && e.path().filename() != "__MACOSX") dirs.push_back(e.path());
  if (dirs.size() == 1 && holds_pack(dirs[0])) return dirs[0];
  return std::nullopt;
}

std::string fnv_hex(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// What one ONNX file is, as insightface's model_zoo.get_model (and OpenCV's zoo names) tell.
struct Candidate {
  fs::path file;
  std::string task;  // "detection", "recognition", or another task / why it is not usable
  std::string kind;  // scrfd, yunet, arcface, sface
  size_t outputs = 0;
  int input_side = 0;
  int dim = 0;
};

Candidate classify(const fs::path& file) {
  Candidate c;
  c.file = file;
  try {
    const OnnxSession session(file, RuntimeOptions{});
    const auto& names = session.output_names();
    const auto& in = session.input_shape();
    c.outputs = names.size();
    if (session.input_count() != 1) {
      // insightface's model_zoo: two inputs and a 128-px image is INSwapper (face swapping).
      c.task = "face swapping or another model of " + std::to_string(session.input_count()) +
               " inputs (not used by search)";
    } else if (std::find(names.begin(), names.end(), "cls_8") != names.end()) {
      c.task = "detection", c.kind = "yunet";
    } else if (names.size() >= 5) {
      c.task = "detection", c.kind = "scrfd";
    } else if (in.size() == 4 && in[2] == in[3] && in[2] == 192) {
      c.task = "landmarks (not used by search)";
    } else if (in.size() == 4 && in[2] == in[3] && in[2] == 96) {
      c.task = "gender and age (not used by search)";
    } else if (in.size() == 4 && in[2] == in[3] && in[2] >= 112 && in[2] % 16 == 0) {
      c.task = "recognition";
      c.input_side = int(in[2]);
      const auto& out = session.output_shapes().front();
      c.dim = !out.empty() && out.back() > 0 ? int(out.back()) : 0;
      if (c.dim == 0) {  // a dynamic output size: run once on a blank chip to learn it
        std::vector<float> blank(3u * c.input_side * c.input_side, 0.f);
        const std::int64_t shape[4] = {1, 3, c.input_side, c.input_side};
        c.dim = int(session.run(blank, shape).front().data.size());
      }
    } else {
      c.task = "another task (not used by search)";
    }
  } catch (const Error& e) {
    c.task = std::string("unreadable: ") + e.what();
  }
  return c;
}

// The sha256 each file of a described pack had when facesearch first hashed it, so that `models verify`
// can tell a file that changed since (the description itself is re-made when a file changes).
fs::path first_seen_path() { return cache_home() / "packs" / "first-seen-sha256.json"; }

json read_first_seen() {
  std::ifstream in(first_seen_path());
  json j = in ? json::parse(in, nullptr, false) : json::object();
  return j.is_object() ? j : json::object();
}

void remember_first_seen(const fs::path& file, const std::string& sha256) {
  json j = read_first_seen();
  if (j.contains(file.string())) return;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", std::gmtime(&now));
  j[file.string()] = {{"sha256", sha256}, {"first_seen", day}};
  std::error_code ec;
  fs::create_directories(first_seen_path().parent_path(), ec);
  const fs::path tmp = first_seen_path().string() + ".tmp" + std::to_string(::getpid());
  if (std::ofstream out(tmp); out && (out << j.dump(1)) && out.flush()) fs::rename(tmp, first_seen_path(), ec);
  fs::remove(tmp, ec);
}

// `remember`: record the file's checksum as first seen (for packs used in place, not staging copies).
json network_json(const std::string& kind, const fs::path& file, int w, int h, bool rgb, float mean, float scale,
                  bool remember) {
  const std::string sha256 = sha256_file(file);
  if (remember) remember_first_seen(file, sha256);
  return json{{"kind", kind},
              {"file", file.filename().string()},
              {"sha256", sha256},
              {"input_size", {w, h}},
              {"color", rgb ? "rgb" : "bgr"},
              {"mean", {mean, mean, mean}},
              {"scale", scale}};
}

std::string describe_uncached(const fs::path& dir, const std::string& name, const std::vector<fs::path>& files,
                              bool remember) {
  std::vector<Candidate> all;
  for (const auto& f : files) all.push_back(classify(f));
  const Candidate* det = nullptr;
  const Candidate* rec = nullptr;
  for (const auto& c : all) {  // FaceAnalysis keeps the first model of each task
    if (c.task == "detection" && !det) det = &c;
    if (c.task == "recognition" && !rec) rec = &c;
  }
  std::string found;
  for (const auto& c : all) found += "\n  " + c.file.filename().string() + ": " + c.task;
  if (!det || !rec)
    throw Error(ErrorCode::kModel, "model pack folder " + dir.string() + " has no " +
                                       (det ? "face recogniser (an ArcFace or SFace .onnx)"
                                            : "face detector (an SCRFD or YuNet .onnx)") +
                                       "; its ONNX files:" + (found.empty() ? std::string(" none") : found));

  json j{{"format", "facesearch-model-pack"}, {"format_version", 1}, {"name", name}};
  json detector;
  if (det->kind == "scrfd") {
    if (det->outputs == 6 || det->outputs == 10)
      throw Error(ErrorCode::kModel, det->file.string() + " is an SCRFD detector without keypoints (" +
                                         std::to_string(det->outputs) +
                                         " outputs): faces are aligned on the detector's 5 keypoints, as insightface does");
    // insightface 0.7: FaceAnalysis.prepare(det_size=(640, 640)), det_thresh 0.5, SCRFD.nms_thresh 0.4.
    detector = network_json("scrfd", det->file, 640, 640, true, 127.5f, 1.f / 128.f, remember);
    detector["letterbox"] = "pad_bottom_right";
    detector["score_threshold"] = 0.5;
    detector["nms_iou"] = 0.4;
    detector["max_faces"] = 0;  // max_num=0: every face
  } else {
    // OpenCV zoo demo: score 0.9, NMS 0.3, top_k 5000; blobFromImage defaults (BGR, raw pixels).
    detector = network_json("yunet", det->file, 640, 640, false, 0.f, 1.f, remember);
    detector["letterbox"] = "pad_bottom_right";
    detector["score_threshold"] = 0.9;
    detector["nms_iou"] = 0.3;
    detector["max_faces"] = 5000;
  }
  const bool sface = lower(rec->file.filename().string()).find("sface") != std::string::npos ||
                     (det->kind == "yunet" && rec->dim == 128);
  json embedder;
  std::string normalisation;
  if (sface) {
    // FaceRecognizerSF::feature: blobFromImage(aligned, 1, Size(112, 112), Scalar(0, 0, 0), swapRB=true).
    embedder = network_json("sface", rec->file, rec->input_side, rec->input_side, true, 0.f, 1.f, remember);
    normalisation = "RGB, raw 0..255 (OpenCV's FaceRecognizerSF)";
  } else if (graph_normalises_input(read_onnx_graph_head(rec->file))) {
    embedder = network_json("arcface", rec->file, rec->input_side, rec->input_side, true, 0.f, 1.f, remember);
    normalisation = "RGB, raw 0..255: the graph normalises (insightface: Sub/Mul among its first nodes)";
  } else {
    embedder = network_json("arcface", rec->file, rec->input_side, rec->input_side, true, 127.5f, 1.f / 127.5f,
                            remember);
    normalisation = "RGB, (x - 127.5) / 127.5 (insightface's ArcFaceONNX)";
  }
  embedder["dim"] = rec->dim;
  embedder["batch"] = 8;
  embedder["normalisation"] = normalisation;
  j["detector"] = detector;
  j["aligner"] = {{"kind", "arcface_5pt"}, {"size", rec->input_side}};
  j["embedder"] = embedder;
  j["metric"] = "cosine";
  const bool insightface = det->kind == "scrfd" || !sface;
  if (det->kind == "scrfd" && !sface) {
    j["description"] = "InsightFace pack: SCRFD detector " + det->file.filename().string() + " + ArcFace recogniser " +
                       rec->file.filename().string() + " (" + std::to_string(rec->dim) + "-d), run as insightface 0.7";
  } else if (det->kind == "yunet" && sface) {
    j["description"] = "OpenCV zoo: YuNet detector " + det->file.filename().string() + " + SFace recogniser " +
                       rec->file.filename().string() + ", run as OpenCV's FaceDetectorYN and FaceRecognizerSF";
  } else {
    j["description"] = "Detector " + det->file.filename().string() + " (" + det->kind + ") + recogniser " +
                       rec->file.filename().string() + " (" + std::string(sface ? "sface" : "arcface") + ")";
  }
  if (sface) {
    j["threshold"] = kSFaceThreshold;
    j["threshold_source"] = kSFaceThresholdSource;
  } else {
    j["threshold"] = kArcFaceThreshold;
    j["threshold_source"] = kArcFaceThresholdSource;
  }
  std::string license;
  if (insightface) license = kInsightFaceLicense;
  if (det->kind == "yunet") license += std::string(license.empty() ? "" : "; ") + "detector: " + kYuNetLicense;
  if (sface) license += std::string(license.empty() ? "" : "; ") + "recogniser: " + kSFaceLicense;
  j["license"] = license;
  j["non_commercial"] = insightface;
  j["source"] = "folder " + dir.string();
  json unused = json::array();
  for (const auto& c : all)
    if (&c != det && &c != rec) unused.push_back({{"file", c.file.filename().string()}, {"task", c.task}});
  j["unused"] = unused;
  return j.dump(2);
}

// Removes a folder tree when it goes out of scope (the staging area of add_pack).
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

void copy_file_checked(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string url_file_name(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(slash + 1);
}

}  // namespace

const char* pack_source_name(PackSource source) {
  return source == PackSource::kInstalled ? "installed" : "insightface";
}

fs::path packs_root() { return facesearch_data_home() / "models"; }

fs::path insightface_models_root() {
  if (const char* r = std::getenv("FACESEARCH_INSIGHTFACE_ROOT"); r && *r) return r;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".insightface" / "models";
}

std::vector<PackEntry> list_packs() {
  std::vector<PackEntry> installed, insightface;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(packs_root(), ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory(ec) && valid_pack_name(name) && fs::exists(e.path() / "manifest.json", ec))
      installed.push_back({name, e.path(), PackSource::kInstalled});
  }
  for (const auto& e : fs::directory_iterator(insightface_models_root(), ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !valid_pack_name(name)) continue;
    const auto files = pack_files_folder(e.path());
    if (!files) continue;
    if (std::none_of(installed.begin(), installed.end(), [&](const PackEntry& p) { return p.name == name; }))
      insightface.push_back({name, *files, PackSource::kInsightFace});
  }
  auto by_name = [](const PackEntry& a, const PackEntry& b) { return a.name < b.name; };
  std::sort(installed.begin(), installed.end(), by_name);
  std::sort(insightface.begin(), insightface.end(), by_name);
  installed.insert(installed.end(), insightface.begin(), insightface.end());
  return installed;
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
  throw Error(ErrorCode::kNotFound, "no model pack named '" + name + "' (packs here: " +
                                        (names.empty() ? std::string("none") : names) + "; see `facesearch models list`, " +
                                        "add one with `facesearch models add FOLDER|ZIP|URL`, or put InsightFace packs in " +
                                        insightface_models_root().string() + ")");
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

std::string describe_pack_folder(const fs::path& dir_in, const std::string& name) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_in, ec);
  if (!fs::is_directory(dir)) throw Error(ErrorCode::kNotFound, "model pack folder " + dir.string() + " does not exist");
  const auto files = onnx_files(dir);
  if (files.empty()) throw Error(ErrorCode::kModel, "model pack folder " + dir.string() + " holds no .onnx files");

  // Cache key: everything that would change the description.
  std::ostringstream key;
  key << "v1|" << dir.string() << '|' << name;
  for (const auto& f : files)
    key << '|' << f.filename().string() << ':' << fs::file_size(f, ec) << ':'
        << fs::last_write_time(f, ec).time_since_epoch().count();
  const fs::path cached = cache_home() / "packs" / (name + "-" + fnv_hex(key.str()) + ".json");
  if (std::ifstream in(cached); in) {
    std::stringstream text;
    text << in.rdbuf();
    if (json::accept(text.str())) return text.str();
  }
  std::string description = describe_uncached(dir, name, files, /*remember=*/true);
  fs::create_directories(cached.parent_path(), ec);
  const fs::path tmp = cached.string() + ".tmp" + std::to_string(::getpid());
  if (std::ofstream out(tmp); out && (out << description) && out.flush()) fs::rename(tmp, cached, ec);
  fs::remove(tmp, ec);  // a cache that cannot be written costs only time
  return description;
}

AddedPack add_pack(const std::string& source, const AddPackOptions& options) {
  std::error_code ec;
  const std::string expected = lower(options.expected_sha256);
  if (!expected.empty() && (expected.size() != 64 || expected.find_first_not_of("0123456789abcdef") != std::string::npos))
    throw Error(ErrorCode::kInvalidArgument, "--sha256 must be 64 hex digits, not '" + options.expected_sha256 + "'");

  fs::create_directories(packs_root(), ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create " + packs_root().string() + ": " + ec.message());
  // Staging folders of adds and removals that were killed (their process is gone) are removed.
  for (const auto& e : fs::directory_iterator(packs_root(), ec)) {
    const std::string n = e.path().filename().string();
    const size_t prefix = n.rfind(".adding-", 0) == 0 ? 8 : n.rfind(".removing-", 0) == 0 ? 10 : 0;
    if (prefix == 0) continue;
    const long pid = std::strtol(n.c_str() + prefix, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  RemoveOnExit staging{packs_root() / (".adding-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))};
  fs::create_directories(staging.path, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot write in " + packs_root().string() + ": " + ec.message());

  fs::path folder;        // the pack's files
  std::string default_name;
  fs::path zip;
  if (is_url(source)) {
    const std::string file = url_file_name(source);
    if (file.size() < 5 || lower(file.substr(file.size() - 4)) != ".zip")
      throw Error(ErrorCode::kInvalidArgument, source + ": a model pack URL must name a .zip file");
    // One folder per URL: a .part is only ever resumed from the URL it came from.
    const fs::path downloads = cache_home() / "downloads" / fnv_hex(source);
    zip = downloads / file;
    // A complete download is kept only when the install failed after it (a name already taken, say),
    // and used again by the next try: when it has the checksum asked for, or when none is asked.
    if (!fs::is_regular_file(zip, ec) || (!expected.empty() && sha256_file(zip) != expected)) {
      DownloadOptions d;
      d.expected_sha256 = expected;
      if (options.progress) d.progress = [&](const DownloadProgress& p) { options.progress(p.received, p.total); };
      download_file(source, zip, d);
    }
    default_name = file.substr(0, file.size() - 4);
  } else {
    if (source.find("://") != std::string::npos)
      throw Error(ErrorCode::kInvalidArgument, source + ": only http:// and https:// URLs can be downloaded");
    const fs::path path = source;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::kNotFound, source + ": no such file or folder");
    if (fs::is_directory(path, ec)) {
      if (!expected.empty())
        throw Error(ErrorCode::kInvalidArgument, "--sha256 checks a .zip file or a download, not a folder (" + source + ")");
      const fs::path given = fs::absolute(path, ec).lexically_normal();
      default_name = given.filename().string();
      if (default_name.empty()) default_name = given.parent_path().filename().string();
      const auto files = pack_files_folder(given);
      if (!files) throw Error(ErrorCode::kModel, "model pack folder " + given.string() + " holds no .onnx files (nor one folder of them)");
      folder = *files;
    } else {
      zip = path;
      default_name = path.stem().string();
      if (!expected.empty()) {
        const std::string actual = sha256_file(zip);
        if (actual != expected)
          throw Error(ErrorCode::kIo, source + ": sha256 is " + actual + ", expected " + expected + "; not installed");
      }
    }
  }
  if (!zip.empty()) {
    const fs::path extracted = staging.path / "extracted";
    extract_zip(zip, extracted);
    const auto files = pack_files_folder(extracted);
    if (!files)
      throw Error(ErrorCode::kModel, zip.filename().string() +
                                         " holds no model pack (no .onnx files at its top or in one folder)");
    folder = *files;
    if (folder != extracted) default_name = folder.filename().string();
  }

  const std::string name = options.name.empty() ? default_name : options.name;
  if (!valid_pack_name(name))
    throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not a usable pack name (letters, digits, '.', '_', '-'); "
                                             "choose one with --name");
  const fs::path target = packs_root() / name;
  if (fs::exists(target, ec) && !options.replace)
    throw Error(ErrorCode::kInvalidArgument, "a model pack named " + name + " is installed already (" + target.string() +
                                                 "); use --replace to replace it, or --name to install under another name");

  const fs::path built = staging.path / "pack";
  fs::create_directories(built, ec);
  AddedPack added;
  if (fs::exists(folder / "manifest.json")) {
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (e.is_regular_file()) copy_file_checked(e.path(), built / e.path().filename());
    // The manifest's own name wins unless --name says otherwise.
    std::ifstream in(built / "manifest.json");
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded()) throw Error(ErrorCode::kModel, (folder / "manifest.json").string() + ": not valid JSON");
    j["name"] = name;
    std::ofstream(built / "manifest.json") << j.dump(2) << '\n';
  } else {
    // Not through the cache: the folder may be a staging copy, described once.
    const std::string description = describe_uncached(folder, name, onnx_files(folder), /*remember=*/false);
    json j = json::parse(description);
    for (const char* part : {"detector", "embedder"}) {
      const std::string file = j[part]["file"].get<std::string>();
      copy_file_checked(folder / file, built / file);
    }
    for (const auto& u : j["unused"]) added.skipped.push_back(u["file"].get<std::string>());
    j.erase("unused");
    j["source"] = is_url(source) ? "downloaded from " + source : "copied from " + source;
    std::ofstream out(built / "manifest.json");
    out << j.dump(2) << '\n';
    if (!out.flush()) throw Error(ErrorCode::kIo, "cannot write " + (built / "manifest.json").string());
  }
  added.pack = load_model_pack(built);  // checks the manifest and that its files are there
  for (const auto& check : verify_pack(added.pack))
    if (!check.ok) throw Error(ErrorCode::kModel, check.file.string() + ": " + check.detail + "; not installed");

  if (fs::exists(target, ec)) {
    fs::rename(target, staging.path / "replaced", ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot replace " + target.string() + ": " + ec.message());
  }
  if (options.replace) {
    fs::rename(built, target, ec);
  } else if (::renameat2(AT_FDCWD, built.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    // Another `models add` of the same name finished first.
    ec = std::error_code(errno, std::generic_category());
    if (errno == EEXIST || errno == ENOTEMPTY)
      throw Error(ErrorCode::kInvalidArgument, "a model pack named " + name + " was installed meanwhile (" +
                                                   target.string() + "); use --replace to replace it");
  }
  if (ec) {
    std::error_code ignored;
    if (fs::exists(staging.path / "replaced")) fs::rename(staging.path / "replaced", target, ignored);
    throw Error(ErrorCode::kIo, "cannot move the pack into " + target.string() + ": " + ec.message());
  }
  added.pack = load_model_pack(target);
  added.entry = {name, target, PackSource::kInstalled};
  if (is_url(source)) {  // installed: the download has served its purpose
    fs::remove(zip, ec);
    fs::remove(zip.parent_path(), ec);  // only when empty
  }
  return added;
}

fs::path remove_pack(const std::string& name) {
  const PackEntry entry = require_pack(name);
  if (entry.source != PackSource::kInstalled)
    throw Error(ErrorCode::kInvalidArgument, "model pack " + name + " is the folder " + entry.dir.string() +
                                                 ", which facesearch uses in place but did not install; delete it "
                                                 "yourself if you mean to");
  // Moved aside first, so that an interrupted removal never leaves a half pack under the name.
  std::error_code ec;
  const fs::path aside = packs_root() / (".removing-" + std::to_string(::getpid()) + "-" + name);
  fs::rename(entry.dir, aside, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot remove " + entry.dir.string() + ": " + ec.message());
  fs::remove_all(aside, ec);
  return entry.dir;
}

std::vector<PackCheck> verify_pack(const ModelPack& pack) {
  std::vector<PackCheck> checks;
  auto check_network = [&](const std::string& role, const NetworkSpec& net, const std::function<std::string()>& load) {
    PackCheck c{role, net.file, true, {}};
    std::error_code ec;
    if (!fs::is_regular_file(net.file, ec)) {
      c.ok = false, c.detail = "missing";
      checks.push_back(c);
      return;
    }
    try {
      const std::string actual = sha256_file(net.file);
      // A described pack's manifest is re-made from the files as they are now: compare with the
      // checksum the file had when facesearch first saw it.
      std::string recorded = lower(net.sha256), since = "the manifest says";
      if (pack.described) {
        const json seen = read_first_seen();
        const auto it = seen.find(fs::absolute(net.file, ec).string());
        recorded = it != seen.end() ? it->value("sha256", std::string()) : std::string();
        since = it != seen.end() ? "it was " + it->value("sha256", std::string()) + " when first seen on " +
                                       it->value("first_seen", std::string("?"))
                                 : "";
      }
      if (!recorded.empty() && actual != recorded) {
        c.ok = false;
        c.detail = "sha256 is " + actual + ", " + (pack.described ? since : since + " " + recorded) +
                   " (the file changed or is damaged" +
                   (pack.described ? "; if you replaced it on purpose, delete " + first_seen_path().string() : "") + ")";
        checks.push_back(c);
        return;
      }
      c.detail = load() + (recorded.empty() ? ", no checksum recorded" : ", sha256 ok");
    } catch (const Error& e) {
      c.ok = false, c.detail = e.what();
    }
    checks.push_back(c);
  };
  const RuntimeOptions runtime;
  check_network("detector", pack.detector, [&] {
    const auto d = make_detector(pack.detector, runtime);
    return pack.detector.kind + " loads" + (d->keypoints() ? ", gives " + std::to_string(d->keypoints()) + " keypoints" : "");
  });
  if (pack.fast_detector)
    check_network("fast detector", *pack.fast_detector, [&] {
      make_detector(*pack.fast_detector, runtime);
      return pack.fast_detector->kind + " loads";
    });
  if (pack.landmarker)
    check_network("landmarker", *pack.landmarker, [&] {
      OnnxSession s(pack.landmarker->file, runtime);
      return pack.landmarker->kind + " loads";
    });
  check_network("embedder", pack.embedder, [&] {
    const auto e = make_embedder(pack, runtime);
    return pack.embedder.kind + " loads, " + std::to_string(e->dim()) + " values per face";
  });
  return checks;
}

}  // namespace facesearch
