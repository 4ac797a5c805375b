// Stage 5: aligned chips -> identity vectors.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "models/model_pack.h"
#include "models/onnx_session.h"

namespace facesearch {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Embeds N chips (CV_8UC3 BGR, the pack's input size) into `out`, N x dim() floats row-major,
  // caller-owned. Runs in batches of the pack's preferred size. Thread-safe.
  virtual void embed(std::span<const cv::Mat> chips, std::span<float> out) const = 0;
  virtual int dim() const = 0;
  // How embed() splits `chips` faces into calls: the sizes of its batches, in order (callers that spread
  // them over threads embed each part alone and get the same vectors).
  virtual std::vector<size_t> batches(size_t chips) const = 0;
};

std::unique_ptr<Embedder> make_embedder(const ModelPack& pack, const RuntimeOptions& runtime);

}  // namespace facesearch
