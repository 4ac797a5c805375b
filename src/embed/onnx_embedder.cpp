// Embedder for any pack whose recogniser is one ONNX net: chip -> normalised tensor -> [N, dim]. The
// manifest says the chip's colour order and normalisation: dlib's ResNet (face-api.js port), ArcFace as
// insightface 0.7's ArcFaceONNX feeds it (RGB, (x - 127.5) / 127.5, or raw pixels for graphs that
// normalise themselves), SFace as OpenCV's FaceRecognizerSF (RGB, raw 0..255), the MobileFaceNet of
// mobilefacenet-faceapi as its package feeds it (RGB, (x - 127) / 128).
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "embed/embedder.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

// The embedder's activations are small (a few MB per face): kept between calls, not re-allocated.
RuntimeOptions with_arena(RuntimeOptions runtime) {
  runtime.memory_arena = true;
  return runtime;
}

class OnnxEmbedder final : public Embedder {
 public:
  OnnxEmbedder(const EmbedderSpec& spec, const RuntimeOptions& runtime)
      : spec_(spec), session_(spec.fast_file.empty() ? spec.file : spec.fast_file, with_arena(runtime)) {
    if (!spec_.fast_file.empty()) spec_.file = spec_.fast_file;  // the file errors name
    const auto& in = session_.input_shape();
    if (in.size() != 4 || (in[2] > 0 && in[2] != spec_.input.height) || (in[3] > 0 && in[3] != spec_.input.width))
      throw Error(ErrorCode::kModel, spec_.file.string() + ": input is not [N, 3, " + std::to_string(spec_.input.height) +
                                         ", " + std::to_string(spec_.input.width) + "] as the manifest says");
    if (in[0] > 0) spec_.batch = std::min<int>(spec_.batch, int(in[0]));  // a fixed batch size (SFace: 1)
    const auto& out = session_.output_shapes().front();
    if (!out.empty() && out.back() > 0 && out.back() != spec_.dim)
      throw Error(ErrorCode::kModel, spec_.file.string() + ": gives " + std::to_string(out.back()) +
                                         " values per face, the manifest says " + std::to_string(spec_.dim));
  }

  int dim() const override { return spec_.dim; }

  void embed(std::span<const cv::Mat> chips, std::span<float> out) const override {
    if (out.size() < chips.size() * static_cast<size_t>(spec_.dim))
      throw Error(ErrorCode::kInvalidArgument, "embed: output buffer too small");
    const int w = spec_.input.width, h = spec_.input.height;
    const size_t plane = 3u * w * h;
    std::vector<float> blob;
    size_t start = 0;
    for (const size_t n : batches(chips.size())) {
      blob.resize(plane * n);
      for (size_t i = 0; i < n; ++i) {
        const cv::Mat& chip = chips[start + i];
        if (chip.cols != w || chip.rows != h || chip.type() != CV_8UC3)
          throw Error(ErrorCode::kInvalidArgument, "embed: chips must be " + std::to_string(w) + "x" +
                                                       std::to_string(h) + " 8-bit BGR");
        write_chw(chip, spec_.input, blob.data() + i * plane);
      }
      const std::int64_t shape[4] = {static_cast<std::int64_t>(n), 3, h, w};
      const auto result = session_.run(blob, shape);
      if (result.empty() || result[0].data.size() != n * static_cast<size_t>(spec_.dim))
        throw Error(ErrorCode::kModel, spec_.file.string() + ": unexpected embedding size");
      std::memcpy(out.data() + start * spec_.dim, result[0].data.data(), n * spec_.dim * sizeof(float));
      start += n;
    }
  }

  // Even batches of at most the preferred size (9 faces at 4: 3 + 3 + 3, not 4 + 4 + 1).
  std::vector<size_t> batches(size_t chips) const override {
    const size_t preferred = static_cast<size_t>(std::max(1, spec_.batch));
    const size_t calls = (chips + preferred - 1) / preferred;
    std::vector<size_t> sizes;
    for (size_t start = 0, batch = calls ? (chips + calls - 1) / calls : 1; start < chips; start += batch)
      sizes.push_back(std::min(batch, chips - start));
    return sizes;
  }

 private:
  EmbedderSpec spec_;
  OnnxSession session_;
};

}  // namespace

std::unique_ptr<Embedder> make_embedder(const ModelPack& pack, const RuntimeOptions& runtime) {
  const std::string& kind = pack.embedder.kind;
  if (kind == "dlib_resnet128" || kind == "arcface" || kind == "sface" ||
      kind == "mobilefacenet512") return std::make_unique<OnnxEmbedder>(pack.embedder, runtime);
  throw Error(ErrorCode::kModel, "model pack " + pack.name + ": unknown embedder kind '" + pack.embedder.kind + "'");
}

}  // namespace facesearch
