// Inner-product kernels: a scalar reference and AVX2+FMA / AVX-512 versions chosen once at run time
// (__builtin_cpu_supports + per-function target attributes, so the library itself stays baseline
// x86-64 and runs on any CPU). Each row's sum is computed by the same sequence of operations wherever
// the row falls in a batch, so equal rows always get bit-identical scores (ties stay ties).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "index/inner_product_kernels.h"
#include "index/vector_index.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FACESEARCH_X86 1
#endif

namespace facesearch {

void inner_products_scalar(const float* query, const float* base, size_t n, int dim, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const float* row = base + i * static_cast<size_t>(dim);
    float sum = 0;
    for (int j = 0; j < dim; ++j) sum += query[j] * row[j];
    out[i] = sum;
  }
}

namespace {

float inner_product_scalar(const float* a, const float* b, int dim) {
  float out;
  inner_products_scalar(a, b, 1, dim, &out);
  return out;
}

#ifdef FACESEARCH_X86

// ---- AVX-512: 16 floats a step, masked loads for the dim % 16 tail (never touch past a row). ----

// GCC 12's AVX-512 headers initialise their "undefined" vectors from themselves, which trips
// -Wuninitialized wherever they are inlined (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f"))) inline __m512 row_sum_avx512(const float* q, const float* r, int full,
                                                                __mmask16 tail) {
  __m512 acc = _mm512_setzero_ps();
  for (int c = 0; c < full; ++c) acc = _mm512_fmadd_ps(_mm512_loadu_ps(r + 16 * c), _mm512_loadu_ps(q + 16 * c), acc);
  if (tail) {
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r + 16 * full), _mm512_maskz_loadu_ps(tail, q + 16 * full), acc);
  }
  return acc;
}

__attribute__((target("avx512f"))) float inner_product_avx512(const float* a, const float* b, int dim) {
  const int full = dim / 16;
  const auto tail = static_cast<__mmask16>((1u << (dim % 16)) - 1);
  return _mm512_reduce_add_ps(row_sum_avx512(a, b, full, tail));
}

// Four rows at a time share each query load; each row keeps its own accumulator in the same order as
// row_sum_avx512, so a row scores the same in the 4-wide loop and in the remainder loop.
__attribute__((target("avx512f"))) void inner_products_avx512(const float* q, const float* base, size_t n, int dim,
                                                              float* out) {
  const int full = dim / 16;
  const auto tail = static_cast<__mmask16>((1u << (dim % 16)) - 1);
  const size_t stride = static_cast<size_t>(dim);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* r0 = base + i * stride;
    const float* r1 = r0 + stride;
    const float* r2 = r1 + stride;
    const float* r3 = r2 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (int c = 0; c < full; ++c) {
      const __m512 qv = _mm512_loadu_ps(q + 16 * c);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + 16 * c), qv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + 16 * c), qv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + 16 * c), qv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + 16 * c), qv, a3);
    }
    if (tail) {
      const int o = 16 * full;
      const __m512 qv = _mm512_maskz_loadu_ps(tail, q + o);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r0 + o), qv, a0);
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r1 + o), qv, a1);
      a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r2 + o), qv, a2);
      a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r3 + o), qv, a3);
    }
    out[i] = _mm512_reduce_add_ps(a0);
    out[i + 1] = _mm512_reduce_add_ps(a1);
    out[i + 2] = _mm512_reduce_add_ps(a2);
    out[i + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; i < n; ++i) out[i] = _mm512_reduce_add_ps(row_sum_avx512(q, base + i * stride, full, tail));
}

#pragma GCC diagnostic pop

// ---- AVX2 + FMA: 8 floats a step, vmaskmov for the dim % 8 tail (masked lanes are not read). ----

__attribute__((target("avx2,fma"))) inline __m256i tail_mask_avx2(int rem) {
  alignas(32) static constexpr std::array<int, 16> kOnes = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes.data() + 8 - rem));
}

__attribute__((target("avx2,fma"))) inline float hsum_avx2(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

__attribute__((target("avx2,fma"))) inline float hmax_avx2(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) inline __m256 row_sum_avx2(const float* q, const float* r, int full, int rem,
                                                               __m256i tail) {
  __m256 acc = _mm256_setzero_ps();
  for (int c = 0; c < full; ++c) acc = _mm256_fmadd_ps(_mm256_loadu_ps(r + 8 * c), _mm256_loadu_ps(q + 8 * c), acc);
  if (rem) acc = _mm256_fmadd_ps(_mm256_maskload_ps(r + 8 * full, tail), _mm256_maskload_ps(q + 8 * full, tail), acc);
  return acc;
}

__attribute__((target("avx2,fma"))) float inner_product_avx2(const float* a, const float* b, int dim) {
  const int rem = dim % 8;
  return hsum_avx2(row_sum_avx2(a, b, dim / 8, rem, tail_mask_avx2(rem)));
}

__attribute__((target("avx2,fma"))) void inner_products_avx2(const float* q, const float* base, size_t n, int dim,
                                                             float* out) {
  const int full = dim / 8, rem = dim % 8;
  const __m256i tail = tail_mask_avx2(rem);
  const size_t stride = static_cast<size_t>(dim);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* r0 = base + i * stride;
    const float* r1 = r0 + stride;
    const float* r2 = r1 + stride;
    const float* r3 = r2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int c = 0; c < full; ++c) {
      const __m256 qv = _mm256_loadu_ps(q + 8 * c);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + 8 * c), qv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + 8 * c), qv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + 8 * c), qv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + 8 * c), qv, a3);
    }
    if (rem) {
      const int o = 8 * full;
      const __m256 qv = _mm256_maskload_ps(q + o, tail);
      a0 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + o, tail), qv, a0);
      a1 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + o, tail), qv, a1);
      a2 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + o, tail), qv, a2);
      a3 = _mm256_fmadd_ps(_mm256_maskload_ps(r3 + o, tail), qv, a3);
    }
    out[i] = hsum_avx2(a0);
    out[i + 1] = hsum_avx2(a1);
    out[i + 2] = hsum_avx2(a2);
    out[i + 3] = hsum_avx2(a3);
  }
  for (; i < n; ++i) out[i] = hsum_avx2(row_sum_avx2(q, base + i * stride, full, rem, tail));
}

// ---- int8 rows: 16 values a step (sign-extended, converted to float) into two accumulators. ----

__attribute__((target("avx2,fma"))) void inner_products_i8_avx2(const float* q, const std::int8_t* rows, size_t n,
                                                                int dim, float* out) {
  const size_t stride = static_cast<size_t>(dim);
  for (size_t i = 0; i < n; ++i) {
    const std::int8_t* r = rows + i * stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= dim; k += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + k));
      const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
      const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
      a0 = _mm256_fmadd_ps(lo, _mm256_loadu_ps(q + k), a0);
      a1 = _mm256_fmadd_ps(hi, _mm256_loadu_ps(q + k + 8), a1);
    }
    float sum = hsum_avx2(_mm256_add_ps(a0, a1));
    for (; k < dim; ++k) sum += q[k] * static_cast<float>(r[k]);
    out[i] = sum;
  }
}

__attribute__((target("avx2,fma"))) void quantize_rows_i8_avx2(const float* rows, size_t n, int dim, std::int8_t* out,
                                                               float* scales) {
  const __m256 sign_off = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (size_t r = 0; r < n; ++r) {
    const float* x = rows + r * static_cast<size_t>(dim);
    std::int8_t* c = out + r * static_cast<size_t>(dim);
    __m256 m = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= dim; k += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), sign_off));
    float largest = hmax_avx2(m);
    for (; k < dim; ++k) largest = std::max(largest, std::abs(x[k]));
    const float scale = largest > 0 ? largest / 127.f : 0.f;
    scales[r] = scale;
    const float inv = largest > 0 ? 127.f / largest : 0.f;
    const __m256 iv = _mm256_set1_ps(inv);
    k = 0;
    for (; k + 32 <= dim; k += 32) {
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), iv));
      const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), iv));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), iv));
      const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), iv));
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + k), _mm256_permutevar8x32_epi32(bytes, order));
    }
    for (; k < dim; ++k) c[k] = static_cast<std::int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.f, 127.f));
  }
}

// ---- binary16 rows (F16C): 16 halves a step into two accumulators, 8 then scalar for the tail. ----

__attribute__((target("avx2,fma,f16c"))) float inner_product_half_avx2(const float* q, const std::uint16_t* r, int dim) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int j = 0;
  for (; j + 16 <= dim; j += 16) {
    const __m256 r0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j)));
    const __m256 r1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j + 8)));
    a0 = _mm256_fmadd_ps(r0, _mm256_loadu_ps(q + j), a0);
    a1 = _mm256_fmadd_ps(r1, _mm256_loadu_ps(q + j + 8), a1);
  }
  if (j + 8 <= dim) {
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j))),
                         _mm256_loadu_ps(q + j), a0);
    j += 8;
  }
  float sum = hsum_avx2(_mm256_add_ps(a0, a1));
  for (; j < dim; ++j) sum += q[j] * _cvtsh_ss(r[j]);
  return sum;
}

__attribute__((target("avx2,f16c"))) void to_half_f16c(const float* in, size_t n, std::uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
}

#endif  // FACESEARCH_X86

struct KernelSet {
  std::vector<index_detail::NamedKernel> batch;  // scalar first, best last
  float (*single)(const float*, const float*, int) = inner_product_scalar;
  float (*half)(const float*, const std::uint16_t*, int) = nullptr;  // null: no F16C
  void (*to_half)(const float*, size_t, std::uint16_t*) = nullptr;
  void (*int8)(const float*, const std::int8_t*, size_t, int, float*) = index_detail::inner_products_i8_scalar;
  void (*quantize)(const float*, size_t, int, std::int8_t*, float*) = index_detail::quantize_rows_i8_scalar;
};

KernelSet detect_kernels() {
  KernelSet set;
  set.batch.push_back({"scalar", inner_products_scalar});
#ifdef FACESEARCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    set.batch.push_back({"avx2", inner_products_avx2});
    set.single = inner_product_avx2;
    set.int8 = inner_products_i8_avx2;
    set.quantize = quantize_rows_i8_avx2;
    if (__builtin_cpu_supports("f16c")) {
      set.half = inner_product_half_avx2;
      set.to_half = to_half_f16c;
    }
  }
  if (__builtin_cpu_supports("avx512f")) {
    set.batch.push_back({"avx512", inner_products_avx512});
    set.single = inner_product_avx512;
  }
#endif
  return set;
}

// Chosen once (thread-safe static initialisation); constant afterwards.
const KernelSet& kernels() {
  static const KernelSet set = detect_kernels();
  return set;
}

}  // namespace

void inner_products(const float* query, const float* base, size_t n, int dim, float* out) {
  static const index_detail::InnerProductKernel best = kernels().batch.back().fn;
  best(query, base, n, dim, out);
}

float similarity(std::span<const float> a, std::span<const float> b) {
  float out = 0;
  inner_products(a.data(), b.data(), 1, static_cast<int>(std::min(a.size(), b.size())), &out);
  return out;
}

namespace index_detail {

std::span<const NamedKernel> supported_inner_product_kernels() { return kernels().batch; }

float inner_product(const float* a, const float* b, int dim) {
  static const auto single = kernels().single;
  return single(a, b, dim);
}

bool half_rows_supported() { return kernels().half != nullptr; }

void inner_products_i8(const float* query, const std::int8_t* rows, size_t n, int dim, float* out) {
  static const auto int8 = kernels().int8;
  int8(query, rows, n, dim, out);
}

void quantize_rows_i8(const float* rows, size_t n, int dim, std::int8_t* out, float* scales) {
  static const auto quantize = kernels().quantize;
  quantize(rows, n, dim, out, scales);
}

void quantize_rows_i8_scalar(const float* rows, size_t n, int dim, std::int8_t* out, float* scales) {
  for (size_t r = 0; r < n; ++r) {
    const float* x = rows + r * static_cast<size_t>(dim);
    float largest = 0;
    for (int k = 0; k < dim; ++k) largest = std::max(largest, std::abs(x[k]));
    scales[r] = largest > 0 ? largest / 127.f : 0.f;
    const float inv = largest > 0 ? 127.f / largest : 0.f;
    for (int k = 0; k < dim; ++k)
      out[r * static_cast<size_t>(dim) + k] = static_cast<std::int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.f, 127.f));
  }
}

void inner_products_i8_scalar(const float* query, const std::int8_t* rows, size_t n, int dim, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const std::int8_t* r = rows + i * static_cast<size_t>(dim);
    float sum = 0;
    for (int k = 0; k < dim; ++k) sum += query[k] * static_cast<float>(r[k]);
    out[i] = sum;
  }
}

void to_half(const float* in, size_t n, std::uint16_t* out) {
  static const auto convert = kernels().to_half;
  convert(in, n, out);
}

float inner_product_half(const float* query, const std::uint16_t* row, int dim) {
  static const auto half = kernels().half;
  return half(query, row, dim);
}

float half_to_float(std::uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return static_cast<float>(sign) * std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  if (exponent == 31)
    return mantissa ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(sign) * std::numeric_limits<float>::infinity();
  return static_cast<float>(sign) * std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
}

float inner_product_half_scalar(const float* query, const std::uint16_t* row, int dim) {
  float sum = 0;
  for (int j = 0; j < dim; ++j) sum += query[j] * half_to_float(row[j]);
  return sum;
}

}  // namespace index_detail
}  // namespace facesearch
