// Stage 2: find faces. One interface, implementations chosen by the model pack's detector kind.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "core/types.h"
#include "core/work_sharing.h"
#include "models/model_pack.h"
#include "models/onnx_session.h"

namespace facesearch {

struct DetectOptions {
  float score_threshold = -1;  // < 0: the pack's default
  float min_face_px = 0;       // drop faces whose shorter box side is smaller (decoded-image pixels)
  // Strategies that tile large photos look for faces down to this size (shorter side, decoded-image
  // pixels); smaller means more tiles. 0: no tiling.
  float smallest_face_px = 0;
  // The input size of a detector that takes any (SCRFD: insightface's det_size; YuNet: the largest it
  // shrinks photos to), in pixels, a multiple of 32; 0: the pack's (640). Larger finds smaller faces
  // and costs about (input_px / 640)^2 as much. Models of a fixed input size keep theirs.
  int input_px = 0;
  // Threads that may take parts of a photo's work (batches of tiles, of second looks) when they have
  // nothing else to do; null: all on the calling thread. Not owned. Results are the same either way.
  WorkSharing* helpers = nullptr;
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Faces in each CV_8UC3 BGR image, boxes in that image's pixels, best score first.
  // Thread-safe: may be called from several threads at once.
  virtual std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                           const DetectOptions& options) const = 0;
  // How many keypoints each detection carries (5 for SCRFD and YuNet: eyes, nose tip, mouth corners; 0
  // for detectors that give boxes only, which need the pack's landmarker).
  virtual int keypoints() const { return 0; }
  std::vector<Detection> detect(const cv::Mat& image, const DetectOptions& options = {}) const {
    return std::move(detect_batch(std::span<const cv::Mat>(&image, 1), options).front());
  }
};

// The pack's main detector, wrapped in the padded retry. Throws Error{kModel} for an unknown detector
// kind or an unloadable model.
std::unique_ptr<Detector> make_detector(const ModelPack& pack, const RuntimeOptions& runtime);

// One detector of the kind spec.kind, as it is (no padded retry): "ssd_mobilenetv1" or
// "mediapipe_face_full" (e.g. a pack's fast_detector). Throws Error{kModel} for an unknown kind or an
// unloadable model.
std::unique_ptr<Detector> make_detector(const DetectorSpec& spec, const RuntimeOptions& runtime);

// The implementations behind make_detector (ssd_detector.cpp, mediapipe_detector.cpp).
std::unique_ptr<Detector> make_ssd_detector(const DetectorSpec& spec, const RuntimeOptions& runtime);
// kSsdLike (what make_detector gives): BlazeFace's boxes calibrated to look like face-api.js SSD's, which
// the 68-point landmarker was trained on. kNative: BlazeFace's own square boxes (to measure that calibration).
enum class BoxFraming { kSsdLike, kNative };
std::unique_ptr<Detector> make_mediapipe_detector(const DetectorSpec& spec, const RuntimeOptions& runtime,
                                                  BoxFraming framing = BoxFraming::kSsdLike);
// InsightFace's SCRFD (scrfd_detector.cpp): detections carry 5 keypoints.
std::unique_ptr<Detector> make_scrfd_detector(const DetectorSpec& spec, const RuntimeOptions& runtime);
// OpenCV zoo's YuNet, face_detection_yunet_2023mar (yunet_detector.cpp): detections carry 5 keypoints.
std::unique_ptr<Detector> make_yunet_detector(const DetectorSpec& spec, const RuntimeOptions& runtime);

// Wraps a detector so that an image where it finds nothing is tried once more inside a black border of
// half its size on every side. SSD detectors trained on scenes miss faces that fill the frame (tight
// crops, passport photos); with the border they look like faces in a scene. Measured on
// testdata/faces/people: see docs/ACCURACY.md.
std::unique_ptr<Detector> with_padded_retry(std::unique_ptr<Detector> inner);
// The same border, always: `inner` sees only the padded image (for a cascade that ran `inner` already,
// and owns it: `inner` must outlive the result).
std::unique_ptr<Detector> with_padding(const Detector& inner);

// Square tiles of side min(tile_side, image side) covering `image`, the first flush with the top-left
// corner and the last with the bottom-right, neighbours overlapping by at least `overlap` pixels, so that
// every square of side <= overlap lies wholly inside some tile. Row-major order.
std::vector<cv::Rect> plan_tiles(cv::Size image, int tile_side, int overlap);

// How the pack's detectors are combined (docs/ACCURACY.md, "Detection strategy", has the measurements).
enum class DetectionStrategy {
  kAuto,       // the best measured one the pack supports: kHybrid with a fast detector, else kSsd
  kSsd,        // the main detector (SSD) with its padded retry: the pipeline before the fast detector
  kMediapipe,  // the fast detector over the photo and, for large photos, over tiles; padded where nothing found
  kCascade,    // kMediapipe, then the main detector with its padded retry where that found nothing
  kHybrid,     // the main detector (SSD, padded retry) and the fast detector on every photo, and the fast
               // detector on tiles only for faces smaller than the main detector sees
};
const char* strategy_name(DetectionStrategy strategy);  // "auto", "ssd", "mediapipe", "cascade", "hybrid"
// nullopt for an unknown name.
std::optional<DetectionStrategy> parse_detection_strategy(std::string_view name);

// Tuning of the tiled passes. fast_min_face_px measured: faces of 5 people pasted at 4 places into a
// 192x192 canvas were found 16-17 times in 20 from 10 px (box height) up to 20 px, 12 at 8 px, 8 at 6 px.
struct TilingParams {
  float fast_min_face_px = 12;  // smallest face (shorter side) the fast detector finds, in its input pixels
  float tile_growth = 2.5f;     // each coarser level's tiles are this much larger
  size_t tile_batch = 8;        // tiles per inference call
  float merge_iou = 0.4f;       // boxes of different passes overlapping more are one face
  // Tiles multiply the chances of a false face, and a face near the smallest size scores lower. A tiled
  // box scoring under verify_below is looked at once more, in a crop verify_context times its size (so
  // the face fills about a quarter of the detector's input), and kept only if the detector finds it
  // there with at least verify_score. Measured on testdata: every extra box on a people/ photo scored
  // 0.61-0.71 in tiles; true faces 0.77 and up, and a 40-px face at 12 px in the input scores >= 0.75 at
  // 84% of positions (mean 0.83), so a fixed higher threshold would have missed 1 in 6.
  float verify_below = 0.85f;
  float verify_context = 4.f;
  float verify_score = 0.75f;
  int max_faces = 300;
  // The hybrid strategy's main detector (SSD at 512) finds faces down to about this many pixels of its
  // input (shorter box side); tiles look only for faces smaller than that share of the photo.
  // Measured on the phone-size set (docs/ACCURACY.md): SSD's smallest faces there are 7-8 px.
  float ssd_min_face_px = 8;
  // The hybrid strategy tiles a photo only where the whole-photo passes found a face smaller than
  // tile_gate times the main detector's smallest (people at a distance).
  float tile_gate = 2.f;
  // The hybrid's whole-photo SSD pass keeps boxes from this score (SSD alone: the pack's 0.5). 
  float whole_photo_score = 0.7f;
  // The hybrid skips its main detector on a portrait: a photo where the fast detector found exactly one
  // face, at least this share of the longer side (0: never skips).
  float portrait_face = 0.1f;
};

// The detector for `strategy`. Throws Error{kModel} when the pack lacks what it needs (kMediapipe and
// kCascade need a fast detector) or a model does not load.
std::unique_ptr<Detector> make_detection_strategy(const ModelPack& pack, DetectionStrategy strategy,
                                                  const RuntimeOptions& runtime, const TilingParams& tiling = {});
// What kAuto resolves to for `pack`.
DetectionStrategy resolve_strategy(const ModelPack& pack, DetectionStrategy strategy);

// The last step of the detectors that follow a reference decoder (SCRFD, YuNet): drops faces under
// options.min_face_px (shorter side), names spec.kind as the detector, and keeps at most spec.max_faces
// (0: all), in the decoder's order.
std::vector<Detection> finish_detections(std::vector<Detection> found, const DetectorSpec& spec,
                                         const DetectOptions& options);

// Greedy non-maximum suppression: keeps the best box of every group overlapping more than `iou_threshold`,
// at most `max_keep`. Input order does not matter; output is best first.
std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold, int max_keep);

}  // namespace facesearch
