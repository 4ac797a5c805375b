// Approximate index: faiss HNSW (Malkov & Yashunin 2016, "Efficient and robust approximate nearest
// neighbor search using Hierarchical Navigable Small World graphs") over inner product.
//
// faiss labels vectors by insertion order; ids_[label] maps back to the caller's id.
// Threads are deliberate: building uses faiss's OpenMP loop with one thread per core, set for the
// calling thread only (OpenMP's thread count is a per-thread setting); searching bypasses
// IndexHNSW::search and its OpenMP team, walking the graph with faiss's single-query HNSW::search on
// the calling thread (one query) or on one std::thread per core (a batch).
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include <istream>
#include <ostream>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/utils/Heap.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "index/hnsw_index.h"
#include "index/inner_product_kernels.h"

namespace facesearch {
namespace index_detail {
namespace {

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// Sets the calling thread's OpenMP team size for the scope, then restores it.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~OmpThreadsScope() { omp_set_num_threads(saved_); }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int saved_;
};

// faiss's row scorer for a flat inner-product store, with the SIMD kernel. Same contract as faiss's
// own (IndexFlat.cpp, FlatIPDis): similarities, which IndexHNSW negates into distances.
class SimdInnerProductDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit SimdInnerProductDistance(const faiss::IndexFlat& storage)
      : FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        base_(storage.get_xb()),
        dim_(static_cast<int>(storage.d)) {}

  void set_query(const float* x) override { query_ = x; }
  float distance_to_code(const uint8_t* code) override {
    return inner_product(query_, reinterpret_cast<const float*>(code), dim_);
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    return inner_product(base_ + i * dim_, base_ + j * dim_, dim_);
  }

 private:
  const float* base_;
  int dim_;
  const float* query_ = nullptr;
};

// The flat store under the graph, scoring rows with SimdInnerProductDistance.
struct SimdFlatIP final : faiss::IndexFlatIP {
  explicit SimdFlatIP(int dim) : IndexFlatIP(dim) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override {
    return new SimdInnerProductDistance(*this);  // faiss takes ownership
  }
};

// HNSW keeps the smallest distances; for inner product it is given -<q, x> (as IndexHNSW does for
// METRIC_INNER_PRODUCT in its own search and build).
class NegatedDistance final : public faiss::DistanceComputer {
 public:
  explicit NegatedDistance(faiss::DistanceComputer* owned) : inner_(owned) {}
  void set_query(const float* x) override { inner_->set_query(x); }
  float operator()(idx_t i) override { return -(*inner_)(i); }
  float symmetric_dis(idx_t i, idx_t j) override { return -inner_->symmetric_dis(i, j); }

 private:
  std::unique_ptr<faiss::DistanceComputer> inner_;
};

// Visited tables (one byte per vector) reused across searches; thread-safe.
class VisitedTablePool {
 public:
  std::unique_ptr<faiss::VisitedTable> take(size_t size) {
    {
      std::lock_guard lock(mutex_);
      while (!free_.empty()) {
        auto table = std::move(free_.back());
        free_.pop_back();
        if (table->visited.size() == size) return table;  // tables from before an add() are dropped
      }
    }
    return std::make_unique<faiss::VisitedTable>(static_cast<int>(size));
  }
  void give(std::unique_ptr<faiss::VisitedTable> table) {
    std::lock_guard lock(mutex_);
    if (free_.size() < kMaxPooled) free_.push_back(std::move(table));
  }

 private:
  static constexpr size_t kMaxPooled = 64;  // concurrent searches beyond this allocate their own
  std::mutex mutex_;
  std::vector<std::unique_ptr<faiss::VisitedTable>> free_;
};

template <typename T>
void write_pod(std::ostream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
void write_vec(std::ostream& out, const std::vector<T>& v) {
  const std::uint64_t n = v.size();
  write_pod(out, n);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}
Error corrupt(const char* what) {
  return Error(ErrorCode::kCatalog, std::string("hnsw graph: ") + what);
}
template <typename T>
void read_pod(std::istream& in, T& v) {
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) throw corrupt("truncated");
}
// Bytes left in a seekable stream; -1 when it cannot tell.
std::int64_t bytes_left(std::istream& in) {
  const auto here = in.tellg();
  if (here < 0 || !in.seekg(0, std::ios::end)) {
    in.clear();
    return -1;
  }
  const auto end = in.tellg();
  in.seekg(here);
  return end < here ? -1 : static_cast<std::int64_t>(end - here);
}
template <typename T>
void read_vec(std::istream& in, std::vector<T>& v) {
  std::uint64_t n = 0;
  read_pod(in, n);
  if (n > (std::uint64_t{1} << 36) / sizeof(T)) throw corrupt("an array size is out of range");
  // A damaged size must not allocate more than the stream holds: checked up front where the stream
  // can tell, else the array grows as its bytes arrive.
  const std::int64_t left = bytes_left(in);
  if (left >= 0 && n * sizeof(T) > static_cast<std::uint64_t>(left)) throw corrupt("truncated");
  constexpr std::uint64_t kChunk = (std::uint64_t{1} << 24) / sizeof(T);
  v.clear();
  for (std::uint64_t done = 0; done < n;) {
    const std::uint64_t take = left >= 0 ? n : std::min(kChunk, n - done);
    v.resize(done + take);
    if (!in.read(reinterpret_cast<char*>(v.data() + done), static_cast<std::streamsize>(take * sizeof(T))))
      throw corrupt("truncated");
    done += take;
  }
}

std::unique_ptr<faiss::IndexFlat> make_storage(int dim, bool simd) {
  if (simd) return std::make_unique<SimdFlatIP>(dim);
  return std::make_unique<faiss::IndexFlatIP>(dim);
}

class FaissHnswIndex final : public HnswIndex {
 public:
  FaissHnswIndex(int dim, const HnswParams& params)
      : dim_(check_dim(dim)), params_(params), storage_(make_storage(dim, params.simd_distances)),
        hnsw_(storage_.get(), params.m) {
    // storage_ is declared before hnsw_, so it outlives it; faiss must not delete it.
    hnsw_.own_fields = false;
    hnsw_.hnsw.efConstruction = params.ef_construction;
    hnsw_.hnsw.efSearch = params.ef_search;
  }

  int dim() const override { return dim_; }
  size_t size() const override { return ids_.size(); }
  std::string kind() const override { return "hnsw"; }
  const HnswParams& params() const override { return params_; }

  void add(std::span<const std::int64_t> ids, std::span<const float> vectors) override {
    const size_t d = static_cast<size_t>(dim_);
    if (vectors.size() != ids.size() * d) {
      throw Error(ErrorCode::kInvalidArgument,
                  "hnsw index add: " + std::to_string(ids.size()) + " ids need " + std::to_string(ids.size() * d) +
                      " floats (dimension " + std::to_string(dim_) + "), got " + std::to_string(vectors.size()));
    }
    // faiss numbers graph nodes with 32-bit ints.
    if (size() + ids.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw Error(ErrorCode::kInvalidArgument, "hnsw index add: more than 2^31 - 1 vectors is not supported");
    }
    if (ids.empty()) return;
    ids_.reserve(ids_.size() + ids.size());  // so that nothing can fail after faiss has taken the vectors
    OmpThreadsScope threads(hardware_threads());
    try {
      hnsw_.add(static_cast<faiss::Index::idx_t>(ids.size()), vectors.data());
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorCode::kInvalidArgument, std::string("hnsw index add failed in faiss: ") + e.what());
    }
    ids_.insert(ids_.end(), ids.begin(), ids.end());
    add_half_rows(vectors);
  }

  std::vector<std::vector<Neighbor>> search(std::span<const float> queries, size_t k,
                                            float min_score) const override {
    const size_t d = static_cast<size_t>(dim_);
    if (queries.size() % d != 0) {
      throw Error(ErrorCode::kInvalidArgument, "hnsw index search: " + std::to_string(queries.size()) +
                                                   " query floats is not a multiple of the dimension " +
                                                   std::to_string(dim_));
    }
    const size_t nq = queries.size() / d;
    std::vector<std::vector<Neighbor>> results(nq);
    if (nq == 0 || k == 0 || size() == 0) return results;
    const int kk = static_cast<int>(std::min(k, size()));

    // Queries are independent: one thread per core, each walking the graph for its share of queries.
    // A single query stays on the calling thread (no OpenMP team, no thread start-up).
    const size_t threads = std::min(nq, static_cast<size_t>(hardware_threads()));
    auto run = [&](size_t t) {
      Searcher searcher(*this);
      for (size_t q = t; q < nq; q += threads) results[q] = searcher.search(queries.data() + q * d, kk, min_score);
    };
    if (threads == 1) {
      run(0);
    } else {
      std::vector<std::jthread> workers;
      for (size_t t = 1; t < threads; ++t) workers.emplace_back(run, t);
      run(0);
    }
    return results;
  }

  std::vector<Neighbor> search_beam(std::span<const float> query, size_t k, float min_score, size_t beam) const override {
    if (query.size() != static_cast<size_t>(dim_)) {
      throw Error(ErrorCode::kInvalidArgument, "hnsw index search: a query of " + std::to_string(query.size()) +
                                                   " floats, the dimension is " + std::to_string(dim_));
    }
    if (k == 0 || size() == 0) return {};
    const int kk = static_cast<int>(std::min(k, size()));
    Searcher searcher(*this);
    if (beam == 0) return searcher.search(query.data(), kk, min_score);
    // A narrow beam is enough where the matches over min_score stand out from the rest; where the beam
    // is still full of scores near min_score (look-alikes: many people just under a high threshold),
    // its walk stops among them and misses some, so it walks again with twice the beam, up to 4x.
    int ef = static_cast<int>(std::min<size_t>(std::max(beam, k), kMaxEf));
    const int widest = static_cast<int>(std::min<size_t>(4 * static_cast<size_t>(ef), kMaxEf));
    for (;;) {
      float worst = 0;
      auto found = searcher.search(query.data(), kk, min_score, ef, &worst);
      if (ef >= widest || !std::isfinite(min_score) || !(worst >= min_score - kBeamSlack)) return found;
      ef = std::min(2 * ef, widest);
    }
  }

  // Binary layout (host byte order, this project's own): params, ids, vectors, then faiss's HNSW
  // graph arrays. Every read is checked against the sizes it announces.
  std::span<const std::int64_t> ids() const { return ids_; }

  // See extend_approx_index (vector_index.h).
  bool extend(std::span<const std::int64_t> ids, std::span<const float> vectors) {
    const size_t d = static_cast<size_t>(dim_);
    if (vectors.size() != ids.size() * d) {
      throw Error(ErrorCode::kInvalidArgument, "hnsw index extend: " + std::to_string(ids.size()) + " ids need " +
                                                   std::to_string(ids.size() * d) + " floats, got " + std::to_string(vectors.size()));
    }
    if (ids.size() < ids_.size()) return false;
    std::unordered_map<std::int64_t, size_t> position;
    position.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      if (!position.emplace(ids[i], i).second) return false;  // a repeated id: not a library's faces
    std::vector<bool> held(ids.size(), false);
    const float* rows = storage_->get_xb();
    for (size_t label = 0; label < ids_.size(); ++label) {
      const auto it = position.find(ids_[label]);
      if (it == position.end()) return false;  // a face deleted since
      const float* now = vectors.data() + it->second * d;
      if (std::memcmp(now, rows + label * d, d * sizeof(float)) != 0) return false;  // an id reused by another face
      held[it->second] = true;
    }
    std::vector<std::int64_t> new_ids;
    std::vector<float> new_rows;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (held[i]) continue;
      new_ids.push_back(ids[i]);
      new_rows.insert(new_rows.end(), vectors.begin() + static_cast<std::ptrdiff_t>(i * d),
                      vectors.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    }
    add(new_ids, new_rows);
    return true;
  }

  void save(std::ostream& out) const {
    const auto& g = hnsw_.hnsw;
    write_pod(out, params_.m), write_pod(out, params_.ef_construction), write_pod(out, params_.ef_search);
    write_vec(out, ids_);
    write_vec(out, storage_->codes);
    write_vec(out, g.assign_probas), write_vec(out, g.cum_nneighbor_per_level), write_vec(out, g.levels);
    write_vec(out, g.offsets), write_vec(out, g.neighbors);
    write_pod(out, g.entry_point), write_pod(out, g.max_level);
    if (!out) throw Error(ErrorCode::kIo, "hnsw index: write failed");
  }

  static std::unique_ptr<FaissHnswIndex> load(std::istream& in, int dim) {
    HnswParams params = kDefaultHnswParams;
    read_pod(in, params.m), read_pod(in, params.ef_construction), read_pod(in, params.ef_search);
    if (params.m < 2 || params.m > 1024) throw corrupt("bad graph degree");
    // faiss sizes its search queue by efSearch; the bounds are far above any useful value.
    if (params.ef_construction < 1 || params.ef_construction > kMaxEf || params.ef_search < 1 || params.ef_search > kMaxEf)
      throw corrupt("bad search parameters");
    auto index = std::make_unique<FaissHnswIndex>(dim, params);
    auto& g = index->hnsw_.hnsw;
    read_vec(in, index->ids_);
    read_vec(in, index->storage_->codes);
    read_vec(in, g.assign_probas), read_vec(in, g.cum_nneighbor_per_level), read_vec(in, g.levels);
    read_vec(in, g.offsets), read_vec(in, g.neighbors);
    read_pod(in, g.entry_point), read_pod(in, g.max_level);
    index->check_loaded_graph();
    const size_t n = index->ids_.size();
    index->storage_->ntotal = static_cast<faiss::Index::idx_t>(n);
    index->hnsw_.ntotal = static_cast<faiss::Index::idx_t>(n);
    index->add_half_rows({index->storage_->get_xb(), n * static_cast<size_t>(dim)});
    return index;
  }

  void set_ef_search(int ef_search) override {
    params_.ef_search = ef_search;
    hnsw_.hnsw.efSearch = ef_search;
  }

  void set_own_graph_walk(bool own) override { params_.own_graph_walk = own; }

  bool set_half_precision_walk(bool half) override {
    params_.half_precision_walk = half;
    half_.clear();
    half_.shrink_to_fit();
    half_max_norm_ = 0;
    half_unusable_ = false;
    add_half_rows({storage_->get_xb(), ids_.size() * static_cast<size_t>(dim_)});
    return half_walk();
  }

  size_t memory_bytes() const override {
    const auto& g = hnsw_.hnsw;
    return storage_->codes.capacity() + half_.capacity() * sizeof(half_[0]) + g.neighbors.capacity() * sizeof(g.neighbors[0]) +
           g.offsets.capacity() * sizeof(g.offsets[0]) + g.levels.capacity() * sizeof(g.levels[0]) +
           ids_.capacity() * sizeof(ids_[0]);
  }

 private:
  static constexpr int kMaxEf = 1 << 20;

  // Every array that a search (this project's walk or faiss's) or a later add() indexes into, checked
  // against the others, so that no file can send a search out of bounds or into an endless loop. The
  // invariants are faiss 1.7.3's (HNSW.cpp: set_default_probas, prepare_level_tab, add_with_locks):
  //   cum_nneighbor_per_level = 0, 2m, 3m, ... (one entry per level plus one), assign_probas one per level;
  //   levels[i] in [1, number of levels]; offsets[0] = 0, offsets[i+1] - offsets[i] = cum[levels[i]],
  //   offsets[n] = neighbors.size(); a node's links on level l are -1 or nodes that exist on level l
  //   (levels[nb] > l); max_level = the highest level of any node, held by entry_point; empty: -1, -1.
  void check_loaded_graph() const {
    const auto& g = hnsw_.hnsw;
    const size_t n = ids_.size();
    if (n > static_cast<size_t>(std::numeric_limits<std::int32_t>::max())) throw corrupt("too many nodes");
    if (storage_->codes.size() != n * static_cast<size_t>(dim_) * sizeof(float))
      throw corrupt("the vectors do not match the ids");
    const size_t level_count = g.assign_probas.size();
    if (level_count < 1 || level_count > 64 || g.cum_nneighbor_per_level.size() != level_count + 1)
      throw corrupt("bad level tables");
    for (const double p : g.assign_probas)
      if (!(p >= 0 && p <= 1)) throw corrupt("bad level probabilities");
    if (g.cum_nneighbor_per_level[0] != 0) throw corrupt("bad links per level");
    for (size_t l = 0; l < level_count; ++l) {
      const std::int64_t links = std::int64_t{g.cum_nneighbor_per_level[l + 1]} - g.cum_nneighbor_per_level[l];
      if (links != (l == 0 ? 2 : 1) * params_.m) throw corrupt("bad links per level");
    }
    if (g.levels.size() != n || g.offsets.size() != n + 1 || g.offsets[0] != 0 || g.offsets[n] != g.neighbors.size())
      throw corrupt("array sizes do not match");
    int highest = -1;
    for (size_t i = 0; i < n; ++i) {
      const int levels = g.levels[i];
      if (levels < 1 || static_cast<size_t>(levels) > level_count) throw corrupt("a node has an impossible level");
      if (g.offsets[i + 1] < g.offsets[i] ||
          g.offsets[i + 1] - g.offsets[i] != static_cast<size_t>(g.cum_nneighbor_per_level[static_cast<size_t>(levels)]))
        throw corrupt("offsets do not match the node levels");
      highest = std::max(highest, levels - 1);
    }
    for (size_t i = 0; i < n; ++i) {
      for (int l = 0; l < g.levels[i]; ++l) {
        const size_t begin = g.offsets[i] + static_cast<size_t>(g.cum_nneighbor_per_level[static_cast<size_t>(l)]);
        const size_t end = g.offsets[i] + static_cast<size_t>(g.cum_nneighbor_per_level[static_cast<size_t>(l) + 1]);
        for (size_t j = begin; j < end; ++j) {
          const auto nb = g.neighbors[j];
          if (nb == -1) continue;
          if (nb < 0 || static_cast<size_t>(nb) >= n || g.levels[static_cast<size_t>(nb)] <= l)
            throw corrupt("a link points outside the graph or its level");
        }
      }
    }
    if (n == 0) {
      if (g.entry_point != -1 || g.max_level != -1) throw corrupt("bad entry point or top level");
    } else if (g.entry_point < 0 || static_cast<size_t>(g.entry_point) >= n || g.max_level != highest ||
               g.levels[static_cast<size_t>(g.entry_point)] - 1 != g.max_level) {
      throw corrupt("bad entry point or top level");
    }
  }

  // The half-precision copy of the rows just added (HnswParams::half_precision_walk), when this CPU
  // converts in hardware and every row's norm (so every component) stays far from binary16's largest
  // value (65504): an index holding a row that does not fit walks float rows from then on.
  void add_half_rows(std::span<const float> rows) {
    if (!params_.half_precision_walk || half_unusable_ || rows.empty() || !half_rows_supported()) return;
    const size_t d = static_cast<size_t>(dim_);
    for (size_t i = 0; i < rows.size(); i += d) {
      // A row's norm bounds each of its components (and is NaN if one is).
      const float norm2 = index_detail::inner_product(rows.data() + i, rows.data() + i, dim_);
      if (!(norm2 <= kHalfRange * kHalfRange)) {
        half_unusable_ = true;
        half_.clear();
        half_.shrink_to_fit();
        return;
      }
      half_max_norm_ = std::max(half_max_norm_, std::sqrt(norm2));
    }
    const size_t done = half_.size();
    half_.resize(done + rows.size());
    to_half(rows.data(), rows.size(), half_.data() + done);
  }

  bool half_walk() const { return params_.half_precision_walk && !half_.empty() && half_.size() == ids_.size() * static_cast<size_t>(dim_); }

  // How far a half-precision score can be from the float one, for a query of norm `query_norm`:
  // rounding each component to binary16 moves it by at most 2^-11 of itself (2^-25 absolute below
  // binary16's normal range), so |<q, x> - <q, half(x)>| <= 2^-11 |q| |x| + 2^-25 sum |q_i| (Cauchy-Schwarz),
  // plus the two kernels' float rounding (a few dim * 2^-24 |q| |x|); doubled for safety.
  float half_score_margin(float query_norm) const {
    const float d = static_cast<float>(dim_);
    return 2.f * query_norm * (half_max_norm_ * (0x1p-11f + 4.f * d * 0x1p-24f) + std::sqrt(d) * 0x1p-25f);
  }

  static int check_dim(int dim) {
    if (dim <= 0) {
      throw Error(ErrorCode::kInvalidArgument, "hnsw index: dimension must be positive, got " + std::to_string(dim));
    }
    return dim;
  }

  // One thread's search state: a scorer for the graph (which minimises, hence the negation) and a
  // visited table borrowed from the pool; faiss's IndexHNSW::search allocates and zeroes a table of
  // size() bytes per call (~0.1 ms at 1M faces), a pooled one is reset by bumping a counter.
  class Searcher {
   public:
    explicit Searcher(const FaissHnswIndex& index)
        : index_(index), distance_(index.storage_->get_distance_computer()), visited_(index.visited_pool_.take(index.size())) {}
    ~Searcher() { index_.visited_pool_.give(std::move(visited_)); }
    Searcher(const Searcher&) = delete;
    Searcher& operator=(const Searcher&) = delete;

    // beam: the candidate list's width (0: efSearch); at least k.
    // *worst: the lowest score the walk kept when its beam was full (NaN when it was not).
    std::vector<Neighbor> search(const float* query, int k, float min_score, int beam = 0, float* worst = nullptr) {
      const int ef = std::max(beam ? beam : index_.hnsw_.hnsw.efSearch, k);
      if (index_.params_.own_graph_walk && index_.half_walk()) {
        walk<true>(query, ef);
        note_worst(ef, worst);
        rescore(query, k, min_score);
      } else if (index_.params_.own_graph_walk) {
        walk<false>(query, ef);
        note_worst(ef, worst);
      } else {
        faiss_walk(query, k, ef);
        note_worst(k, worst);
      }
      // best_ holds up to ef (score, label) pairs; keep the k best, best first.
      const size_t keep = std::min(best_.size(), static_cast<size_t>(k));
      std::partial_sort(best_.begin(), best_.begin() + static_cast<std::ptrdiff_t>(keep), best_.end(),
                        [](const Scored& a, const Scored& b) { return a.score > b.score || (a.score == b.score && a.label < b.label); });
      std::vector<Neighbor> out;
      out.reserve(keep);
      for (size_t j = 0; j < keep; ++j) {
        if (best_[j].label < 0 || !(best_[j].score >= min_score)) continue;
        out.push_back({index_.ids_[static_cast<size_t>(best_[j].label)], best_[j].score});
      }
      return out;
    }

   private:
    struct Scored {
      float score;
      faiss::HNSW::storage_idx_t label;
    };

    // faiss's own search (the reference the walk below is tested against): its HNSW::search, with
    // our scorer; leaves its k results in best_.
    void faiss_walk(const float* query, int k, int ef) {
      distance_.set_query(query);
      labels_.resize(static_cast<size_t>(k));
      distances_.resize(static_cast<size_t>(k));
      faiss::maxheap_heapify(k, distances_.data(), labels_.data());
      // faiss 1.7.3 sizes the queue from hnsw.efSearch and stops expanding from the parameter: the two agree.
      faiss::SearchParametersHNSW params;
      params.efSearch = ef;
      index_.hnsw_.hnsw.search(distance_, k, labels_.data(), distances_.data(), *visited_, &params);
      visited_->advance();  // harmless if faiss already did: a fresh mark for the next query
      const size_t found = faiss::maxheap_reorder(k, distances_.data(), labels_.data());
      best_.clear();
      for (size_t j = 0; j < found; ++j)
        best_.push_back({-distances_[j], static_cast<faiss::HNSW::storage_idx_t>(labels_[j])});
    }

    // The same algorithm as faiss's (greedy descent through the upper layers, then a best-first beam of
    // width ef on layer 0; Malkov & Yashunin, algorithms 2 and 5) over faiss's graph arrays, written for
    // memory-level parallelism: a node's unvisited neighbours are collected first and their vectors
    // (512 bytes each at 128-d, almost always a cache miss at 1M faces) prefetched together before any is
    // scored. faiss 1.7.3 scores neighbours one by one through a virtual call and waits for each miss
    // (~86 ns per visited row at 1M faces). Leaves up to ef results in best_.
    //
    // kHalf: the rows scored are the binary16 copies (1 KB at 512-d instead of 2 KB); best_ then holds
    // their scores, which rescore() replaces with the float rows' for the candidates that can matter.
    template <bool kHalf>
    void walk(const float* query, int ef) {
      const auto& g = index_.hnsw_.hnsw;
      using Element = std::conditional_t<kHalf, std::uint16_t, float>;
      const Element* base;
      if constexpr (kHalf) {
        base = index_.half_.data();
      } else {
        base = index_.storage_->get_xb();
      }
      const size_t d = static_cast<size_t>(index_.dim_);
      const int dim = index_.dim_;
      auto row = [&](faiss::HNSW::storage_idx_t i) { return base + static_cast<size_t>(i) * d; };
      auto prefetch_row = [&](faiss::HNSW::storage_idx_t i) {
        const char* p = reinterpret_cast<const char*>(row(i));
        for (size_t off = 0; off < d * sizeof(Element); off += 64) __builtin_prefetch(p + off, 0, 3);
      };
      auto inner_product = [](const float* q, const Element* r, int n) {
        if constexpr (kHalf) {
          return inner_product_half(q, r, n);
        } else {
          return index_detail::inner_product(q, r, n);
        }
      };
      auto& visited = visited_->visited;
      const std::uint8_t mark = static_cast<std::uint8_t>(visited_->visno);

      // Upper layers: greedy descent to the nearest node (faiss's greedy_update_nearest).
      faiss::HNSW::storage_idx_t nearest = g.entry_point;
      float s_nearest = inner_product(query, row(nearest), dim);
      for (int level = g.max_level; level >= 1; --level) {
        for (bool moved = true; moved;) {
          moved = false;
          size_t begin, end;
          g.neighbor_range(nearest, level, &begin, &end);
          for (size_t j = begin; j < end; ++j) {
            const auto nb = g.neighbors[j];
            if (nb < 0) break;
            prefetch_row(nb);
          }
          for (size_t j = begin; j < end; ++j) {
            const auto nb = g.neighbors[j];
            if (nb < 0) break;
            const float s = inner_product(query, row(nb), dim);
            if (s > s_nearest) nearest = nb, s_nearest = s, moved = true;
          }
        }
      }

      // Layer 0: candidates (a max-heap on score: best first) and results (a min-heap on score of at
      // most ef: its top is the worst kept, the bound a new node must beat).
      auto cand_less = [](const Scored& a, const Scored& b) { return a.score < b.score; };
      auto best_less = [](const Scored& a, const Scored& b) { return a.score > b.score; };
      candidates_.clear();
      best_.clear();
      candidates_.push_back({s_nearest, nearest});
      best_.push_back({s_nearest, nearest});
      visited[static_cast<size_t>(nearest)] = mark;
      while (!candidates_.empty()) {
        std::pop_heap(candidates_.begin(), candidates_.end(), cand_less);
        const Scored c = candidates_.back();
        candidates_.pop_back();
        if (static_cast<int>(best_.size()) >= ef && c.score < best_.front().score) break;
        size_t begin, end;
        g.neighbor_range(c.label, 0, &begin, &end);
        fresh_.clear();
        for (size_t j = begin; j < end; ++j) {
          const auto nb = g.neighbors[j];
          if (nb < 0) break;
          auto& v = visited[static_cast<size_t>(nb)];
          if (v == mark) continue;
          v = mark;
          fresh_.push_back(nb);
          prefetch_row(nb);
        }
        for (const auto nb : fresh_) {
          const float s = inner_product(query, row(nb), dim);
          if (static_cast<int>(best_.size()) < ef || s > best_.front().score) {
            candidates_.push_back({s, nb});
            std::push_heap(candidates_.begin(), candidates_.end(), cand_less);
            best_.push_back({s, nb});
            std::push_heap(best_.begin(), best_.end(), best_less);
            if (static_cast<int>(best_.size()) > ef) {
              std::pop_heap(best_.begin(), best_.end(), best_less);
              best_.pop_back();
            }
          }
        }
      }
      visited_->advance();
    }

    void note_worst(int ef, float* worst) const {
      if (!worst) return;
      *worst = std::numeric_limits<float>::quiet_NaN();
      if (!best_.empty() && static_cast<int>(best_.size()) >= ef)
        *worst = std::min_element(best_.begin(), best_.end(), [](const Scored& a, const Scored& b) { return a.score < b.score; })->score;
    }

    // After a half-precision walk: best_ gets the float rows' scores of every candidate that can be
    // among the k best at or above min_score once scored exactly (those whose half-precision score is
    // within the rounding margin of both bounds), and loses the others. The answer is then exact for
    // the candidates the walk found.
    void rescore(const float* query, int k, float min_score) {
      const int dim = index_.dim_;
      const float margin = index_.half_score_margin(std::sqrt(std::max(0.f, index_detail::inner_product(query, query, dim))));
      std::sort(best_.begin(), best_.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
      float bound = min_score - margin;
      if (best_.size() > static_cast<size_t>(k)) bound = std::max(bound, best_[static_cast<size_t>(k) - 1].score - 2 * margin);
      size_t keep = 0;
      while (keep < best_.size() && best_[keep].score >= bound) ++keep;
      best_.resize(keep);
      const float* base = index_.storage_->get_xb();
      const size_t d = static_cast<size_t>(dim);
      for (const Scored& c : best_) {
        const char* p = reinterpret_cast<const char*>(base + static_cast<size_t>(c.label) * d);
        for (size_t off = 0; off < d * sizeof(float); off += 64) __builtin_prefetch(p + off, 0, 3);
      }
      for (Scored& c : best_) c.score = index_detail::inner_product(query, base + static_cast<size_t>(c.label) * d, dim);
    }

    const FaissHnswIndex& index_;
    NegatedDistance distance_;
    std::unique_ptr<faiss::VisitedTable> visited_;
    std::vector<faiss::Index::idx_t> labels_;
    std::vector<float> distances_;
    std::vector<Scored> candidates_, best_;
    std::vector<faiss::HNSW::storage_idx_t> fresh_;
  };

  static constexpr float kHalfRange = 32768;  // a row norm beyond this might not fit binary16
  // search_beam() widens its beam while the walk's worst kept score is within this of min_score (in
  // cosine: the default pack's strangers score ~0 against a 0.40 threshold, the dlib pack's look-alikes
  // 0.82-0.9 against 0.92; tests/hnsw_fast_path_test.cpp has both).
  static constexpr float kBeamSlack = 0.1f;

  int dim_;
  HnswParams params_;
  std::unique_ptr<faiss::IndexFlat> storage_;
  faiss::IndexHNSW hnsw_;
  std::vector<std::int64_t> ids_;  // ids_[faiss label]
  // The rows again in binary16 (row i at half_[i * dim_]) for the walk; empty when not used.
  std::vector<std::uint16_t> half_;
  float half_max_norm_ = 0;     // the largest row norm among them
  bool half_unusable_ = false;  // a row did not fit binary16
  mutable VisitedTablePool visited_pool_;
};

}  // namespace

std::unique_ptr<HnswIndex> make_hnsw_index(int dim, const HnswParams& params) {
  return std::make_unique<FaissHnswIndex>(dim, params);
}

std::unique_ptr<HnswIndex> load_hnsw_index(std::istream& in, int dim) { return FaissHnswIndex::load(in, dim); }

}  // namespace index_detail

std::unique_ptr<VectorIndex> make_approx_index(int dim) {
  return index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
}

void save_approx_index(const VectorIndex& index, std::ostream& out) {
  const auto* hnsw = dynamic_cast<const index_detail::FaissHnswIndex*>(&index);
  if (!hnsw) throw Error(ErrorCode::kInvalidArgument, "save_approx_index: not an approximate index");
  hnsw->save(out);
}

std::span<const std::int64_t> approx_index_ids(const VectorIndex& index) {
  const auto* hnsw = dynamic_cast<const index_detail::FaissHnswIndex*>(&index);
  if (!hnsw) throw Error(ErrorCode::kInvalidArgument, "approx_index_ids: not an approximate index");
  return hnsw->ids();
}

bool extend_approx_index(VectorIndex& index, std::span<const std::int64_t> ids, std::span<const float> vectors) {
  auto* hnsw = dynamic_cast<index_detail::FaissHnswIndex*>(&index);
  if (!hnsw) throw Error(ErrorCode::kInvalidArgument, "extend_approx_index: not an approximate index");
  return hnsw->extend(ids, vectors);
}

std::unique_ptr<VectorIndex> load_approx_index(std::istream& in, int dim) {
  return index_detail::FaissHnswIndex::load(in, dim);
}

}  // namespace facesearch
