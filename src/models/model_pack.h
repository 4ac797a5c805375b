// A model pack: a folder with ONNX files and a manifest.json that says what each file is, how its
// input is normalised, which metric compares its embeddings and the default match threshold.
// The pipeline reads only this description, so other packs (SCRFD + ArcFace, YuNet + SFace) can be
// added with new stage implementations and no change to the pipeline.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace facesearch {

// How a network wants its pixels: RGB or BGR, input = (pixel - mean[c]) * scale, NCHW float32.
struct InputSpec {
  int width = 0;
  int height = 0;
  bool rgb = true;
  std::array<float, 3> mean{0, 0, 0};  // in the network's channel order
  float scale = 1.f;
};

struct NetworkSpec {
  std::string kind;             // e.g. "ssd_mobilenetv1", "mediapipe_face_full", "landmarks68", "dlib_resnet128"
  std::filesystem::path file;   // absolute path of the .onnx file
  std::string sha256;           // as recorded in the manifest
  InputSpec input;
};

// The same detector network as a graph that takes inputs of several sizes (SSD: 512x512, 512x384 and
// 384x512). Not in the fingerprint: the same weights, seeing a 4:3 photo without the square's padding.
struct FittedDetector {
  std::filesystem::path file;  // absolute path of the .onnx file
  std::string sha256;
  std::vector<std::array<int, 2>> input_sizes;  // width, height
};

struct DetectorSpec : NetworkSpec {
  std::string letterbox = "pad_bottom_right";  // how a non-square image is fitted: or "pad_centered"
  // pad_bottom_right detectors: when present, every photo runs in this graph, at the smallest of its
  // sizes that takes the photo at the same scale as `input` (less padding, less work); `file` stays
  // the reference (tests compare the two) and is what the fingerprint names.
  std::optional<FittedDetector> fitted;
  float score_threshold = 0.5f;
  float nms_iou = 0.5f;
  int max_faces = 100;
  // Boxes whose shorter side is under small_face_px (image pixels) need at least small_face_score:
  // tiny boxes are where a detector's false positives live.
  float small_face_px = 0;
  float small_face_score = 0;
};

struct LandmarkerSpec : NetworkSpec {
  int points = 68;
};

struct AlignerSpec {
  std::string kind = "dlib_chip";  // dlib's get_face_chip_details
  int size = 150;                  // chip side in pixels
  float padding = 0.25f;           // dlib's padding around the mean face
  // arcface_5pt: halve faces more than twice the chip's size before warping (no aliasing). Off for the
  // InsightFace and OpenCV zoo packs, whose reference code warps the full-resolution photo directly.
  bool antialias = false;
};

struct EmbedderSpec : NetworkSpec {
  int dim = 128;
  int batch = 8;  // preferred batch size
  // Optional: the same network rewritten into a graph ONNX Runtime runs faster (mobilefacenet-faceapi:
  // PReLU as depthwise convolutions). Embeddings come from it when present; `file` stays the reference
  // (tests compare the two) and is what the fingerprint names.
  std::filesystem::path fast_file;
  std::string fast_sha256;
};

enum class Metric { kCosine };

// Query expansion (issue 13): a search adds to each query face its `top` best matches that score at
// least `at_least` (confidently the same person), weighted by similarity^3, renormalises and searches
// again. A pack property: it raises recall at the pack's threshold only where the embedding's scale
// allows (measured for mobilefacenet-faceapi; dlib-faceapi's compressed scale loses precision).
struct QueryExpansion {
  int top = 3;
  float at_least = 0.5f;
  // The expanded query scores the person's faces and strangers alike a little higher: its matches are
  // judged at the search's threshold + raise (mobilefacenet-faceapi: 0.02, chosen leaving one identity
  // out, as the threshold was).
  float raise = 0;
};

// Several query photos of one person are searched as the normalised mean of their faces, which scores
// everyone higher the more photos it holds. Modelling each face as the person's part (a share s of
// the embedding's energy, the same in every photo) plus a part of its own that averages out, the mean
// of k photos scores like one photo scaled by 1 / sqrt(s + (1 - s) / k): its matches are judged at
// threshold / sqrt(s + (1 - s) / k) (search_report.h: query_threshold).
struct SeveralPhotos {
  float person_share = 1;  // 1: no raise
};

struct ModelPack {
  std::string name;
  std::filesystem::path dir;
  std::string description;
  std::string source;   // where the weights came from
  std::string license;
  bool non_commercial = false;  // the weights' licence forbids commercial use (InsightFace's packs)
  bool described = false;       // no manifest.json: described from its ONNX files (pack_description.h)
  DetectorSpec detector;
  // An optional second, faster detector (MediaPipe's full-range BlazeFace in dlib-faceapi), whose boxes
  // are calibrated to look like `detector`'s so the same landmarker can follow it. Not in the fingerprint.
  std::optional<DetectorSpec> fast_detector;
  std::optional<LandmarkerSpec> landmarker;  // packs whose detector gives keypoints have none
  AlignerSpec aligner;
  EmbedderSpec embedder;
  Metric metric = Metric::kCosine;
  float threshold = 0.5f;  // default match threshold on the similarity score (higher = more alike)
  std::string threshold_source;  // where that threshold comes from
  std::optional<QueryExpansion> query_expansion;  // none: searches do not expand (not in the fingerprint)
  SeveralPhotos several_photos;                   // not in the fingerprint
  std::string fingerprint;  // stable id of the weights (hash over the files' sha256): embeddings
                            // made with different fingerprints must never be mixed
};

// The name of the pack used when none is named (issue 13: the MobileFaceNet recogniser holds its
// precision in libraries of many people; dlib-faceapi was the default before, and libraries built with
// it keep using it).
inline constexpr const char* kDefaultPackName = "mobilefacenet-faceapi";

// Reads DIR/manifest.json and checks that every file it names exists.
// Throws Error{kModel} with the path and what to do (run `make setup`) when anything is missing or wrong.
ModelPack load_model_pack(const std::filesystem::path& dir);

// The same, from a manifest's text (e.g. one made by describe_pack_folder for a folder without one);
// files are relative to `dir`. `where` names the manifest in errors.
ModelPack model_pack_from_manifest(const std::string& manifest_json, const std::filesystem::path& dir,
                                   const std::string& where);

// The models folder to use: the explicit one when given, else $FACESEARCH_MODELS, else
// ${XDG_DATA_HOME:-~/.local/share}/facesearch/models/<kDefaultPackName> (where tools/setup.sh builds it)
// when it holds a manifest, else the one installed with facesearch (system_packs_root() in pack_registry.h)
// when that does, else the first.
std::filesystem::path resolve_models_dir(const std::optional<std::filesystem::path>& explicit_dir);

const char* metric_name(Metric metric);

}  // namespace facesearch
