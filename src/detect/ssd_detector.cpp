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
  SsdDetector(const DetectorSpec& spec, const RuntimeOptions& runtime)
      : spec_(spec), session_(spec.fitted ? spec.fitted->file : spec.file, fitted_runtime(spec, runtime)) {
    if (spec_.fitted) spec_.file = spec_.fitted->file;  // the file errors name
  }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    // With the fitted graph, each image runs at the smallest of its sizes that takes it at the main
    // input's scale (a 4:3 photo at 512x384 rather than padded to 512x512); images of one size share a call.
    std::vector<cv::Size> input(images.size());
    for (size_t i = 0; i < images.size(); ++i) input[i] = input_for(images[i]);
    std::vector<std::vector<Detection>> result(images.size());
    std::vector<bool> done(images.size(), false);
    for (size_t i = 0; i < images.size(); ++i) {
      if (done[i]) continue;
      std::vector<size_t> group;
      for (size_t k = i; k < images.size(); ++k)
        if (!done[k] && input[k] == input[i]) group.push_back(k), done[k] = true;
      detect_in(input[i], images, group, options, result);
    }
    return result;
  }

 private:
  // A smaller input is used where it keeps at least this much of the main input's scale (a photo a
  // few pixels off 4:3 still fits).
  static constexpr double kSameScale = 0.99;

  static RuntimeOptions fitted_runtime(const DetectorSpec& spec, RuntimeOptions runtime) {
    if (spec.fitted) runtime.memory_pattern = false;  // one graph, several input shapes
    return runtime;
  }

  static double scale_into(const cv::Mat& img, cv::Size size) {
    return std::min(static_cast<double>(size.width) / img.cols, static_cast<double>(size.height) / img.rows);
  }

  cv::Size input_for(const cv::Mat& img) const {
    const cv::Size main(spec_.input.width, spec_.input.height);
    if (!spec_.fitted) return main;
    const double main_scale = scale_into(img, main);
    cv::Size best = main;
    for (const auto& [w, h] : spec_.fitted->input_sizes) {
      const cv::Size size(w, h);
      if (size.area() < best.area() && scale_into(img, size) >= kSameScale * main_scale) best = size;
    }
    return best;
  }

  void detect_in(cv::Size size, std::span<const cv::Mat> images, const std::vector<size_t>& group,
                 const DetectOptions& options, std::vector<std::vector<Detection>>& result) const {
    const int w = size.width, h = size.height;
    InputSpec input = spec_.input;
    input.width = w, input.height = h;
    const size_t plane = 3u * w * h;
    std::vector<float> blob(plane * group.size());
    // The graph's boxes are fractions of its input's longer side; `unit` is that side in image pixels.
    std::vector<float> unit(group.size());
    for (size_t g = 0; g < group.size(); ++g) {
      // face-api.js pads the image at the bottom/right, then resizes it to the input size.
      const cv::Mat& img = images[group[g]];
      const double s = scale_into(img, size);
      unit[g] = static_cast<float>(std::max(w, h) / s);
      const cv::Size scaled(std::clamp(static_cast<int>(std::lround(img.cols * s)), 1, w),
                            std::clamp(static_cast<int>(std::lround(img.rows * s)), 1, h));
      cv::Mat canvas(h, w, CV_8UC3, cv::Scalar::all(0));
      resize_for_network(img, scaled).copyTo(canvas(cv::Rect(0, 0, scaled.width, scaled.height)));
      write_chw(canvas, input, blob.data() + g * plane);
    }
    const std::int64_t shape[4] = {static_cast<std::int64_t>(group.size()), 3, h, w};
    const auto out = session_.run(blob, shape);
    if (out.size() != 2 || out[0].shape.size() != 3 || out[0].shape[2] != 4)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": expected outputs boxes [N,A,4] and scores [N,A]");
    const auto& boxes = out[0];
    const auto& scores = out[1];
    const size_t anchors = static_cast<size_t>(boxes.shape[1]);
    const float threshold = options.score_threshold >= 0 ? options.score_threshold : spec_.score_threshold;

    for (size_t g = 0; g < group.size(); ++g) {
      const cv::Mat& img = images[group[g]];
      std::vector<Detection> candidates;
      const float side = unit[g], width = static_cast<float>(img.cols), height = static_cast<float>(img.rows);
      for (size_t a = 0; a < anchors; ++a) {
        const float score = scores.data[g * anchors + a];
        if (score < threshold) continue;
        const float* b = &boxes.data[(g * anchors + a) * 4];  // ymin, xmin, ymax, xmax: fractions of the longer side
        Detection d;
        d.score = score;
        d.detector = spec_.kind;
        d.box = {std::clamp(b[1] * side, 0.f, width), std::clamp(b[0] * side, 0.f, height),
                 std::clamp(b[3] * side, 0.f, width), std::clamp(b[2] * side, 0.f, height)};
        if (d.box.width() <= 1 || d.box.height() <= 1) continue;
        if (std::min(d.box.width(), d.box.height()) < spec_.small_face_px && score < spec_.small_face_score) continue;
        candidates.push_back(d);
      }
      auto kept = non_max_suppression(std::move(candidates), spec_.nms_iou, spec_.max_faces);
      if (options.min_face_px > 0)
        std::erase_if(kept, [&](const Detection& d) {
          return std::min(d.box.width(), d.box.height()) < options.min_face_px;
        });
      result[group[g]] = std::move(kept);
    }
  }

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
