// Stage 4: warp a face to the canonical chip the embedder was trained on.
#pragma once

#include <array>
#include <memory>
#include <span>

#include <opencv2/core.hpp>

#include "core/types.h"
#include "models/model_pack.h"

namespace facesearch {

class Aligner {
 public:
  virtual ~Aligner() = default;
  // The aligned chip (CV_8UC3 BGR, chip_size() square) for a face with these landmarks in `image`.
  virtual cv::Mat align(const cv::Mat& image, std::span<const Point> landmarks) const = 0;
  virtual int chip_size() const = 0;
};

std::unique_ptr<Aligner> make_aligner(const ModelPack& pack);

// InsightFace's ArcFace alignment of 5 keypoints (eyes, nose tip, mouth corners) onto its 112x112
// template (arcface_template_112()). Throws Error{kModel} for another size or another number of points.
// With `antialias`, faces more than twice the chip's size are halved (pyrDown) until they are not
// before the warp, as the dlib chip aligner does.
std::unique_ptr<Aligner> make_arcface_aligner(int size = 112, bool antialias = false);
std::span<const Point> arcface_template_112();

// ArcFace's 5 points from 68 landmarks (iBUG 300-W order): the centres of the eyes (36-41, 42-47), the
// nose tip (30) and the mouth corners (48, 54). The ArcFace aligner applies it to 68 landmarks, so that
// 5-point recognisers run on a 68-point landmarker. Throws Error{kInvalidArgument} for another count.
std::array<Point, 5> five_points_of_68(std::span<const Point> landmarks);

// A similarity transform (scale, rotation, translation): p' = [a -b; b a] p + t.
struct Similarity {
  double a = 1, b = 0, tx = 0, ty = 0;
  Point apply(Point p) const {
    return {static_cast<float>(a * p.x - b * p.y + tx), static_cast<float>(b * p.x + a * p.y + ty)};
  }
};

// Least-squares similarity transform mapping `from` onto `to` (Umeyama 1991, as dlib's
// find_similarity_transform). Both spans have the same size >= 2.
Similarity fit_similarity(std::span<const Point> from, std::span<const Point> to);

}  // namespace facesearch
