#include <algorithm>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "detect/detector.h"

namespace facesearch {
namespace {

constexpr int kMaxRetrySidePx = 1024;

class PaddedRetryDetector final : public Detector {
 public:
  // plain_first: run `inner` on the image as it is first and pad only where it found nothing; otherwise
  // every image is only tried padded.
  PaddedRetryDetector(std::unique_ptr<Detector> inner, bool plain_first)
      : owned_(std::move(inner)), inner_(owned_.get()), plain_first_(plain_first) {}
  // Borrows `inner`, which must outlive this detector.
  PaddedRetryDetector(const Detector& inner, bool plain_first) : inner_(&inner), plain_first_(plain_first) {}

  int keypoints() const override { return inner_->keypoints(); }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    auto result = plain_first_ ? inner_->detect_batch(images, options) : std::vector<std::vector<Detection>>(images.size());
    std::vector<size_t> retry;
    for (size_t i = 0; i < images.size(); ++i)
      if (result[i].empty()) retry.push_back(i);
    if (retry.empty()) return result;

    std::vector<cv::Mat> padded(retry.size());
    std::vector<cv::Point> offsets(retry.size());
    std::vector<float> scales(retry.size(), 1.f);
    for (size_t k = 0; k < retry.size(); ++k) {
      // Shrink big images first: the detector reduces them anyway, and padding a 48-megapixel photo
      // would quadruple its memory.
      cv::Mat img = images[retry[k]];
      const int long_side = std::max(img.cols, img.rows);
      if (long_side > kMaxRetrySidePx) {
        scales[k] = static_cast<float>(long_side) / kMaxRetrySidePx;
        cv::Mat small;
        cv::resize(img, small, cv::Size(std::max(1, static_cast<int>(img.cols / scales[k])),
                                         std::max(1, static_cast<int>(img.rows / scales[k]))),
                   0, 0, cv::INTER_AREA);
        img = small;
      }
      const int px = img.cols / 2, py = img.rows / 2;
      cv::copyMakeBorder(img, padded[k], py, py, px, px, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      offsets[k] = {px, py};
    }
    auto again = inner_->detect_batch(padded, options);
    for (size_t k = 0; k < retry.size(); ++k) {
      const cv::Mat& img = images[retry[k]];
      for (auto d : again[k]) {
        const float s = scales[k];
        d.box = {std::clamp((d.box.x1 - offsets[k].x) * s, 0.f, float(img.cols)),
                 std::clamp((d.box.y1 - offsets[k].y) * s, 0.f, float(img.rows)),
                 std::clamp((d.box.x2 - offsets[k].x) * s, 0.f, float(img.cols)),
                 std::clamp((d.box.y2 - offsets[k].y) * s, 0.f, float(img.rows))};
        for (auto& p : d.keypoints) p = {(p.x - offsets[k].x) * s, (p.y - offsets[k].y) * s};
        // A box that lies mostly in the border is not a face of this image.
        if (d.box.width() > 1 && d.box.height() > 1) {
          if (!d.detector.empty()) d.detector += "/padded";
          result[retry[k]].push_back(d);
        }
      }
    }
    return result;
  }

 private:
  std::unique_ptr<Detector> owned_;  // empty when borrowed
  const Detector* inner_;
  bool plain_first_;
};

}  // namespace

std::unique_ptr<Detector> with_padded_retry(std::unique_ptr<Detector> inner) {
  return std::make_unique<PaddedRetryDetector>(std::move(inner), true);
}

std::unique_ptr<Detector> with_padding(const Detector& inner) {
  return std::make_unique<PaddedRetryDetector>(inner, false);
}

}  // namespace facesearch
