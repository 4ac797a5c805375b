// Embedder for any pack whose recogniser is one ONNX net: chip -> normalised tensor -> [N, dim].
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "embed/embedder.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

class OnnxEmbedder final : public Embedder {
 public:
  OnnxEmbedder(const EmbedderSpec& spec, const RuntimeOptions& runtime) : spec_(spec), session_(spec.file, runtime) {}

  int dim() const override { return spec_.dim; }

  void embed(std::span<const cv::Mat> chips, std::span<float> out) const override {
    if (out.size() < chips.size() * static_cast<size_t>(spec_.dim))
      throw Error(ErrorCode::kInvalidArgument, "embed: output buffer too small");
    const int w = spec_.input.width, h = spec_.input.height;
    const size_t plane = 3u * w * h;
    const size_t batch = static_cast<size_t>(spec_.batch);
    std::vector<float> blob;
    for (size_t start = 0; start < chips.size(); start += batch) {
      const size_t n = std::min(batch, chips.size() - start);
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
      if (result.empty() || result[0].data.size() != n * spec_.dim)
        throw Error(ErrorCode::kModel, spec_.file.string() + ": unexpected embedding size");
      std::memcpy(out.data() + start * spec_.dim, result[0].data.data(), n * spec_.dim * sizeof(float));
    }
  }

 private:
  EmbedderSpec spec_;
  OnnxSession session_;
};

}  // namespace

std::unique_ptr<Embedder> make_embedder(const ModelPack& pack, const RuntimeOptions& runtime) {
  if (pack.embedder.kind == "dlib_resnet128") return std::make_unique<OnnxEmbedder>(pack.embedder, runtime);
  throw Error(ErrorCode::kModel, "model pack " + pack.name + ": unknown embedder kind '" + pack.embedder.kind + "'");
}

}  // namespace facesearch
