#include "index/vector_index.h"

namespace facesearch {

std::unique_ptr<VectorIndex> make_index(IndexKind kind, int dim, size_t expected_size) {
  switch (kind) {
    case IndexKind::kExact: return make_exact_index(dim);
    case IndexKind::kApprox: return make_approx_index(dim);
    case IndexKind::kAuto:
    case IndexKind::kPreferSaved: break;
  }
  return expected_size < kApproxThreshold ? make_exact_index(dim) : make_approx_index(dim);
}

}  // namespace facesearch
