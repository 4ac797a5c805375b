// OpenCV zoo's YuNet detector (face_detection_yunet_2023mar.onnx) as OpenCV 4.8+'s cv::FaceDetectorYN
// runs it: the image padded bottom/right with zeros to a multiple of 32, cv::dnn::blobFromImage with its
// defaults (BGR, raw 0..255, no mean: the pack's InputSpec says so), the 12 outputs taken by name and
// decoded by yunet_decoder.cpp. FaceDetectorYN runs at whatever size its caller sets; here the photo is
// first shrunk (cv::resize, bilinear) to fit the pack's input size, so that time and memory are bounded.
#include <algorithm>
#include <array>
#include <string>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "detect/yunet_decoder.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

// Outputs per stride level, in cv::FaceDetectorYN's order, and the values each holds per cell.
constexpr const char* kKinds[4] = {"cls", "obj", "bbox", "kps"};
constexpr std::int64_t kWidths[4] = {1, 1, 4, 10};

class YunetDetector final : public Detector {
 public:
  YunetDetector(const DetectorSpec& spec, const RuntimeOptions& runtime) : spec_(spec), session_(spec.file, runtime) {
    const auto& shape = session_.input_shape();
    if (shape.size() != 4 || (shape[1] != 3 && shape[1] != -1))
      throw Error(ErrorCode::kModel, where() + ": expected an image input [1, 3, H, W]");
    // A fixed side is the size the model runs at (the zoo's file is 640x640); a dynamic one follows the
    // photo, padded to a multiple of 32.
    fixed_height_ = shape[2] > 0 ? int(shape[2]) : 0;
    fixed_width_ = shape[3] > 0 ? int(shape[3]) : 0;
    if (fixed_width_ % yunet::kDivisor != 0 || fixed_height_ % yunet::kDivisor != 0)
      throw Error(ErrorCode::kModel, where() + ": a fixed YuNet input must be a multiple of 32 pixels, not " +
                                         std::to_string(fixed_width_) + "x" + std::to_string(fixed_height_));
    bound_width_ = bound(spec.input.width, fixed_width_, "width");
    bound_height_ = bound(spec.input.height, fixed_height_, "height");

    const auto& names = session_.output_names();
    const auto& shapes = session_.output_shapes();
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 3; ++l) {
        const std::string name = std::string(kKinds[k]) + "_" + std::to_string(yunet::kStrides[l]);
        const auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end())
          throw Error(ErrorCode::kModel, where() + ": not a YuNet 2023mar detector: no output '" + name +
                                             "' (it needs cls_, obj_, bbox_ and kps_ for strides 8, 16 and 32)");
        const size_t index = static_cast<size_t>(it - names.begin());
        const auto& declared = shapes[index];
        if (!declared.empty() && declared.back() > 0 && declared.back() != kWidths[k])
          throw Error(ErrorCode::kModel, where() + ": output '" + name + "' has " +
                                             std::to_string(declared.back()) + " values per cell, YuNet's has " +
                                             std::to_string(kWidths[k]));
        output_index_[k][l] = index;
      }
    }
  }

  int keypoints() const override { return 5; }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    std::vector<std::vector<Detection>> out;
    out.reserve(images.size());
    for (const cv::Mat& image : images) out.push_back(detect_one(image, options));
    return out;
  }

 private:
  // Errors name the file and the kind the pack claims for it.
  std::string where() const { return spec_.file.string() + " (detector kind '" + spec_.kind + "')"; }

  int bound(int pack_side, int fixed_side, const char* what) const {
    if (fixed_side > 0) return pack_side > 0 ? std::min(pack_side, fixed_side) : fixed_side;
    if (pack_side <= 0)
      throw Error(ErrorCode::kModel, where() + ": the input " + what +
                                         " is dynamic and the pack gives no input size");
    return pack_side;
  }

  std::vector<Detection> detect_one(const cv::Mat& image, const DetectOptions& options) const {
    if (image.empty()) return {};
    if (image.type() != CV_8UC3)
      throw Error(ErrorCode::kInvalidArgument, "yunet detector: expected an 8-bit BGR image");
    // DetectOptions::input_px bounds the photo instead of the pack's size (never beyond a fixed input).
    const int bound_w = options.input_px > 0 ? bound(options.input_px, fixed_width_, "width") : bound_width_;
    const int bound_h = options.input_px > 0 ? bound(options.input_px, fixed_height_, "height") : bound_height_;
    const yunet::Fit fit = yunet::fit_photo(image.cols, image.rows, bound_w, bound_h);
    const int padded_width = fixed_width_ > 0 ? fixed_width_ : yunet::padded_size(fit.width);
    const int padded_height = fixed_height_ > 0 ? fixed_height_ : yunet::padded_size(fit.height);
    cv::Mat canvas(padded_height, padded_width, CV_8UC3, cv::Scalar::all(0));
    cv::Mat roi = canvas(cv::Rect(0, 0, fit.width, fit.height));
    if (fit.width == image.cols && fit.height == image.rows)
      image.copyTo(roi);
    else
      cv::resize(image, roi, roi.size(), 0, 0, cv::INTER_LINEAR);
    InputSpec input = spec_.input;
    input.width = padded_width, input.height = padded_height;
    std::vector<float> blob(3u * padded_width * padded_height);
    write_chw(canvas, input, blob.data());
    const std::int64_t shape[4] = {1, 3, padded_height, padded_width};
    const auto outputs = session_.run(blob, shape);

    std::array<yunet::Level, 3> levels;
    for (int l = 0; l < 3; ++l) {
      const int stride = yunet::kStrides[l];
      const size_t cells = size_t(padded_width / stride) * size_t(padded_height / stride);
      levels[l].stride = stride;
      std::span<const float>* fields[4] = {&levels[l].cls, &levels[l].obj, &levels[l].bbox, &levels[l].kps};
      for (int k = 0; k < 4; ++k) {
        const auto& data = outputs[output_index_[k][l]].data;
        if (data.size() != cells * kWidths[k])
          throw Error(ErrorCode::kModel, where() + ": output '" + kKinds[k] + "_" + std::to_string(stride) +
                                             "' holds " + std::to_string(data.size()) + " values for a " +
                                             std::to_string(padded_width) + "x" + std::to_string(padded_height) +
                                             " input; YuNet's holds " + std::to_string(cells * kWidths[k]));
        *fields[k] = data;
      }
    }
    yunet::Params params;
    params.score_threshold = options.score_threshold >= 0 ? options.score_threshold : spec_.score_threshold;
    params.nms_threshold = spec_.nms_iou;
    auto found = yunet::decode(levels, padded_width, padded_height, params, fit);
    return finish_detections(std::move(found), spec_, options);
  }

  DetectorSpec spec_;
  OnnxSession session_;
  int fixed_width_ = 0, fixed_height_ = 0;  // 0: dynamic
  int bound_width_ = 0, bound_height_ = 0;  // the photo is shrunk to fit this
  size_t output_index_[4][3] = {};          // [kind][stride level] -> position in the session's outputs
};

}  // namespace

std::unique_ptr<Detector> make_yunet_detector(const DetectorSpec& spec, const RuntimeOptions& runtime) {
  return std::make_unique<YunetDetector>(spec, runtime);
}

}  // namespace facesearch
