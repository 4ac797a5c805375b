// Thin RAII wrapper over an ONNX Runtime session: one float32 input, named float32 outputs.
// Run() is thread-safe (ONNX Runtime sessions may be shared by threads).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace facesearch {

struct RuntimeOptions {
  // Threads inside one model call. The pipeline runs several calls in parallel (one per worker), so
  // 1 is right there; a single caller on an idle machine may want all cores.
  int intra_op_threads = 1;
  // ONNX Runtime's memory arena keeps each session's activations allocated between calls. Off for the
  // detectors (their activations are large; measured: a third less resident memory without it); on for
  // the embedder, whose small activations re-allocated per call cost it 6-9% (docs/PERFORMANCE.md).
  bool memory_arena = false;
  // ONNX Runtime's memory pattern: the activations' layout planned once per input shape and kept. Off for
  // a graph that takes inputs of several shapes (the fitted SSD: measured 25 MB more resident memory
  // per shape with it).
  bool memory_pattern = true;
};

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

class OnnxSession {
 public:
  OnnxSession(const std::filesystem::path& model_file, const RuntimeOptions& options);
  ~OnnxSession();
  OnnxSession(OnnxSession&&) noexcept;
  OnnxSession& operator=(OnnxSession&&) noexcept;

  // Runs the model on `input` (row-major, shape `shape`) and returns every output in model order.
  // Throws Error{kInference} naming the model on failure.
  std::vector<Tensor> run(std::span<const float> input, std::span<const std::int64_t> shape) const;

  const std::vector<std::string>& output_names() const;
  // How many inputs the model has; run() needs exactly one (a model with more can still be inspected).
  size_t input_count() const;
  // Declared shapes (of the first input), -1 for a dynamic dimension (e.g. [1, 3, -1, -1] for a detector of any input size).
  const std::vector<std::int64_t>& input_shape() const;
  const std::vector<std::vector<std::int64_t>>& output_shapes() const;
  const std::string& input_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facesearch
