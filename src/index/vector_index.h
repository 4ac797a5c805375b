// Nearest-neighbour search over face embeddings. Vectors are float32, row-major, `dim` wide and
// L2-normalised, so the similarity is the inner product (cosine), higher = more alike.
// One interface; an exact implementation (SIMD kernel, checked against a scalar reference) and an
// approximate one (FAISS HNSW) for large libraries, picked by size unless the caller says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace facesearch {

struct Neighbor {
  std::int64_t id = 0;  // caller's id (the catalog's face id)
  float score = 0;      // inner product
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual int dim() const = 0;
  virtual size_t size() const = 0;
  virtual std::string kind() const = 0;  // "exact" or "hnsw"
  // Adds n = ids.size() vectors (vectors.size() == n * dim(), else Error kInvalidArgument). Ids must be
  // new (not checked: a repeated id is simply returned twice).
  virtual void add(std::span<const std::int64_t> ids, std::span<const float> vectors) = 0;
  // For each of the nq = queries.size() / dim() queries: up to k neighbours with score >= min_score,
  // best first (exact: equal scores in insertion order). queries.size() must be a multiple of dim().
  // Uses up to one thread per core for large work. Thread-safe for concurrent searches (not
  // concurrent with add).
  virtual std::vector<std::vector<Neighbor>> search(std::span<const float> queries, size_t k,
                                                    float min_score) const = 0;
  // One query (query.size() == dim()), with a say in how hard an approximate index looks: `beam` is the
  // width of the HNSW walk's candidate list (at least k is used; 0: the index's default, efSearch 128).
  // A narrower beam is faster and may miss more; the caller owns the recall it needs (library_search.cpp
  // measures its choice against the exact index). Indexes that find every neighbour ignore it.
  virtual std::vector<Neighbor> search_beam(std::span<const float> query, size_t k, float min_score,
                                            size_t beam) const {
    (void)beam;
    auto found = search(query, k, min_score);
    return found.empty() ? std::vector<Neighbor>{} : std::move(found.front());
  }
  // One query's few best neighbours scoring at least a high min_score (query expansion's candidates):
  // the same answer as search_beam(query, k, min_score, k), found the cheapest way the index knows.
  // The exact index scans a compact copy of its rows (int8, a quarter of the bytes, made on first use)
  // whose scores are within a known bound of the exact ones, and scores exactly only the rows that can
  // reach min_score; so nothing is missed. Thread-safe as search is.
  virtual std::vector<Neighbor> search_confident(std::span<const float> query, size_t k, float min_score) const {
    return search_beam(query, k, min_score, k);
  }
};

// kAuto: by size (below). kPreferSaved: the library's saved approximate index whenever it has a current
// one, else exact (store/vector_files.h): for a process that answers many searches, such as a server,
// which pays the graph's load once.
enum class IndexKind { kAuto, kExact, kApprox, kPreferSaved };

// Below this many vectors kAuto picks the exact index (it is fast enough and never misses, and for one
// search in a fresh process mapping the vectors costs less than loading a graph).
inline constexpr size_t kApproxThreshold = 200000;
// From this many faces `index` also saves the approximate index's graph next to the library, for
// kPreferSaved (a 100k-face search: ~4.6 ms against ~17 ms exact at 512-d, docs/PERFORMANCE.md).
inline constexpr size_t kSavedGraphThreshold = 50000;

// The approximate index's graph, saved and loaded as a binary blob (the caller frames it with its own
// self-describing header: format, model fingerprint, catalog generation). load_approx_index throws
// Error{kCatalog} for data that does not parse.
void save_approx_index(const VectorIndex& index, std::ostream& out);
std::unique_ptr<VectorIndex> load_approx_index(std::istream& in, int dim);
// The ids an approximate index holds, in the order they were added (Error{kInvalidArgument} for another kind).
std::span<const std::int64_t> approx_index_ids(const VectorIndex& index);
// Brings an approximate index built earlier up to date with `ids` / `vectors` (row-major: every face the
// library holds now) when faces were only added since: every face it holds must be among them with the
// same embedding, bit for bit (an id reused by another face is not the same face); the others are
// added to the graph, a fraction of a whole build's work for a few new faces. Returns false, and leaves
// the index as it was, when a face it holds was deleted or changed (an HNSW graph cannot drop a node
// cleanly: the caller builds anew) or `ids` repeats one.
bool extend_approx_index(VectorIndex& index, std::span<const std::int64_t> ids, std::span<const float> vectors);

std::unique_ptr<VectorIndex> make_exact_index(int dim);
// An exact index over rows it does not copy (e.g. a memory-mapped file): `owner` keeps them alive as long
// as the index lives. add() first copies them into memory of its own.
std::unique_ptr<VectorIndex> make_exact_index_over(int dim, std::span<const std::int64_t> ids, std::span<const float> vectors,
                                                   std::shared_ptr<const void> owner);
std::unique_ptr<VectorIndex> make_approx_index(int dim);
std::unique_ptr<VectorIndex> make_index(IndexKind kind, int dim, size_t expected_size);

// Each query of `queries` (a multiple of index.dim() floats) through index.search_beam, the queries
// spread over up to `threads` threads: for indexes whose search_beam is one query's own work (a graph
// walk, a database round trip on a connection of its own). An exception from any query is rethrown
// once every thread has stopped.
std::vector<std::vector<Neighbor>> search_each(const VectorIndex& index, std::span<const float> queries, size_t k,
                                               float min_score, size_t beam, size_t threads);

// Exact kernels: out[i] = <query, base[i]> for i < n. The scalar one is the reference that the
// SIMD one is tested against.
void inner_products_scalar(const float* query, const float* base, size_t n, int dim, float* out);
void inner_products(const float* query, const float* base, size_t n, int dim, float* out);

// The similarity of two embeddings (cosine: the inner product of L2-normalised vectors; higher = more
// alike), with the kernel inner_products uses: every search and evaluation scores faces this one way.
float similarity(std::span<const float> a, std::span<const float> b);

}  // namespace facesearch
