#include "index/vector_index.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace facesearch {

std::vector<std::vector<Neighbor>> search_each(const VectorIndex& index, std::span<const float> queries, size_t k,
                                               float min_score, size_t beam, size_t threads) {
  const size_t d = static_cast<size_t>(index.dim());
  if (d == 0 || queries.size() % d != 0)
    throw Error(ErrorCode::kInvalidArgument, "vector index: query size is not a multiple of the dimension");
  const size_t nq = queries.size() / d;
  std::vector<std::vector<Neighbor>> out(nq);
  threads = std::clamp<size_t>(threads, 1, std::max<size_t>(nq, 1));
  std::exception_ptr failure;
  std::mutex failure_mu;
  auto run = [&](size_t t) {
    try {
      for (size_t q = t; q < nq; q += threads) out[q] = index.search_beam(queries.subspan(q * d, d), k, min_score, beam);
    } catch (...) {
      std::lock_guard lock(failure_mu);
      if (!failure) failure = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> workers;
    for (size_t t = 1; t < threads; ++t) workers.emplace_back(run, t);
    run(0);
  }  // joined
  if (failure) std::rethrow_exception(failure);
  return out;
}

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
