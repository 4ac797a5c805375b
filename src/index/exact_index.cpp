// Exact index: every stored vector is scored against every query with the SIMD kernel; nothing is
// ever missed. Storage is one 64-byte aligned row-major block (n x dim floats) plus the caller ids.
//
// Search walks the base in blocks of rows that stay in L2 while every query of the batch is scored
// against them, keeps each query's best k in a small heap, and splits the base across threads when
// there is enough work for thread start-up (~tens of µs) to pay off.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "index/inner_product_kernels.h"
#include "index/vector_index.h"

namespace facesearch {
namespace {

// A scored row. Order: higher score first; equal scores by row (insertion order), so results are the
// same whatever the block size or thread split.
struct Candidate {
  float score;
  size_t row;
};

inline bool better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.row < b.row);
}

void sort_best_first(std::vector<Candidate>& c) { std::sort(c.begin(), c.end(), better); }

// The best k candidates with score >= min_score seen so far: a heap with the worst kept on top.
class TopK {
 public:
  TopK(size_t k, float min_score) : k_(k), min_score_(min_score) {}

  // Offers rows first_row .. first_row + n - 1 with their scores; rows must come in increasing order
  // across calls (so an equal score never beats what is already kept).
  void push_block(const float* scores, size_t n, size_t first_row) {
    for (size_t j = 0; j < n; ++j) {
      const float s = scores[j];
      if (!(s >= min_score_)) continue;  // also drops NaN
      if (heap_.size() < k_) {
        heap_.push_back({s, first_row + j});
        std::push_heap(heap_.begin(), heap_.end(), better);
        if (heap_.size() == k_) min_score_ = std::max(min_score_, next_above(heap_.front().score));
      } else {
        std::pop_heap(heap_.begin(), heap_.end(), better);
        heap_.back() = {s, first_row + j};
        std::push_heap(heap_.begin(), heap_.end(), better);
        min_score_ = std::max(min_score_, next_above(heap_.front().score));
      }
    }
  }

  std::vector<Candidate>& items() { return heap_; }

 private:
  // Once full, a later row needs a strictly higher score than the worst kept one.
  static float next_above(float s) { return std::nextafter(s, std::numeric_limits<float>::infinity()); }

  size_t k_;
  float min_score_;  // the bar a new score must reach
  std::vector<Candidate> heap_;
};

// Allocator for the vector block: 64-byte alignment puts each 128-d row on its own cache lines.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept { return true; }
};

// Rows scored per block: about 256 KiB of vectors, so a block stays in L2 across the queries of a batch
// and the per-block score buffer stays in L1.
size_t rows_per_block(int dim) {
  return std::clamp<size_t>((256u << 10) / (sizeof(float) * static_cast<size_t>(dim)), 16, 4096);
}

// Below about this many multiply-adds per thread (50k faces x 128-d for one query), starting a thread
// costs more than it saves.
constexpr size_t kMinMultiplyAddsPerThread = 50000u * 128u;

size_t search_threads(size_t n, size_t nq, int dim) {
  const size_t work = n * nq * static_cast<size_t>(dim);
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(work / kMinMultiplyAddsPerThread, 1, std::min(hw, std::max<size_t>(n, 1)));
}

// Reserves room for `more` elements, growing geometrically so that many small adds stay linear.
template <class Vector>
void grow_for(Vector& v, size_t more) {
  if (v.size() + more > v.capacity()) v.reserve(std::max(v.size() + more, 2 * v.capacity()));
}

class ExactIndex final : public VectorIndex {
 public:
  explicit ExactIndex(int dim) : dim_(dim) {
    if (dim <= 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "exact index: dimension must be positive, got " + std::to_string(dim));
    }
  }

  // Searches rows that `owner` keeps alive, without copying them.
  ExactIndex(int dim, std::span<const std::int64_t> ids, std::span<const float> vectors, std::shared_ptr<const void> owner)
      : ExactIndex(dim) {
    check_sizes("exact index", ids, vectors);
    borrowed_ids_ = ids, borrowed_vectors_ = vectors, owner_ = std::move(owner);
  }

  int dim() const override { return dim_; }
  size_t size() const override { return owner_ ? borrowed_ids_.size() : ids_.size(); }
  // The rows and their ids, owned or borrowed.
  const float* row_data() const { return owner_ ? borrowed_vectors_.data() : vectors_.data(); }
  const std::int64_t* id_data() const { return owner_ ? borrowed_ids_.data() : ids_.data(); }
  std::string kind() const override { return "exact"; }

  void add(std::span<const std::int64_t> ids, std::span<const float> vectors) override {
    check_sizes("exact index add", ids, vectors);
    if (owner_) {  // borrowed rows: copy them into memory of our own first
      std::vector<float, CacheAlignedAllocator<float>> own_vectors(borrowed_vectors_.begin(), borrowed_vectors_.end());
      std::vector<std::int64_t> own_ids(borrowed_ids_.begin(), borrowed_ids_.end());
      vectors_ = std::move(own_vectors), ids_ = std::move(own_ids);
      borrowed_ids_ = {}, borrowed_vectors_ = {}, owner_.reset();
    }
    // Make room in both first, so that a failed allocation leaves the index as it was.
    grow_for(vectors_, vectors.size());
    grow_for(ids_, ids.size());
    vectors_.insert(vectors_.end(), vectors.begin(), vectors.end());
    ids_.insert(ids_.end(), ids.begin(), ids.end());
    std::lock_guard lock(compact_mutex_);
    compact_.reset();  // made again for the new rows on the next search_confident
  }

  std::vector<Neighbor> search_confident(std::span<const float> query, size_t k, float min_score) const override {
    const size_t d = static_cast<size_t>(dim_);
    if (query.size() != d)
      throw Error(ErrorCode::kInvalidArgument, "exact index search: a query of " + std::to_string(query.size()) +
                                                   " floats, the dimension is " + std::to_string(dim_));
    const size_t n = size();
    if (n == 0 || k == 0) return {};
    const std::shared_ptr<const Compact> compact = compact_rows();
    // |<q, x> - scale * <q, c>| <= scale / 2 * |q|_1 (each c_k is x_k / scale rounded), plus the float
    // rounding of the int8 sum (at most dim * 127 * |q|_1 * 2^-23 in units of scale), with room.
    double l1 = 0;
    for (const float v : query) l1 += std::abs(v);
    const float units = static_cast<float>(l1 * (0.5 + double(dim_) * 127.0 * 1.2e-7) * 1.001);
    const float* rows = row_data();
    const std::int64_t* ids = id_data();
    std::vector<Candidate> found;
    constexpr size_t kBlock = 1024;
    std::vector<float> coarse(kBlock);
    for (size_t b0 = 0; b0 < n; b0 += kBlock) {
      const size_t rows_in_block = std::min(kBlock, n - b0);
      index_detail::inner_products_i8(query.data(), compact->values.data() + b0 * d, rows_in_block, dim_, coarse.data());
      for (size_t j = 0; j < rows_in_block; ++j) {
        const float scale = compact->scales[b0 + j];
        if (coarse[j] * scale + units * scale + 1e-6f < min_score) continue;  // cannot reach min_score
        const float s = index_detail::inner_product(query.data(), rows + (b0 + j) * d, dim_);
        if (s >= min_score) found.push_back({s, b0 + j});
      }
    }
    sort_best_first(found);
    if (found.size() > k) found.resize(k);
    std::vector<Neighbor> out;
    out.reserve(found.size());
    for (const auto& c : found) out.push_back({ids[c.row], c.score});
    return out;
  }

  std::vector<std::vector<Neighbor>> search(std::span<const float> queries, size_t k,
                                            float min_score) const override {
    const size_t d = static_cast<size_t>(dim_);
    if (queries.size() % d != 0) {
      throw Error(ErrorCode::kInvalidArgument, "exact index search: " + std::to_string(queries.size()) +
                                                   " query floats is not a multiple of the dimension " +
                                                   std::to_string(dim_));
    }
    const size_t nq = queries.size() / d;
    const size_t n = size();
    std::vector<std::vector<Neighbor>> results(nq);
    if (nq == 0 || n == 0 || k == 0) return results;

    const size_t threads = search_threads(n, nq, dim_);
    // part[t][q]: the best k of query q among rows [t * n / threads, (t + 1) * n / threads).
    std::vector<std::vector<TopK>> part(threads);
    auto scan = [&](size_t t) {
      auto& heaps = part[t];
      heaps.assign(nq, TopK(k, min_score));
      scan_rows(queries.data(), nq, t * n / threads, (t + 1) * n / threads, heaps);
    };
    if (threads == 1) {
      scan(0);
    } else {
      std::vector<std::jthread> workers;
      workers.reserve(threads - 1);
      for (size_t t = 1; t < threads; ++t) workers.emplace_back(scan, t);
      scan(0);
    }  // jthreads join here

    for (size_t q = 0; q < nq; ++q) {
      std::vector<Candidate> merged;
      for (auto& heaps : part) {
        auto& c = heaps[q].items();
        merged.insert(merged.end(), c.begin(), c.end());
      }
      sort_best_first(merged);
      if (merged.size() > k) merged.resize(k);
      results[q].reserve(merged.size());
      const std::int64_t* ids = id_data();
      for (const auto& c : merged) results[q].push_back({ids[c.row], c.score});
    }
    return results;
  }

 private:
  void check_sizes(const char* what, std::span<const std::int64_t> ids, std::span<const float> vectors) const {
    const size_t d = static_cast<size_t>(dim_);
    if (vectors.size() != ids.size() * d) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string(what) + ": " + std::to_string(ids.size()) + " ids need " + std::to_string(ids.size() * d) +
                      " floats (dimension " + std::to_string(dim_) + "), got " + std::to_string(vectors.size()));
    }
  }

  // Scores rows [begin, end) against all nq queries, block by block, into heaps[q].
  void scan_rows(const float* queries, size_t nq, size_t begin, size_t end,
                 std::vector<TopK>& heaps) const {
    const size_t d = static_cast<size_t>(dim_);
    const size_t block = rows_per_block(dim_);
    std::vector<float> scores(block);
    for (size_t b0 = begin; b0 < end; b0 += block) {
      const size_t rows = std::min(block, end - b0);
      const float* base = row_data() + b0 * d;
      for (size_t q = 0; q < nq; ++q) {
        inner_products(queries + q * d, base, rows, dim_, scores.data());
        heaps[q].push_block(scores.data(), rows, b0);
      }
    }
  }

  // The compact copy of the rows for search_confident: row r is scales[r] * values[r * dim .. + dim),
  // each value x_k / scale rounded to an int8 in [-127, 127] (scale = max |x_k| / 127).
  struct Compact {
    std::vector<std::int8_t> values;
    std::vector<float> scales;
  };

  std::shared_ptr<const Compact> compact_rows() const {
    std::lock_guard lock(compact_mutex_);
    if (compact_) return compact_;
    const size_t n = size(), d = static_cast<size_t>(dim_);
    const float* rows = row_data();
    auto c = std::make_shared<Compact>();
    c->values.resize(n * d);
    c->scales.resize(n);
    // Split over the cores like a search (a million 512-d rows: 2 GB read).
    const size_t threads = search_threads(n, 1, dim_);
    auto part = [&](size_t t) {
      const size_t begin = t * n / threads, end = (t + 1) * n / threads;
      index_detail::quantize_rows_i8(rows + begin * d, end - begin, dim_, c->values.data() + begin * d, c->scales.data() + begin);
    };
    {
      std::vector<std::jthread> workers;
      for (size_t t = 1; t < threads; ++t) workers.emplace_back(part, t);
      part(0);
    }
    compact_ = std::move(c);
    return compact_;
  }

  int dim_;
  mutable std::mutex compact_mutex_;
  mutable std::shared_ptr<const Compact> compact_;  // made on the first search_confident, dropped by add
  std::vector<float, CacheAlignedAllocator<float>> vectors_;  // size() x dim_, row-major
  std::vector<std::int64_t> ids_;                             // ids_[row]
  // Rows borrowed from memory that owner_ keeps alive (a mapped file); used instead of the two above
  // while owner_ is set.
  std::shared_ptr<const void> owner_;
  std::span<const std::int64_t> borrowed_ids_;
  std::span<const float> borrowed_vectors_;
};

}  // namespace

std::unique_ptr<VectorIndex> make_exact_index(int dim) { return std::make_unique<ExactIndex>(dim); }

std::unique_ptr<VectorIndex> make_exact_index_over(int dim, std::span<const std::int64_t> ids,
                                                   std::span<const float> vectors, std::shared_ptr<const void> owner) {
  if (!owner) throw Error(ErrorCode::kInvalidArgument, "make_exact_index_over: no owner for the borrowed rows");
  return std::make_unique<ExactIndex>(dim, ids, vectors, std::move(owner));
}

}  // namespace facesearch
