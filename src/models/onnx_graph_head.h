// The first nodes of an ONNX graph (name and operator), read straight from the file's protobuf encoding
// without loading the weights: insightface 0.7 decides how to normalise an ArcFace model's input from
// them (ArcFaceONNX.__init__: a Sub/_minus and a Mul/_mul among the first 8 node names mean the graph
// normalises itself, as mxnet exports do).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace facesearch {

struct OnnxNodeHead {
  std::string name;
  std::string op_type;
};

// Up to `max_nodes` nodes of the model's graph, in file order. Throws Error{kModel} naming the file when
// it is not an ONNX model (protobuf that does not parse, or no graph).
std::vector<OnnxNodeHead> read_onnx_graph_head(const std::filesystem::path& file, size_t max_nodes = 8);

// insightface's rule on those nodes: true when a node name starts with "Sub" or "_minus" and one with
// "Mul" or "_mul" (then the input is fed as raw 0..255 pixels, mean 0, std 1).
bool graph_normalises_input(const std::vector<OnnxNodeHead>& head);

}  // namespace facesearch
