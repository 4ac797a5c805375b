// face-api.js's 68-point landmark net (face_landmark_68_model). Input: the face box, padded to a
// centred square (face-api.js padToSquare: round(diff/2) after, the rest before) and resized to 112.
// Output: 136 values, x/y interleaved, relative to that square.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/landmarker.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

class Landmarks68 final : public Landmarker {
 public:
  Landmarks68(const LandmarkerSpec& spec, const RuntimeOptions& runtime) : spec_(spec), session_(spec.file, runtime) {}

  int points() const override { return spec_.points; }

  // In batches of at most kBatch faces: a crowd photo's 300 faces in one call would hold the network's
  // activations for all of them at once (measured: peak memory +70 MB for 127 faces).
  static constexpr size_t kBatch = 16;
  size_t batch() const override { return kBatch; }

  std::vector<std::vector<Point>> landmarks(const cv::Mat& image, std::span<const Box> boxes) const override {
    std::vector<std::vector<Point>> result;
    result.reserve(boxes.size());
    for (size_t start = 0; start < boxes.size(); start += kBatch) {
      auto part = landmarks_batch(image, boxes.subspan(start, std::min(kBatch, boxes.size() - start)));
      for (auto& p : part) result.push_back(std::move(p));
    }
    return result;
  }

 private:
  std::vector<std::vector<Point>> landmarks_batch(const cv::Mat& image, std::span<const Box> boxes) const {
    std::vector<std::vector<Point>> result(boxes.size());
    if (boxes.empty()) return result;
    const int w = spec_.input.width, h = spec_.input.height;
    const size_t plane = 3u * w * h;
    std::vector<float> blob(plane * boxes.size());
    struct Frame {
      float x0, y0, side;  // the padded square in image pixels
    };
    std::vector<Frame> frames(boxes.size());
    const cv::Rect bounds(0, 0, image.cols, image.rows);
    for (size_t i = 0; i < boxes.size(); ++i) {
      const Box& b = boxes[i];
      cv::Rect r(static_cast<int>(std::floor(b.x1)), static_cast<int>(std::floor(b.y1)),
                 static_cast<int>(std::floor(b.width())), static_cast<int>(std::floor(b.height())));
      r &= bounds;
      if (r.width < 1 || r.height < 1) r = cv::Rect(0, 0, 1, 1) & bounds;
      const int side = std::max(r.width, r.height);
      const int diff = side - std::min(r.width, r.height);
      const int after = static_cast<int>(std::lround(diff * 0.5));
      const int before = diff - after;
      cv::Mat square(side, side, CV_8UC3, cv::Scalar::all(0));
      const int ox = r.width < side ? before : 0;
      const int oy = r.height < side ? before : 0;
      image(r).copyTo(square(cv::Rect(ox, oy, r.width, r.height)));
      frames[i] = {static_cast<float>(r.x - ox), static_cast<float>(r.y - oy), static_cast<float>(side)};
      cv::Mat resized;
      cv::resize(square, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
      write_chw(resized, spec_.input, blob.data() + i * plane);
    }
    const std::int64_t shape[4] = {static_cast<std::int64_t>(boxes.size()), 3, h, w};
    const auto out = session_.run(blob, shape);
    const int n = spec_.points;
    if (out.empty() || out[0].data.size() != boxes.size() * 2 * n)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": unexpected landmark output size");
    for (size_t i = 0; i < boxes.size(); ++i) {
      const float* p = &out[0].data[i * 2 * n];
      auto& pts = result[i];
      pts.resize(n);
      for (int k = 0; k < n; ++k)
        pts[k] = {frames[i].x0 + p[2 * k] * frames[i].side, frames[i].y0 + p[2 * k + 1] * frames[i].side};
    }
    return result;
  }

  LandmarkerSpec spec_;
  OnnxSession session_;
};

}  // namespace

std::unique_ptr<Landmarker> make_landmarker(const ModelPack& pack, const RuntimeOptions& runtime) {
  if (!pack.landmarker) return nullptr;
  if (pack.landmarker->kind == "landmarks68") return std::make_unique<Landmarks68>(*pack.landmarker, runtime);
  throw Error(ErrorCode::kModel,
              "model pack " + pack.name + ": unknown landmarker kind '" + pack.landmarker->kind + "'");
}

}  // namespace facesearch
