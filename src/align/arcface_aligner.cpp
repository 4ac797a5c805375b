// InsightFace's ArcFace alignment (insightface 0.7 utils/face_align.py, norm_crop / estimate_norm): the
// least-squares similarity transform (Umeyama, as skimage's SimilarityTransform.estimate) of a face's 5
// keypoints onto the ArcFace template, then cv2.warpAffine to 112x112 with bilinear interpolation and a
// black border. Issue 5: used by the InsightFace packs.
//
// Issue 13: it also takes 68 landmarks (the dlib-faceapi landmarker's), reduced to the 5 points
// (five_points_of_68), so that ArcFace-style recognisers run on the default detectors and landmarks.
// With `antialias` (the manifest's aligner.antialias: mobilefacenet-faceapi), faces more than twice
// the chip's size are first halved (pyrDown) until they are not, as the dlib chip aligner does, so that
// the bilinear warp of a 12-MP photo's face skips no pixels. The InsightFace and OpenCV packs warp the
// full photo directly, as their reference code does.
#include <cmath>

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

std::array<Point, 5> five_points_of_68(std::span<const Point> landmarks) {
  if (landmarks.size() != 68)
    throw Error(ErrorCode::kInvalidArgument, "five_points_of_68 needs 68 landmarks, got " + std::to_string(landmarks.size()));
  auto mean = [&](int first, int last) {
    double x = 0, y = 0;
    for (int i = first; i <= last; ++i) x += landmarks[i].x, y += landmarks[i].y;
    const double n = last - first + 1;
    return Point{static_cast<float>(x / n), static_cast<float>(y / n)};
  };
  // The image's left eye (the person's right) is 36-41 in the 68-point scheme, as ArcFace's first point.
  return {mean(36, 41), mean(42, 47), landmarks[30], landmarks[48], landmarks[54]};
}

namespace {

class ArcFaceAligner final : public Aligner {
 public:
  ArcFaceAligner(int size, bool antialias) : size_(size), antialias_(antialias) {
    if (size_ != 112)
      throw Error(ErrorCode::kModel, "arcface_5pt alignment: the ArcFace template is for 112x112 chips, not " +
                                         std::to_string(size_));
  }

  cv::Mat align(const cv::Mat& image, std::span<const Point> landmarks) const override {
    std::array<Point, 5> reduced;
    if (landmarks.size() == 68) {
      reduced = five_points_of_68(landmarks);
      landmarks = reduced;
    }
    if (landmarks.size() != 5)
      throw Error(ErrorCode::kModel, "arcface_5pt alignment needs 5 keypoints (or 68 landmarks), got " +
                                         std::to_string(landmarks.size()));
    Similarity m = fit_similarity(landmarks, arcface_template_112());
    // Image pixels per chip pixel: halve the face's neighbourhood until it is at most 2.
    int levels = 0;
    while (antialias_ && std::hypot(m.a, m.b) * (1 << levels) < 0.5 && levels < 8) ++levels;
    cv::Mat chip;
    if (levels == 0) {
      const cv::Matx23d forward(m.a, -m.b, m.tx, m.b, m.a, m.ty);
      cv::warpAffine(image, chip, forward, cv::Size(size_, size_), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      return chip;
    }
    // The region the chip reads (its corners mapped back), with a margin for the pyramid's filter.
    const Similarity inverse = invert(m);
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (const Point corner : {Point{0, 0}, Point{float(size_), 0}, Point{0, float(size_)}, Point{float(size_), float(size_)}}) {
      const Point p = inverse.apply(corner);
      x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
    }
    const int margin = 4 << levels;
    cv::Rect roi(int(std::floor(x0)) - margin, int(std::floor(y0)) - margin, int(std::ceil(x1 - x0)) + 2 * margin + 1,
                 int(std::ceil(y1 - y0)) + 2 * margin + 1);
    roi &= cv::Rect(0, 0, image.cols, image.rows);
    if (roi.width < 2 || roi.height < 2) return cv::Mat(size_, size_, CV_8UC3, cv::Scalar::all(0));
    cv::Mat src = image(roi);
    int done = 0;
    for (; done < levels && src.cols >= 4 && src.rows >= 4; ++done) {
      cv::Mat down;
      cv::pyrDown(src, down);
      src = down;
    }
    // Image point p -> reduced ROI point (p - roi.tl) / 2^done; the chip map scales by 2^done to match.
    const double f = double(1 << done);
    const cv::Matx23d forward(m.a * f, -m.b * f, m.tx + m.a * roi.x - m.b * roi.y, m.b * f, m.a * f,
                              m.ty + m.b * roi.x + m.a * roi.y);
    cv::warpAffine(src, chip, forward, cv::Size(size_, size_), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return chip;
  }

 private:
  static Similarity invert(const Similarity& m) {
    const double d = m.a * m.a + m.b * m.b;
    Similarity r;
    r.a = m.a / d;
    r.b = -m.b / d;
    r.tx = -(r.a * m.tx - r.b * m.ty);
    r.ty = -(r.b * m.tx + r.a * m.ty);
    return r;
  }

 public:
  int chip_size() const override { return size_; }

 private:
  int size_;
  bool antialias_;
};

}  // namespace

std::unique_ptr<Aligner> make_arcface_aligner(int size, bool antialias) {
  return std::make_unique<ArcFaceAligner>(size, antialias);
}

}  // namespace facesearch
