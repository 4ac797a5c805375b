#include "models/onnx_session.h"

#include <onnxruntime_cxx_api.h>

#include "core/error.h"

namespace facesearch {
namespace {

// One ONNX Runtime environment per process, created on first use (ORT requires it to outlive sessions).
Ort::Env& ort_env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "facesearch");
  return env;
}

}  // namespace

struct OnnxSession::Impl {
  std::string model_name;
  Ort::Session session{nullptr};
  size_t input_count = 0;
  std::string input_name;  // the first input's
  std::vector<std::int64_t> input_shape;
  std::vector<std::string> output_names;
  std::vector<std::vector<std::int64_t>> output_shapes;
  std::vector<const char*> output_name_ptrs;
};

OnnxSession::OnnxSession(const std::filesystem::path& model_file, const RuntimeOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->model_name = model_file.filename().string();
  try {
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(std::max(1, options.intra_op_threads));
    so.SetInterOpNumThreads(1);
    so.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    // No arena unless asked: activations are returned after each call instead of being kept at their
    // peak by every concurrent caller (measured on the detectors: a third less resident memory).
    if (!options.memory_arena) so.DisableCpuMemArena();
    if (!options.memory_pattern) so.DisableMemPattern();
    // Spinning worker threads burn the cores the other pipeline stages need.
    so.AddConfigEntry("session.intra_op.allow_spinning", "0");
    impl_->session = Ort::Session(ort_env(), model_file.c_str(), so);
    Ort::AllocatorWithDefaultOptions alloc;
    impl_->input_count = impl_->session.GetInputCount();
    if (impl_->input_count == 0) throw Error(ErrorCode::kModel, model_file.string() + ": the model has no input");
    impl_->input_name = impl_->session.GetInputNameAllocated(0, alloc).get();
    impl_->input_shape = impl_->session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
    for (size_t i = 0; i < impl_->session.GetOutputCount(); ++i) {
      impl_->output_names.emplace_back(impl_->session.GetOutputNameAllocated(i, alloc).get());
      impl_->output_shapes.push_back(impl_->session.GetOutputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape());
    }
    for (const auto& n : impl_->output_names) impl_->output_name_ptrs.push_back(n.c_str());
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModel, "cannot load model " + model_file.string() + ": " + e.what());
  }
}

OnnxSession::~OnnxSession() = default;
OnnxSession::OnnxSession(OnnxSession&&) noexcept = default;
OnnxSession& OnnxSession::operator=(OnnxSession&&) noexcept = default;

const std::vector<std::string>& OnnxSession::output_names() const { return impl_->output_names; }
const std::vector<std::int64_t>& OnnxSession::input_shape() const { return impl_->input_shape; }
const std::vector<std::vector<std::int64_t>>& OnnxSession::output_shapes() const { return impl_->output_shapes; }
const std::string& OnnxSession::input_name() const { return impl_->input_name; }

size_t OnnxSession::input_count() const { return impl_->input_count; }

std::vector<Tensor> OnnxSession::run(std::span<const float> input, std::span<const std::int64_t> shape) const {
  if (impl_->input_count != 1)
    throw Error(ErrorCode::kModel, impl_->model_name + ": has " + std::to_string(impl_->input_count) +
                                       " inputs; facesearch runs models of one image input");
  try {
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    auto in = Ort::Value::CreateTensor<float>(mem, const_cast<float*>(input.data()), input.size(), shape.data(),
                                              shape.size());
    const char* in_name = impl_->input_name.c_str();
    auto outs = impl_->session.Run(Ort::RunOptions{nullptr}, &in_name, &in, 1, impl_->output_name_ptrs.data(),
                                   impl_->output_name_ptrs.size());
    std::vector<Tensor> result;
    result.reserve(outs.size());
    for (auto& v : outs) {
      auto info = v.GetTensorTypeAndShapeInfo();
      Tensor t;
      t.shape = info.GetShape();
      const float* p = v.GetTensorData<float>();
      t.data.assign(p, p + info.GetElementCount());
      result.push_back(std::move(t));
    }
    return result;
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kInference, impl_->model_name + ": inference failed: " + e.what());
  }
}

}  // namespace facesearch
