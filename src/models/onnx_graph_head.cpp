// A minimal reader of the protobuf wire format (varints and length-delimited fields), enough to walk
// ModelProto.graph (field 7) -> GraphProto.node (field 1) -> NodeProto.name (3) / op_type (4). Protobuf
// writes fields in number order, so the graph's nodes come before its weights (initializer, field 5)
// and the first megabytes of the file hold them.
#include <algorithm>
#include "models/onnx_graph_head.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <string_view>

#include "core/error.h"

namespace facesearch {
namespace {

constexpr size_t kReadLimit = 16u << 20;  // the nodes come first; big constants could push them later

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  std::optional<std::uint64_t> varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      v |= std::uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    return std::nullopt;
  }

  // A field's key; nullopt at a malformed or truncated key.
  std::optional<std::pair<std::uint32_t, int>> key() {
    const auto k = varint();
    if (!k) return std::nullopt;
    return std::make_pair(static_cast<std::uint32_t>(*k >> 3), static_cast<int>(*k & 7));
  }

  // A length-delimited payload, possibly cut short by the read limit (then `truncated`).
  std::optional<std::string_view> bytes(bool* truncated = nullptr) {
    const auto len = varint();
    if (!len) return std::nullopt;
    const size_t available = data_.size() - pos_;
    const size_t n = std::min<std::uint64_t>(*len, available);
    if (truncated) *truncated = n < *len;
    const auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  bool skip(int wire_type) {
    switch (wire_type) {
      case 0: return varint().has_value();
      case 1: pos_ += 8; return pos_ <= data_.size();
      case 2: return bytes().has_value();
      case 5: pos_ += 4; return pos_ <= data_.size();
      default: return false;  // groups (3, 4) are not used by ONNX
    }
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<OnnxNodeHead> read_onnx_graph_head(const std::filesystem::path& file, size_t max_nodes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, file.string() + ": cannot open");
  // No more than the file holds: zero-filling 16 MiB for a small file costs more than reading it.
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(file, ec);
  std::string data(ec ? kReadLimit : std::min<size_t>(kReadLimit, static_cast<size_t>(file_bytes)), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  auto bad = [&](const std::string& why) { return Error(ErrorCode::kModel, file.string() + ": not an ONNX model (" + why + ")"); };

  WireReader model(data);
  std::optional<std::string_view> graph;
  while (!model.done() && !graph) {
    const auto k = model.key();
    if (!k) throw bad("damaged protobuf");
    if (k->first == 7 && k->second == 2) {
      graph = model.bytes();
      if (!graph) throw bad("damaged graph");
    } else if (!model.skip(k->second)) {
      throw bad("damaged protobuf");
    }
  }
  if (!graph) throw bad("no graph");

  std::vector<OnnxNodeHead> nodes;
  WireReader g(*graph);
  while (!g.done() && nodes.size() < max_nodes) {
    const auto k = g.key();
    if (!k) break;  // cut by the read limit
    if (k->first == 1 && k->second == 2) {
      bool truncated = false;
      const auto node_bytes = g.bytes(&truncated);
      if (!node_bytes || truncated) break;
      OnnxNodeHead node;
      WireReader n(*node_bytes);
      while (!n.done()) {
        const auto nk = n.key();
        if (!nk) throw bad("damaged node");
        if ((nk->first == 3 || nk->first == 4) && nk->second == 2) {
          const auto text = n.bytes();
          if (!text) throw bad("damaged node");
          (nk->first == 3 ? node.name : node.op_type) = std::string(*text);
        } else if (!n.skip(nk->second)) {
          throw bad("damaged node");
        }
      }
      nodes.push_back(std::move(node));
    } else if (!g.skip(k->second)) {
      break;
    }
  }
  return nodes;
}

bool graph_normalises_input(const std::vector<OnnxNodeHead>& head) {
  bool sub = false, mul = false;
  for (const auto& node : head) {
    const std::string_view name = node.name;
    if (name.starts_with("Sub") || name.starts_with("_minus")) sub = true;
    if (name.starts_with("Mul") || name.starts_with("_mul")) mul = true;
  }
  return sub && mul;
}

}  // namespace facesearch
