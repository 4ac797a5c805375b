// Internal to src/index: every inner-product kernel this build carries, so that tests can check each
// one the CPU runs (not only the one inner_products() dispatches to) against the scalar reference.
// Layout as in vector_index.h: base is n rows of dim floats, row-major, no alignment required.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Half precision (IEEE binary16) rows for the graph walk: half the bytes of float rows, so half the
// cache misses. Only used where the CPU converts in hardware (F16C, with AVX2 + FMA for the kernel).
bool half_rows_supported();
// out[i] = the binary16 nearest to in[i] (round to nearest even); needs half_rows_supported().
void to_half(const float* in, size_t n, std::uint16_t* out);
// <query, row> with the row in binary16, accumulated in float; needs half_rows_supported(). Equal to
// <query, float(row)> up to float rounding. inner_product_half_scalar is its portable reference.
float inner_product_half(const float* query, const std::uint16_t* row, int dim);
float inner_product_half_scalar(const float* query, const std::uint16_t* row, int dim);
// binary16 to float, exact (every binary16 value is a float), in portable code.
float half_to_float(std::uint16_t h);

// int8 rows (n rows of dim values, row-major) for finding the few best rows cheaply
// (VectorIndex::search_confident on the exact index: a quarter of the bytes of float rows).
// out[i] = sum_k query[k] * rows[i][k], accumulated in float (AVX2 where the CPU has it);
// inner_products_i8_scalar is its portable reference.
void inner_products_i8(const float* query, const std::int8_t* rows, size_t n, int dim, float* out);
void inner_products_i8_scalar(const float* query, const std::int8_t* rows, size_t n, int dim, float* out);
// Each row as int8 values and a scale: scales[r] = max_k |x_k| / 127, out[r][k] = x_k / scales[r]
// rounded to nearest (|x_k - scales[r] * out[r][k]| <= scales[r] / 2, to float rounding); a zero row
// gives scale 0 and zeros. quantize_rows_i8_scalar is the portable reference.
void quantize_rows_i8(const float* rows, size_t n, int dim, std::int8_t* out, float* scales);
void quantize_rows_i8_scalar(const float* rows, size_t n, int dim, std::int8_t* out, float* scales);

}  // namespace facesearch::index_detail
