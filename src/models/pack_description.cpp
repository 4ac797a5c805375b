#include "models/pack_description.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/onnx_graph_head.h"
#include "models/onnx_session.h"
#include "models/pack_detail.h"
#include "models/pack_fetch.h"

namespace facesearch {
namespace fs = std::filesystem;
using nlohmann::json;
using pack_detail::cache_home;
using pack_detail::describe_uncached;
using pack_detail::first_seen_path;
using pack_detail::fnv_hex;
using pack_detail::lower;
using pack_detail::onnx_files;
using pack_detail::read_first_seen;

fs::path pack_detail::cache_home() {
  if (const char* c = std::getenv("XDG_CACHE_HOME"); c && *c) return fs::path(c) / "facesearch";
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".cache" / "facesearch";
}

std::string pack_detail::lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string pack_detail::fnv_hex(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::vector<fs::path> pack_detail::onnx_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && lower(e.path().extension().string()) == ".onnx") files.push_back(e.path());
  std::sort(files.begin(), files.end());  // insightface: sorted(glob('*.onnx'))
  return files;
}

fs::path pack_detail::first_seen_path() { return cache_home() / "packs" / "first-seen-sha256.json"; }

json pack_detail::read_first_seen() {
  std::ifstream in(first_seen_path());
  json j = in ? json::parse(in, nullptr, false) : json::object();
  return j.is_object() ? j : json::object();
}

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

}  // namespace

std::string pack_detail::describe_uncached(const fs::path& dir, const std::string& name,
                                           const std::vector<fs::path>& files, bool remember) {
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

}  // namespace facesearch
