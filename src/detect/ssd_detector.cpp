// SSD MobileNetV1 face detector (face-api.js's ssd_mobilenetv1_model converted by tools/faceapi_to_onnx.py).
// The ONNX graph already decodes boxes against its 5118 anchors; here: letterbox, run, NMS, map back.
#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

class SsdDetector final : public Detector {
 public:
  SsdDetector(const DetectorSpec& spec, const RuntimeOptions& runtime) : spec_(spec), session_(spec.file, runtime) {}

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    const int w = spec_.input.width, h = spec_.input.height;
    const size_t plane = 3u * w * h;
    std::vector<float> blob(plane * images.size());
    std::vector<float> sides(images.size());
    for (size_t i = 0; i < images.size(); ++i) {
      // face-api.js pads the image to a square at the bottom/right, then resizes to the input size.
      const cv::Mat& img = images[i];
      const int side = std::max(img.cols, img.rows);
      sides[i] = static_cast<float>(side);
      const double s = static_cast<double>(w) / side;
      const cv::Size scaled(std::clamp(static_cast<int>(std::lround(img.cols * s)), 1, w),
                            std::clamp(static_cast<int>(std::lround(img.rows * s)), 1, h));
      cv::Mat canvas(h, w, CV_8UC3, cv::Scalar::all(0));
      resize_for_network(img, scaled).copyTo(canvas(cv::Rect(0, 0, scaled.width, scaled.height)));
      write_chw(canvas, spec_.input, blob.data() + i * plane);
    }
    const std::int64_t shape[4] = {static_cast<std::int64_t>(images.size()), 3, h, w};
    const auto out = session_.run(blob, shape);
    if (out.size() != 2 || out[0].shape.size() != 3 || out[0].shape[2] != 4)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": expected outputs boxes [N,A,4] and scores [N,A]");
    const auto& boxes = out[0];
    const auto& scores = out[1];
    const size_t anchors = static_cast<size_t>(boxes.shape[1]);
    const float threshold = options.score_threshold >= 0 ? options.score_threshold : spec_.score_threshold;

    std::vector<std::vector<Detection>> result(images.size());
    for (size_t i = 0; i < images.size(); ++i) {
      std::vector<Detection> candidates;
      const float side = sides[i];
      for (size_t a = 0; a < anchors; ++a) {
        const float score = scores.data[i * anchors + a];
        if (score < threshold) continue;
        const float* b = &boxes.data[(i * anchors + a) * 4];  // ymin, xmin, ymax, xmax in [0,1] of the square
        Detection d;
        d.score = score;
        d.detector = spec_.kind;
        d.box = {std::clamp(b[1], 0.f, 1.f) * side, std::clamp(b[0], 0.f, 1.f) * side,
                 std::clamp(b[3], 0.f, 1.f) * side, std::clamp(b[2], 0.f, 1.f) * side};
        d.box.x2 = std::min(d.box.x2, static_cast<float>(images[i].cols));
        d.box.y2 = std::min(d.box.y2, static_cast<float>(images[i].rows));
        if (d.box.width() <= 1 || d.box.height() <= 1) continue;
        if (std::min(d.box.width(), d.box.height()) < spec_.small_face_px && score < spec_.small_face_score) continue;
        candidates.push_back(d);
      }
      auto kept = non_max_suppression(std::move(candidates), spec_.nms_iou, spec_.max_faces);
      if (options.min_face_px > 0)
        std::erase_if(kept, [&](const Detection& d) {
          return std::min(d.box.width(), d.box.height()) < options.min_face_px;
        });
      result[i] = std::move(kept);
    }
    return result;
  }

 private:
  DetectorSpec spec_;
  OnnxSession session_;
};

}  // namespace

std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold, int max_keep) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const auto& d : detections) {
    if (static_cast<int>(kept.size()) >= max_keep) break;
    const bool overlaps = std::any_of(kept.begin(), kept.end(),
                                      [&](const Detection& k) { return iou(k.box, d.box) > iou_threshold; });
    if (!overlaps) kept.push_back(d);
  }
  return kept;
}

std::vector<Detection> finish_detections(std::vector<Detection> found, const DetectorSpec& spec,
                                         const DetectOptions& options) {
  std::vector<Detection> kept;
  for (auto& d : found) {
    if (options.min_face_px > 0 && std::min(d.box.width(), d.box.height()) < options.min_face_px) continue;
    d.detector = spec.kind;
    kept.push_back(std::move(d));
    if (spec.max_faces > 0 && static_cast<int>(kept.size()) >= spec.max_faces) break;
  }
  return kept;
}

std::unique_ptr<Detector> make_ssd_detector(const DetectorSpec& spec, const RuntimeOptions& runtime) {
  return std::make_unique<SsdDetector>(spec, runtime);
}

std::unique_ptr<Detector> make_detector(const ModelPack& pack, const RuntimeOptions& runtime) {
  if (pack.detector.kind == "ssd_mobilenetv1") return with_padded_retry(make_ssd_detector(pack.detector, runtime));
  if (pack.detector.kind == "scrfd" || pack.detector.kind == "yunet") return make_detector(pack.detector, runtime);
  throw Error(ErrorCode::kModel, "model pack " + pack.name + ": unknown detector kind '" + pack.detector.kind + "'");
}

std::unique_ptr<Detector> make_detector(const DetectorSpec& spec, const RuntimeOptions& runtime) {
  if (spec.kind == "ssd_mobilenetv1") return make_ssd_detector(spec, runtime);
  if (spec.kind == "mediapipe_face_full") return make_mediapipe_detector(spec, runtime);
  if (spec.kind == "scrfd") return make_scrfd_detector(spec, runtime);
  if (spec.kind == "yunet") return make_yunet_detector(spec, runtime);
  throw Error(ErrorCode::kModel, spec.file.string() + ": unknown detector kind '" + spec.kind +
                                     "' (known: ssd_mobilenetv1, mediapipe_face_full, scrfd, yunet)");
}

}  // namespace facesearch
