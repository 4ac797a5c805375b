// Stage 3: facial landmarks inside detected boxes.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "core/types.h"
#include "models/model_pack.h"
#include "models/onnx_session.h"

namespace facesearch {

class Landmarker {
 public:
  virtual ~Landmarker() = default;
  // For each box (pixels of `image`), its landmark points in pixels of `image`. One batched call.
  // Thread-safe.
  virtual std::vector<std::vector<Point>> landmarks(const cv::Mat& image, std::span<const Box> boxes) const = 0;
  virtual int points() const = 0;
  // Faces per inference call: landmarks() splits more in parts of this size. Callers that spread a
  // crowd's faces over threads split at the same size (the same calls, the same points).
  virtual size_t batch() const = 0;
};

// Returns nullptr when the pack has no separate landmarker.
std::unique_ptr<Landmarker> make_landmarker(const ModelPack& pack, const RuntimeOptions& runtime);

}  // namespace facesearch
