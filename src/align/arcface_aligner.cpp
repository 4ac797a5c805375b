// InsightFace's ArcFace alignment (insightface 0.7 utils/face_align.py, norm_crop / estimate_norm): the
// least-squares similarity transform (Umeyama, as skimage's SimilarityTransform.estimate) of a face's 5
// keypoints onto the ArcFace template, then cv2.warpAffine to 112x112 with bilinear interpolation and a
// black border. Issue 5: used by the InsightFace packs once they are wired in.
#include <opencv2/imgproc.hpp>

#include "align/aligner.h"
#include "core/error.h"

namespace facesearch {

std::span<const Point> arcface_template_112() {
  // insightface's arcface_dst: left eye, right eye, nose tip, left and right mouth corners.
  static const Point kTemplate[5] = {
      {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {41.5493f, 92.3655f}, {70.7299f, 92.2041f}};
  return kTemplate;
}

namespace {

class ArcFaceAligner final : public Aligner {
 public:
  explicit ArcFaceAligner(int size) : size_(size) {
    if (size_ != 112)
      throw Error(ErrorCode::kModel, "arcface_5pt alignment: the ArcFace template is for 112x112 chips, not " +
                                         std::to_string(size_));
  }

  cv::Mat align(const cv::Mat& image, std::span<const Point> landmarks) const override {
    if (landmarks.size() != 5)
      throw Error(ErrorCode::kModel, "arcface_5pt alignment needs 5 keypoints, got " + std::to_string(landmarks.size()));
    const Similarity m = fit_similarity(landmarks, arcface_template_112());
    const cv::Matx23d forward(m.a, -m.b, m.tx, m.b, m.a, m.ty);
    cv::Mat chip;
    cv::warpAffine(image, chip, forward, cv::Size(size_, size_), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return chip;
  }
  int chip_size() const override { return size_; }

 private:
  int size_;
};

}  // namespace

std::unique_ptr<Aligner> make_arcface_aligner(int size) { return std::make_unique<ArcFaceAligner>(size); }

}  // namespace facesearch
