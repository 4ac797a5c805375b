// Internal to src/index: every inner-product kernel this build carries, so that tests can check each
// one the CPU runs (not only the one inner_products() dispatches to) against the scalar reference.
// Layout as in vector_index.h: base is n rows of dim floats, row-major, no alignment required.
#pragma once

#include <cstddef>
#include <span>

namespace facesearch::index_detail {

using InnerProductKernel = void (*)(const float* query, const float* base, size_t n, int dim, float* out);

struct NamedKernel {
  const char* name;  // "scalar", "avx2", "avx512"
  InnerProductKernel fn;
};

// The kernels this CPU supports, scalar first, fastest last (the one inner_products() uses).
std::span<const NamedKernel> supported_inner_product_kernels();

// One row: <a, b> with the kernel inner_products() uses; for callers that score scattered rows
// (graph search) and would otherwise pay the batch set-up per row.
float inner_product(const float* a, const float* b, int dim);

}  // namespace facesearch::index_detail
