// Internal to src/index (and its tests and bench): the HNSW index with its tuning knobs exposed, so that
// parameters can be swept without rebuilding the graph. Everyone else goes through make_index() /
// make_approx_index() in vector_index.h, which use kDefaultHnswParams.
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace facesearch::index_detail {

// Defaults chosen by measurement with bench/index_bench.cpp on 1M faces shaped like the default pack's
// embeddings (docs/PERFORMANCE.md, "HNSW parameters", has the sweep; its library-search table has the
// current latency and recall): M 32, efConstruction 48, efSearch 128.
struct HnswParams {
  int m = 32;                // graph degree (2*m links per node on level 0), faiss's HNSW "M"
  int ef_construction = 48;  // candidate list while inserting: build time vs graph quality
  int ef_search = 128;       // candidate list while searching: latency vs recall (>= k is used)
  // Score rows with this project's SIMD kernel instead of faiss's own; Debian's libfaiss is built for
  // baseline x86-64, where faiss's inner product is a scalar loop (~10x slower at 128-d in cache).
  bool simd_distances = true;
  // Search with this project's graph walk (same algorithm, prefetching a node's neighbours together)
  // instead of faiss's HNSW::search; the faiss walk stays as the reference it is tested against.
  bool own_graph_walk = true;
  // The own walk scores half-precision (binary16) copies of the rows, half the bytes and so half the
  // cache misses of float rows, then scores the candidates it keeps again from the float rows: results
  // and their scores are exact, only the path through the graph sees rounded scores. Used where the
  // CPU has F16C (and AVX2 + FMA) and every component fits binary16; costs 2 bytes per dimension a face.
  bool half_precision_walk = true;
};

inline constexpr HnswParams kDefaultHnswParams{};

class HnswIndex : public VectorIndex {
 public:
  // Sets ef_search for later searches (a tuning hook for the bench: not concurrent with search()).
  // faiss 1.7.3 sizes the search queue from the index's efSearch, not from per-call parameters, so a
  // per-call value could only lower it.
  virtual void set_ef_search(int ef_search) = 0;
  // Switches between this project's graph walk and faiss's (HnswParams::own_graph_walk); same contract.
  virtual void set_own_graph_walk(bool own) = 0;
  // Switches the own walk between half-precision and float rows (HnswParams::half_precision_walk);
  // same contract. Returns whether half-precision rows are in use afterwards (false where unsupported).
  virtual bool set_half_precision_walk(bool half) = 0;
  // Bytes held: vectors, graph links, levels and offsets, id map.
  virtual size_t memory_bytes() const = 0;
  virtual const HnswParams& params() const = 0;
};

std::unique_ptr<HnswIndex> make_hnsw_index(int dim, const HnswParams& params);
// load_approx_index() with the tuning hooks (the bench caches its large graphs this way).
std::unique_ptr<HnswIndex> load_hnsw_index(std::istream& in, int dim);

}  // namespace facesearch::index_detail
