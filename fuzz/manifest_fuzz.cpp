// Fuzzes the model pack manifest parser (model_pack_from_manifest: JSON text -> ModelPack) on
// arbitrary text. The files a real dlib-faceapi manifest names exist (empty) in a scratch folder, so
// that mutations of a real manifest get past the file checks into the rest of the parser.
// Anything but facesearch::Error escaping (e.g. a nlohmann::json exception) is a finding.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_support.h"
#include "models/model_pack.h"

namespace {

const std::filesystem::path& pack_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = facesearch::fuzz::scratch().path();
    for (const char* name : {"ssd_mobilenetv1.onnx", "landmarks68.onnx", "dlib_resnet128.onnx", "mediapipe_face_full.onnx",
                             "det_10g.onnx", "w600k_r50.onnx", "a", "b"})
      facesearch::fuzz::write_file(d / name, nullptr, 0);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const facesearch::ModelPack pack = facesearch::model_pack_from_manifest(text, pack_dir(), "fuzz/manifest.json");
    (void)pack;
  } catch (const facesearch::Error&) {
  }
  return 0;
}
