// Stage 2: find faces. One interface, implementations chosen by the model pack's detector kind.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "core/types.h"
#include "models/model_pack.h"
#include "models/onnx_session.h"

namespace facesearch {

struct DetectOptions {
  float score_threshold = -1;  // < 0: the pack's default
  float min_face_px = 0;       // drop faces whose shorter box side is smaller (decoded-image pixels)
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Faces in each CV_8UC3 BGR image, boxes in that image's pixels, best score first.
  // Thread-safe: may be called from several threads at once.
  virtual std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                           const DetectOptions& options) const = 0;
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

// Wraps a detector so that an image where it finds nothing is tried once more inside a black border of
// half its size on every side. SSD detectors trained on scenes miss faces that fill the frame (tight
// crops, passport photos); with the border they look like faces in a scene. Measured on
// testdata/faces/people: see docs/ACCURACY.md.
std::unique_ptr<Detector> with_padded_retry(std::unique_ptr<Detector> inner);

// Greedy non-maximum suppression: keeps the best box of every group overlapping more than `iou_threshold`,
// at most `max_keep`. Input order does not matter; output is best first.
std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold, int max_keep);

}  // namespace facesearch
