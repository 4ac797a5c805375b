// Stage 4: warp a face to the canonical chip the embedder was trained on.
#pragma once

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
std::unique_ptr<Aligner> make_arcface_aligner(int size = 112);
std::span<const Point> arcface_template_112();

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
