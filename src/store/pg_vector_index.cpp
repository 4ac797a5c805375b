// A PostgreSQL library's vector index is the database's own (issue 16): pgvector's HNSW index on
// faces.embedding (vector_cosine_ops), or an exact scan. Searches run in the database; the index holds
// no vectors in this process. Catalog::database_vector_index (store/catalog.h).
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "index/vector_index.h"
#include "store/catalog.h"
#include "store/catalog_internal.h"
#include "store/pg_connection.h"

namespace facesearch {
namespace {

// hnsw.ef_search where the caller gives no beam: recall@10 0.995 at 100k and 0.9905 at 1M synthetic
// faces whose strangers spread like real ones (1.6 and 5 ms p50), 99.5-100% of the matches over the
// threshold; on strangers drawn as random directions (no structure) it falls to 0.60 at 1M
// (docs/PERFORMANCE.md, "A million faces in PostgreSQL").
constexpr size_t kDefaultEfSearch = 100;
// pgvector's largest ef_search.
constexpr size_t kMaxEfSearch = 1000;
// Connections a batch of queries runs on at once (VectorIndex::search).
constexpr size_t kBatchConnections = 4;

class PgVectorIndex final : public VectorIndex {
 public:
  PgVectorIndex(std::string address, int dim, size_t size, bool exact)
      : address_(std::move(address)), dim_(dim), size_(size), exact_(exact) {
    give(open());  // fails here, not at the first search, when the server cannot be reached
  }

  int dim() const override { return dim_; }
  size_t size() const override { return size_; }
  std::string kind() const override { return exact_ ? "pgvector-exact" : "pgvector-hnsw"; }
  void add(std::span<const std::int64_t>, std::span<const float>) override {
    throw Error(ErrorCode::kInvalidArgument, "a PostgreSQL library's vector index is kept by the database; add faces to the library");
  }

  std::vector<std::vector<Neighbor>> search(std::span<const float> queries, size_t k, float min_score) const override {
    // A batch (the people pass: every new face's neighbours) runs on several connections at once: each
    // query is a round trip, and the server works on each connection's query on a core of its own.
    return search_each(*this, queries, k, min_score, 0, kBatchConnections);
  }

  std::vector<Neighbor> search_beam(std::span<const float> query, size_t k, float min_score, size_t beam) const override {
    if (query.size() != static_cast<size_t>(dim_))
      throw Error(ErrorCode::kInvalidArgument, "vector index: query size does not match the dimension");
    std::vector<Neighbor> found;
    if (k == 0) return found;
    std::unique_ptr<Session> session = take();
    if (!exact_) {
      const size_t ef = std::clamp(beam ? std::max(beam, k) : std::max(kDefaultEfSearch, k), size_t{1}, kMaxEfSearch);
      if (ef != session->ef_search) {
        session->connection.exec("SET hnsw.ef_search = " + std::to_string(ef));
        session->ef_search = ef;
      }
    }
    {
      // Cosine distance = 1 - similarity for these unit vectors. The rows come nearest first; the
      // threshold cuts them here, not in a WHERE clause: with one, the graph's iterative scan would walk on
      // (up to hnsw.max_scan_tuples) looking for k rows over the threshold that a person rarely has.
      sql::Statement s(session->connection, "SELECT id, embedding <=> ?1 AS d FROM faces ORDER BY d LIMIT ?2");
      s.bind_vector(1, query).bind(2, static_cast<std::int64_t>(k));
      while (s.step()) {
        const auto score = static_cast<float>(1.0 - s.f64(1));
        if (score < min_score) break;
        found.push_back({s.i64(0), score});
      }
    }
    give(std::move(session));
    return found;
  }

 private:
  // One connection and its settings; searches from several threads (serve) each take one.
  struct Session {
    explicit Session(const std::string& address) : connection(address) {}
    sql::PgConnection connection;
    size_t ef_search = 0;
  };
  std::unique_ptr<Session> open() const {
    auto session = std::make_unique<Session>(address_);
    // The exact mode scans every row (no index); the graph's walk goes on past ef_search when the
    // LIMIT asks for more (pgvector 0.8's iterative scan), in order of distance.
    session->connection.exec(exact_ ? "SET enable_indexscan = off; SET enable_bitmapscan = off"
                                    : "SET hnsw.iterative_scan = strict_order");
    return session;
  }
  std::unique_ptr<Session> take() const {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto session = std::move(idle_.back());
        idle_.pop_back();
        return session;
      }
    }
    return open();
  }
  void give(std::unique_ptr<Session> session) const {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(session));
  }

  std::string address_;
  int dim_;
  size_t size_;
  bool exact_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Session>> idle_;  // connections not in use
};

}  // namespace

std::unique_ptr<VectorIndex> Catalog::database_vector_index(IndexKind kind) const {
  const Raw r = raw();
  if (r.conn->dialect() != sql::Dialect::kPostgres)
    throw std::logic_error("Catalog::database_vector_index: not a PostgreSQL library");
  const auto faces = static_cast<size_t>(counts().faces);
  const bool exact = kind == IndexKind::kExact ||
                     ((kind == IndexKind::kAuto || kind == IndexKind::kPreferSaved) && faces < kSavedGraphThreshold);
  return std::make_unique<PgVectorIndex>(*r.address, r.dim, faces, exact);
}

}  // namespace facesearch
