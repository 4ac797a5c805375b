// The model packs a user has, by name: packs installed under ${XDG_DATA_HOME:-~/.local/share}/facesearch/
// models/NAME (the default dlib-faceapi pack, and those added with `facesearch models add`), and
// InsightFace packs found in ~/.insightface/models/NAME, used in place (never copied).
//
// A folder of ONNX files without a manifest (an InsightFace pack, OpenCV zoo's YuNet + SFace) is described
// by looking at the files the way its reference implementation picks them (insightface 0.7's
// FaceAnalysis + model_zoo.get_model; OpenCV's FaceDetectorYN + FaceRecognizerSF): describe_pack_folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
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

// The name of the pack used when none is named.
inline constexpr const char* kDefaultPackName = "dlib-faceapi";

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

// The manifest (JSON text) for a folder of ONNX files without one, named `name`, with file names
// relative to `dir`. Recognises:
//  - InsightFace packs: every *.onnx in sorted order classified as model_zoo.get_model does (>= 5 outputs:
//    detection; a square input of >= 112 px, a multiple of 16: recognition; 192 px: landmarks, 96 px:
//    gender/age, unused here); the first detector and the first recogniser are used, as FaceAnalysis
//    does. SCRFD: 640x640, RGB, (x - 127.5) / 128, threshold 0.5, NMS 0.4. ArcFace: RGB, (x - 127.5) / 127.5,
//    or raw pixels when the graph normalises itself; cosine; default threshold 0.5 (the seed's).
//  - OpenCV zoo: YuNet (outputs cls_8 .. kps_32; BGR, raw pixels, score 0.9, NMS 0.3, top 5000) with
//    SFace (a recogniser whose file name holds "sface", or a 128-value one beside YuNet; RGB, raw
//    pixels, cosine threshold 0.363, OpenCV's published one).
// The result is cached under ${XDG_CACHE_HOME:-~/.cache}/facesearch/packs, keyed by the files' paths,
// sizes and times, so the weights are hashed once. Throws Error{kModel} saying what is missing.
std::string describe_pack_folder(const std::filesystem::path& dir, const std::string& name);

struct AddPackOptions {
  std::string name;            // empty: from the folder, zip or URL file name
  std::string expected_sha256; // of the zip or download; empty: not checked
  bool replace = false;        // replace an installed pack of the same name
  // Download progress: bytes so far and in all (0 = unknown).
  std::function<void(std::uint64_t received, std::uint64_t total)> progress;
};

struct AddedPack {
  PackEntry entry;
  ModelPack pack;
  std::vector<std::string> skipped;  // ONNX files of the source left out (other tasks: landmarks, age...)
};

// Installs a pack from a folder, a .zip file or an http(s):// URL of a .zip into packs_root()/NAME:
// the files the pack uses are copied and a manifest.json written (a folder that has a manifest is copied
// as it is). Downloads go to ${XDG_CACHE_HOME:-~/.cache}/facesearch/downloads and resume after an
// interruption. Nothing is left in packs_root() when anything fails. Throws Error with what went wrong.
AddedPack add_pack(const std::string& source, const AddPackOptions& options = {});

// Deletes an installed pack (the folder under packs_root()). Throws Error{kNotFound} when there is no
// pack of that name, Error{kInvalidArgument} for a pack facesearch did not install (an InsightFace
// folder: facesearch never deletes the user's own files). Libraries built with it stay as they are and
// say that their pack is missing until it is added again. Returns the folder removed.
std::filesystem::path remove_pack(const std::string& name);

// What `models verify` checks: every file the pack names exists and has the sha256 its manifest records,
// and every network loads in ONNX Runtime with the inputs and outputs the pack expects.
struct PackCheck {
  std::string role;  // "detector", "embedder", ...
  std::filesystem::path file;
  bool ok = true;
  std::string detail;  // what was found (or what is wrong)
};
std::vector<PackCheck> verify_pack(const ModelPack& pack);

}  // namespace facesearch
