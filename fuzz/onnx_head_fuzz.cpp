// Fuzzes the ONNX graph head reader (our own protobuf walk in src/models/onnx_graph_head.cpp) on
// arbitrary files: it must give the first nodes or Error{kModel}, never read out of bounds or loop.
#include <cstdint>

#include "core/error.h"
#include "fuzz_support.h"
#include "models/onnx_graph_head.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = facesearch::fuzz::scratch().path() / "model.onnx";
  facesearch::fuzz::write_file(file, data, size);
  try {
    const auto head = facesearch::read_onnx_graph_head(file);
    if (head.size() > 8) std::abort();
    (void)facesearch::graph_normalises_input(head);
  } catch (const facesearch::Error&) {
  }
  return 0;
}
