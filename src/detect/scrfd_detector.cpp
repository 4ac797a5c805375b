// InsightFace's SCRFD detector (det_10g.onnx in buffalo_l, det_500m.onnx in buffalo_s,
// scrfd_10g_bnkps.onnx in antelopev2) as insightface 0.7's model_zoo/scrfd.py runs it: the photo is
// letterboxed top-left into the input (cv2.resize, bilinear) on a zero canvas, RGB, (x - 127.5) / 128;
// the outputs are taken by position (scores, boxes, keypoints per stride level) and decoded by
// scrfd_decoder.cpp. No padded retry and no tiling: the same faces insightface finds.
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "detect/scrfd_decoder.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

// insightface's SCRFD._init_vars: the number of outputs says the layout.
struct Layout {
  std::vector<int> strides;
  int anchors_per_cell = 2;
  bool keypoints = false;
};

Layout layout_for(size_t outputs, const std::filesystem::path& file) {
  switch (outputs) {
    case 6: return {{8, 16, 32}, 2, false};
    case 9: return {{8, 16, 32}, 2, true};
    case 10: return {{8, 16, 32, 64, 128}, 1, false};
    case 15: return {{8, 16, 32, 64, 128}, 1, true};
    default:
      throw Error(ErrorCode::kModel, file.string() + ": not an SCRFD detector (" + std::to_string(outputs) +
                                         " outputs; SCRFD models have 6, 9, 10 or 15)");
  }
}

class ScrfdDetector final : public Detector {
 public:
  ScrfdDetector(const DetectorSpec& spec, const RuntimeOptions& runtime)
      : spec_(spec), session_(spec.file, runtime), layout_(layout_for(session_.output_names().size(), spec.file)) {
    // A model with a fixed input size keeps it (insightface ignores det_size then); others use the pack's.
    const auto& shape = session_.input_shape();
    if (shape.size() != 4 || (shape[1] != 3 && shape[1] != -1))
      throw Error(ErrorCode::kModel, spec.file.string() + ": expected an image input [1, 3, H, W]");
    fixed_ = shape[2] > 0 && shape[3] > 0;
    width_ = shape[3] > 0 ? int(shape[3]) : spec.input.width;
    height_ = shape[2] > 0 ? int(shape[2]) : spec.input.height;
    // Batched exports give [1, anchors, C] instead of [anchors, C] (insightface's `batched`): for one
    // image both hold the same numbers in the same order.
  }

  int keypoints() const override { return layout_.keypoints ? 5 : 0; }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    std::vector<std::vector<Detection>> out;
    out.reserve(images.size());
    for (const cv::Mat& image : images) out.push_back(detect_one(image, options));
    return out;
  }

 private:
  std::vector<Detection> detect_one(const cv::Mat& image, const DetectOptions& options) const {
    if (image.empty()) return {};
    // det_size: a square input of options.input_px for models that take any size (insightface keeps a
    // fixed model size and ignores det_size).
    const int w = !fixed_ && options.input_px > 0 ? options.input_px : width_;
    const int h = !fixed_ && options.input_px > 0 ? options.input_px : height_;
    const scrfd::Letterbox box = scrfd::letterbox(image.cols, image.rows, w, h);
    cv::Mat canvas(h, w, CV_8UC3, cv::Scalar::all(0));
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(box.width, box.height), 0, 0, cv::INTER_LINEAR);  // cv2.resize default
    resized.copyTo(canvas(cv::Rect(0, 0, box.width, box.height)));
    std::vector<float> blob(3u * w * h);
    InputSpec input = spec_.input;
    input.width = w, input.height = h;
    write_chw(canvas, input, blob.data());
    const std::int64_t shape[4] = {1, 3, h, w};
    const auto outputs = session_.run(blob, shape);

    const size_t levels = layout_.strides.size();
    std::vector<scrfd::Level> decoded(levels);
    for (size_t i = 0; i < levels; ++i) {
      decoded[i].stride = layout_.strides[i];
      decoded[i].scores = outputs[i].data;
      decoded[i].distances = outputs[i + levels].data;
      if (layout_.keypoints) decoded[i].keypoints = outputs[i + 2 * levels].data;
    }
    const float threshold = options.score_threshold >= 0 ? options.score_threshold : spec_.score_threshold;
    auto found = scrfd::decode(decoded, w, h, layout_.anchors_per_cell, box, threshold, spec_.nms_iou);
    return finish_detections(std::move(found), spec_, options);
  }

  DetectorSpec spec_;
  OnnxSession session_;
  Layout layout_;
  bool fixed_ = false;  // the model's input size is fixed
  int width_ = 640, height_ = 640;
};

}  // namespace

std::unique_ptr<Detector> make_scrfd_detector(const DetectorSpec& spec, const RuntimeOptions& runtime) {
  return std::make_unique<ScrfdDetector>(spec, runtime);
}

}  // namespace facesearch
