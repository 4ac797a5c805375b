// dlib's face chip: get_face_chip_details(shape, size, padding) + extract_image_chip, re-derived.
//
// dlib fits a similarity transform from its mean face (the 68-point landmark template, points 17..67,
// as published in dlib/image_transforms/interpolation.h, dlib 19.24) onto the detected landmarks, skipping
// the eyebrows (17..26) and the lower lip (55..59, 65..67). The chip is the rectangle of side
// size*scale centred on the template centre, sampled on size x size pixels whose corners map to the
// rectangle's corners (hence the (size*scale - 1) / (size - 1) pixel step). Faces larger than the chip
// are first reduced by a 2x image pyramid until the chip is no larger than the face, so the final
// bilinear sampling never skips pixels (no aliasing).
#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "align/aligner.h"
#include "core/error.h"

namespace facesearch {
namespace {

// dlib's mean face shape for landmarks 17..67, in the unit square (dlib 19.24 interpolation.h).
constexpr std::array<double, 51> kMeanFaceX = {
    0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
    0.490127,    0.490127,  0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
    0.187122,    0.265825,  0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
    0.719335,    0.254149,  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127,    0.423532,  0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
    0.42689};
constexpr std::array<double, 51> kMeanFaceY = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
    0.203352, 0.307009, 0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,  0.587326, 0.216423,
    0.178758, 0.179852, 0.231733,  0.245099,  0.244077,  0.231733,  0.179852,  0.178758,  0.216423, 0.244077,
    0.245099, 0.780233, 0.745405,  0.727388,  0.742578,  0.727388,  0.745405,  0.780233,  0.864805, 0.902192,
    0.909281, 0.902192, 0.864805,  0.784792,  0.778746,  0.785343,  0.778746,  0.784792,  0.824182, 0.831803,
    0.824182};

bool used_by_dlib(int i) { return i >= 27 && !(i >= 55 && i <= 59) && !(i >= 65 && i <= 67); }

class DlibChipAligner final : public Aligner {
 public:
  explicit DlibChipAligner(const AlignerSpec& spec) : size_(spec.size), padding_(spec.padding) {
    if (size_ < 2) throw Error(ErrorCode::kModel, "aligner: chip size must be >= 2");
  }

  int chip_size() const override { return size_; }

  cv::Mat align(const cv::Mat& image, std::span<const Point> landmarks) const override {
    if (landmarks.size() != 68)
      throw Error(ErrorCode::kInvalidArgument, "dlib chip aligner needs 68 landmarks, got " +
                                                   std::to_string(landmarks.size()));
    std::vector<Point> from, to;
    for (int i = 17; i < 68; ++i) {
      if (!used_by_dlib(i)) continue;
      from.push_back({static_cast<float>((padding_ + kMeanFaceX[i - 17]) / (2 * padding_ + 1) * size_),
                      static_cast<float>((padding_ + kMeanFaceY[i - 17]) / (2 * padding_ + 1) * size_)});
      to.push_back(landmarks[i]);
    }
    const Similarity chip_to_image = fit_similarity(from, to);
    const double scale = std::hypot(chip_to_image.a, chip_to_image.b);
    const double angle = std::atan2(chip_to_image.b, chip_to_image.a);
    const Point centre = chip_to_image.apply({size_ / 2.f, size_ / 2.f});
    const double step = (size_ * scale - 1.0) / (size_ - 1.0);  // image pixels per chip pixel
    const double c = std::cos(angle), s = std::sin(angle), half = (size_ - 1) / 2.0;

    // Pyramid levels: halve until the chip rectangle is no larger than the chip (dlib's rule).
    int levels = 0;
    while (scale / (1 << levels) > 1.0 && levels < 8) ++levels;
    const double f = 1.0 / (1 << levels);

    // Region of the image the chip reads, with a margin for the pyramid filter and interpolation.
    const double reach = step * half * std::sqrt(2.0) + 4.0 * (1 << levels) + 2;
    cv::Rect roi(static_cast<int>(std::floor(centre.x - reach)), static_cast<int>(std::floor(centre.y - reach)),
                 static_cast<int>(std::ceil(2 * reach)) + 1, static_cast<int>(std::ceil(2 * reach)) + 1);
    roi &= cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat chip(size_, size_, CV_8UC3, cv::Scalar::all(0));
    if (roi.width < 2 || roi.height < 2) return chip;
    cv::Mat src = image(roi);
    for (int l = 0; l < levels && src.cols >= 2 && src.rows >= 2; ++l) {
      cv::Mat down;
      cv::pyrDown(src, down);
      src = down;
    }
    // chip (u, v) -> source: centre + step * R * ((u, v) - half), in the reduced ROI's coordinates.
    const double cx = (centre.x - roi.x) * f, cy = (centre.y - roi.y) * f, st = step * f;
    cv::Matx23d m(st * c, -st * s, cx - st * (c * half - s * half),  //
                  st * s, st * c, cy - st * (s * half + c * half));
    cv::warpAffine(src, chip, m, chip.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                   cv::Scalar::all(0));
    return chip;
  }

 private:
  int size_;
  double padding_;
};

}  // namespace

Similarity fit_similarity(std::span<const Point> from, std::span<const Point> to) {
  CV_Assert(from.size() == to.size() && from.size() >= 2);
  const double n = static_cast<double>(from.size());
  double mfx = 0, mfy = 0, mtx = 0, mty = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    mfx += from[i].x, mfy += from[i].y, mtx += to[i].x, mty += to[i].y;
  }
  mfx /= n, mfy /= n, mtx /= n, mty /= n;
  double sxx = 0, dot = 0, cross = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const double fx = from[i].x - mfx, fy = from[i].y - mfy, tx = to[i].x - mtx, ty = to[i].y - mty;
    sxx += fx * fx + fy * fy;
    dot += fx * tx + fy * ty;
    cross += fx * ty - fy * tx;
  }
  Similarity t;
  if (sxx <= 0) return t;
  t.a = dot / sxx;
  t.b = cross / sxx;
  t.tx = mtx - (t.a * mfx - t.b * mfy);
  t.ty = mty - (t.b * mfx + t.a * mfy);
  return t;
}

std::unique_ptr<Aligner> make_aligner(const ModelPack& pack) {
  if (pack.aligner.kind == "dlib_chip") return std::make_unique<DlibChipAligner>(pack.aligner);
  if (pack.aligner.kind == "arcface_5pt") return make_arcface_aligner(pack.aligner.size, pack.aligner.antialias);
  throw Error(ErrorCode::kModel, "model pack " + pack.name + ": unknown aligner kind '" + pack.aligner.kind + "'");
}

}  // namespace facesearch
