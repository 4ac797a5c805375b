// `facesearch_index_bench`: vector index speed and recall on synthetic face embeddings.
//
// Data: 128-d L2-normalised vectors shaped like a photo library's faces (see make_spectrum: shape
// measured on the test photos' embeddings), 5-20 faces per person, rows shuffled. Queries are unseen
// faces of people in the library.
//
// Prints, per library size: single-query latency p50/p99 of the exact index, of FAISS IndexFlatIP
// (the reference brute force) and of the HNSW index; recall@10 of HNSW against exact; memory per
// face; build times. Then the inner-product kernels' speed. All markdown tables.
//
// Usage: facesearch_index_bench [--sizes 10000,100000,1000000] [--queries 200] [--m 32]
//                               [--ef-construction 48] [--ef-search 64,128,...] [--faiss-hnsw] [--isotropic]
//                               [--graph-cache DIR | --no-graph-cache]
// Graphs from 500k faces on are built once at the product's parameters and cached (default
// ~/.cache/facesearch/bench, keyed by size, parameters and a hash of the data): the first run takes
// ~10 min more on 2 cores for the 1M graph, later runs ~4 min.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/utils/distances.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "index/hnsw_index.h"
#include "index/inner_product_kernels.h"
#include "index/vector_index.h"

namespace {

using namespace facesearch;
using Clock = std::chrono::steady_clock;

constexpr int kDim = 128;
constexpr size_t kTopK = 10;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds of the whole process (all threads): unlike wall time, not inflated when other programs
// share the cores.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[64] = "?";
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

void normalise(float* v, int dim) {
  double s = 0;
  for (int j = 0; j < dim; ++j) s += double(v[j]) * v[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (int j = 0; j < dim; ++j) v[j] *= inv;
}

struct FaceSet {
  std::vector<float> base;     // n x dim
  std::vector<int64_t> ids;    // face ids (shuffled, not 0..n-1, to check the mapping)
  std::vector<float> queries;  // nq x dim: unseen faces of library identities
  size_t n = 0, nq = 0, identities = 0;
  double same_cos = 0, random_pair_cos = 0;  // mean similarity of neighbouring rows before the shuffle / of random pairs
};

// Shape of the embeddings, measured on the 364 faces of ../shared/testdata/faces (people/ and scenes/)
// embedded with the default model pack (dlib ResNet, 128-d, normalised): the mean face vector has
// norm 0.92 (all faces share a large common component), faces of one person score 0.96 on average,
// of two people 0.82 (p99 0.89); around the mean the variance decays like rank^-0.85 (participation
// ratio 18: about 18 effective dimensions out of 128). Generated as
//   face = normalise(mean + between-person offset + within-person offset)
// with both offsets Gaussian along that spectrum, totals 0.15 and 0.033 (per unit of squared norm).
// The isotropic variant (no common mean, flat spectrum, same-person 0.7 / different 0.0) is the
// hard case for a graph index, kept for comparison.
struct Spectrum {
  std::vector<float> between_sd, within_sd, mean;
};

Spectrum make_spectrum(bool isotropic, std::mt19937_64& rng) {
  Spectrum sp;
  sp.between_sd.resize(kDim);
  sp.within_sd.resize(kDim);
  sp.mean.assign(kDim, 0.f);
  std::vector<double> shape(kDim);
  double total = 0;
  for (int j = 0; j < kDim; ++j) total += shape[j] = isotropic ? 1.0 : std::pow(j + 1.0, -0.85);
  const double between = isotropic ? 1.0 : 0.15, within = isotropic ? 0.65 * 0.65 : 0.033;
  for (int j = 0; j < kDim; ++j) {
    sp.between_sd[j] = static_cast<float>(std::sqrt(between * shape[j] / total));
    sp.within_sd[j] = static_cast<float>(std::sqrt(within * shape[j] / total));
  }
  if (!isotropic) {
    std::normal_distribution<float> gauss(0.f, 1.f);
    for (auto& x : sp.mean) x = gauss(rng);
    normalise(sp.mean.data(), kDim);
  }
  return sp;
}

FaceSet make_faces(size_t n, size_t nq, bool isotropic, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::uniform_int_distribution<int> faces_per_id(5, 20);
  const Spectrum sp = make_spectrum(isotropic, rng);
  std::vector<float> centres;
  FaceSet s;
  s.n = n;
  s.nq = nq;
  s.base.resize(n * kDim);
  std::vector<float> c(kDim);
  auto face_of = [&](const float* centre, float* out) {
    for (int j = 0; j < kDim; ++j) out[j] = centre[j] + sp.within_sd[j] * gauss(rng);
    normalise(out, kDim);
  };
  size_t row = 0;
  while (row < n) {
    for (int j = 0; j < kDim; ++j) c[j] = sp.mean[j] + sp.between_sd[j] * gauss(rng);
    centres.insert(centres.end(), c.begin(), c.end());
    const size_t count = std::min<size_t>(static_cast<size_t>(faces_per_id(rng)), n - row);
    for (size_t i = 0; i < count; ++i, ++row) face_of(c.data(), s.base.data() + row * kDim);
  }
  s.identities = centres.size() / kDim;
  // Same-person / different-person similarity of the generated faces (consecutive rows share an identity).
  {
    double same = 0, diff = 0;
    size_t ns = 0, nd = 0;
    for (size_t i = 0; i + 1 < std::min<size_t>(n, 20000); ++i) {
      float dot;
      inner_products_scalar(&s.base[i * kDim], &s.base[(i + 1) * kDim], 1, kDim, &dot);
      float other;
      inner_products_scalar(&s.base[i * kDim], &s.base[((i * 7919 + n / 2) % n) * kDim], 1, kDim, &other);
      same += dot, ++ns;  // mostly the same identity (runs of 5-20)
      diff += other, ++nd;
    }
    s.same_cos = same / double(ns);
    s.random_pair_cos = diff / double(nd);
  }
  // Library order is not identity order: shuffle rows.
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> shuffled(n * kDim);
  for (size_t i = 0; i < n; ++i) std::memcpy(&shuffled[i * kDim], &s.base[perm[i] * kDim], kDim * sizeof(float));
  s.base.swap(shuffled);
  s.ids.resize(n);
  for (size_t i = 0; i < n; ++i) s.ids[i] = 1000 + 7 * static_cast<int64_t>(perm[i]);
  s.queries.resize(nq * kDim);
  std::uniform_int_distribution<size_t> pick(0, s.identities - 1);
  for (size_t q = 0; q < nq; ++q) face_of(&centres[pick(rng) * kDim], &s.queries[q * kDim]);
  return s;
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
};

Latency percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * double(ms.size())))]; };
  return {at(0.50), at(0.99)};
}

// Times one query at a time through fn(query_index), after one untimed warm-up query.
template <class Fn>
Latency time_single_queries(size_t nq, Fn&& fn) {
  fn(0);
  std::vector<double> ms;
  ms.reserve(nq);
  for (size_t q = 0; q < nq; ++q) {
    const auto t0 = Clock::now();
    fn(q);
    ms.push_back(seconds_since(t0) * 1e3);
  }
  return percentiles(std::move(ms));
}

double recall_at_k(const std::vector<std::vector<Neighbor>>& truth, const std::vector<std::vector<Neighbor>>& got) {
  size_t hit = 0, total = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    std::unordered_set<int64_t> want;
    for (const auto& nb : truth[q]) want.insert(nb.id);
    for (const auto& nb : got[q]) hit += want.count(nb.id);
    total += truth[q].size();
  }
  return total ? double(hit) / double(total) : 1.0;
}

std::filesystem::path default_graph_cache() {
  if (const char* c = std::getenv("XDG_CACHE_HOME"); c && *c) return std::filesystem::path(c) / "facesearch" / "bench";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "facesearch" / "bench";
  return {};
}
constexpr size_t kCacheFrom = 500000;

struct Options {
  std::vector<size_t> sizes = {10000, 100000, 1000000};
  size_t queries = 200;
  index_detail::HnswParams hnsw = index_detail::kDefaultHnswParams;
  std::vector<int> ef_sweep = {64, 96, 128, 192, 256};  // efSearch values for the recall / latency table
  bool faiss_hnsw = false;    // also build faiss's own IndexHNSWFlat (scalar distances) for comparison
  bool isotropic = false;     // the hard synthetic case instead of the measured face shape
  // Graphs of >= kCacheFrom faces are saved here and reused by later runs over the same data and
  // parameters (the 1M graph takes ~10 min to build on 2 cores). Empty: no cache.
  std::filesystem::path graph_cache = default_graph_cache();
};

std::vector<size_t> parse_list(const char* s) {
  std::vector<size_t> out;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    out.push_back(std::strtoull(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
    if (end == p && *p) break;
  }
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--sizes") o.sizes = parse_list(v), ++i;
    else if (a == "--queries") o.queries = std::strtoull(v, nullptr, 10), ++i;
    else if (a == "--m") o.hnsw.m = std::atoi(v), ++i;
    else if (a == "--ef-construction") o.hnsw.ef_construction = std::atoi(v), ++i;
    else if (a == "--ef-search") {
      o.ef_sweep.clear();
      for (size_t e : parse_list(v)) o.ef_sweep.push_back(static_cast<int>(e));
      ++i;
    } else if (a == "--faiss-hnsw") o.faiss_hnsw = true;
    else if (a == "--isotropic") o.isotropic = true;
    else if (a == "--graph-cache") o.graph_cache = v, ++i;
    else if (a == "--no-graph-cache") o.graph_cache.clear();
    else {
      std::fprintf(stderr,
                   "usage: %s [--sizes N,N,..] [--queries N] [--m M] [--ef-construction E] [--ef-search E,E,..] "
                   "[--faiss-hnsw] [--isotropic] [--graph-cache DIR | --no-graph-cache]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return o;
}

struct SizeResult {
  size_t n = 0, identities = 0;
  double same_cos = 0, random_pair_cos = 0;
  int ef_construction = 0;
  Latency exact, faiss_flat, hnsw;
  double exact_bytes = 0, faiss_flat_bytes = 0, hnsw_bytes = 0;
  double exact_build_s = 0, faiss_flat_build_s = 0, hnsw_build_s = 0, hnsw_build_cpu_s = 0;
  double recall = 0, match_recall = 0;
  bool hnsw_cached = false;
  Latency faiss_walk;  // the same graph, faiss's HNSW::search
  double faiss_walk_recall = 0;
  struct SweepPoint {
    int ef = 0;
    Latency latency;
    double recall = 0, match_recall = 0;
  };
  std::vector<SweepPoint> sweep;
  bool has_faiss_hnsw = false;
  Latency faiss_hnsw;
  double faiss_hnsw_build_s = 0, faiss_hnsw_recall = 0;
};

// The product's parameters at every size (the graph cache makes the 1M build a one-off).
index_detail::HnswParams hnsw_params_for(size_t, const Options& o) { return o.hnsw; }

// A match: the default pack's threshold (0.92) on face-shaped data; 0.5 on the isotropic data.
float match_threshold(const Options& o) { return o.isotropic ? 0.5f : 0.92f; }

SizeResult run_size(size_t n, const Options& o) {
  SizeResult r;
  r.n = n;
  const auto tg = Clock::now();
  const FaceSet s = make_faces(n, o.queries, o.isotropic, 42 + n);
  r.identities = s.identities;
  r.same_cos = s.same_cos;
  r.random_pair_cos = s.random_pair_cos;
  std::fprintf(stderr, "[%zu] data: %zu identities, %.1f s\n", n, s.identities, seconds_since(tg));
  const float* queries = s.queries.data();
  const float no_floor = -std::numeric_limits<float>::infinity();

  // Exact.
  auto exact = make_exact_index(kDim);
  auto t0 = Clock::now();
  exact->add(s.ids, s.base);
  r.exact_build_s = seconds_since(t0);
  r.exact_bytes = double(kDim * sizeof(float) + sizeof(int64_t));
  const auto truth = exact->search(s.queries, kTopK, no_floor);
  r.exact = time_single_queries(s.nq, [&](size_t q) {
    (void)exact->search(std::span<const float>(queries + q * kDim, kDim), kTopK, no_floor);
  });
  std::fprintf(stderr, "[%zu] exact p50 %.3f ms\n", n, r.exact.p50_ms);

  // FAISS brute force, one query per call like the exact index. Fewer queries at 1M: it is slow.
  {
    faiss::IndexFlatIP flat(kDim);
    t0 = Clock::now();
    flat.add(static_cast<faiss::Index::idx_t>(n), s.base.data());
    r.faiss_flat_build_s = seconds_since(t0);
    r.faiss_flat_bytes = double(kDim * sizeof(float));
    std::vector<float> dist(kTopK);
    std::vector<faiss::Index::idx_t> lab(kTopK);
    const size_t nq = n >= 500000 ? std::min<size_t>(s.nq, 50) : s.nq;
    r.faiss_flat = time_single_queries(nq, [&](size_t q) {
      flat.search(1, queries + q * kDim, kTopK, dist.data(), lab.data());
    });
    std::fprintf(stderr, "[%zu] faiss flat p50 %.3f ms\n", n, r.faiss_flat.p50_ms);
  }

  // HNSW.
  {
    const auto params = hnsw_params_for(n, o);
    r.ef_construction = params.ef_construction;
    std::unique_ptr<index_detail::HnswIndex> hnsw;
    std::filesystem::path cached;
    if (!o.graph_cache.empty() && n >= kCacheFrom) {
      std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the data: a cached graph must be of these vectors
      for (const float x : s.base) {
        std::uint32_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
      }
      char name[128];
      std::snprintf(name, sizeof name, "hnsw-%zu-m%d-efc%d-%016llx.bin", n, params.m, params.ef_construction,
                    static_cast<unsigned long long>(h));
      cached = o.graph_cache / name;
      if (std::ifstream in{cached, std::ios::binary}) {
        try {
          hnsw = index_detail::load_hnsw_index(in, kDim);
          hnsw->set_ef_search(params.ef_search);
          std::fprintf(stderr, "[%zu] hnsw graph loaded from %s\n", n, cached.c_str());
          r.hnsw_cached = true;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "[%zu] ignoring cached graph %s: %s\n", n, cached.c_str(), e.what());
          hnsw.reset();
        }
      }
    }
    if (!hnsw) {
      hnsw = index_detail::make_hnsw_index(kDim, params);
      t0 = Clock::now();
      const double cpu0 = process_cpu_seconds();
      hnsw->add(s.ids, s.base);
      r.hnsw_build_s = seconds_since(t0);
      r.hnsw_build_cpu_s = process_cpu_seconds() - cpu0;
      std::fprintf(stderr, "[%zu] hnsw build %.1f s (%.1f s CPU)\n", n, r.hnsw_build_s, r.hnsw_build_cpu_s);
      if (!cached.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(cached.parent_path(), ec);
        const auto tmp = cached.string() + ".tmp";
        std::ofstream out(tmp, std::ios::binary);
        save_approx_index(*hnsw, out);
        out.close();
        if (out) std::filesystem::rename(tmp, cached, ec);
        if (!out || ec) std::fprintf(stderr, "[%zu] could not cache the graph in %s\n", n, cached.c_str());
      }
    }
    r.hnsw_bytes = double(hnsw->memory_bytes()) / double(n);
    r.recall = recall_at_k(truth, hnsw->search(s.queries, kTopK, no_floor));
    const float t = match_threshold(o);
    r.match_recall = recall_at_k(exact->search(s.queries, kTopK, t), hnsw->search(s.queries, kTopK, t));
    r.hnsw = time_single_queries(s.nq, [&](size_t q) {
      (void)hnsw->search(std::span<const float>(queries + q * kDim, kDim), kTopK, no_floor);
    });
    // The same graph searched by faiss's own walk (the reference): same recall, the latency difference is the walk.
    hnsw->set_own_graph_walk(false);
    r.faiss_walk_recall = recall_at_k(truth, hnsw->search(s.queries, kTopK, no_floor));
    r.faiss_walk = time_single_queries(s.nq, [&](size_t q) {
      (void)hnsw->search(std::span<const float>(queries + q * kDim, kDim), kTopK, no_floor);
    });
    hnsw->set_own_graph_walk(true);
    for (int ef : o.ef_sweep) {
      hnsw->set_ef_search(ef);
      SizeResult::SweepPoint point;
      point.ef = ef;
      point.recall = recall_at_k(truth, hnsw->search(s.queries, kTopK, no_floor));
      point.match_recall = recall_at_k(exact->search(s.queries, kTopK, t), hnsw->search(s.queries, kTopK, t));
      point.latency = time_single_queries(s.nq, [&](size_t q) {
        (void)hnsw->search(std::span<const float>(queries + q * kDim, kDim), kTopK, no_floor);
      });
      r.sweep.push_back(point);
    }
  }

  if (o.faiss_hnsw && n <= 200000) {  // faiss's scalar distances: far too slow to build at 1M
    faiss::IndexHNSWFlat plain(kDim, o.hnsw.m, faiss::METRIC_INNER_PRODUCT);
    plain.hnsw.efConstruction = r.ef_construction;
    plain.hnsw.efSearch = o.hnsw.ef_search;
    t0 = Clock::now();
    plain.add(static_cast<faiss::Index::idx_t>(n), s.base.data());
    r.faiss_hnsw_build_s = seconds_since(t0);
    std::fprintf(stderr, "[%zu] faiss's own hnsw build %.1f s\n", n, r.faiss_hnsw_build_s);
    std::vector<float> dist(s.nq * kTopK);
    std::vector<faiss::Index::idx_t> lab(s.nq * kTopK);
    plain.search(static_cast<faiss::Index::idx_t>(s.nq), queries, kTopK, dist.data(), lab.data());
    std::vector<std::vector<Neighbor>> got(s.nq);
    for (size_t q = 0; q < s.nq; ++q)
      for (size_t j = 0; j < kTopK; ++j)
        if (lab[q * kTopK + j] >= 0) got[q].push_back({s.ids[static_cast<size_t>(lab[q * kTopK + j])], dist[q * kTopK + j]});
    r.faiss_hnsw_recall = recall_at_k(truth, got);
    r.faiss_hnsw = time_single_queries(s.nq, [&](size_t q) {
      plain.search(1, queries + q * kDim, kTopK, dist.data(), lab.data());
    });
    r.has_faiss_hnsw = true;
  }
  return r;
}

// Kernel throughput over a block that stays in L2 (compute-bound) and over 1M rows (memory-bound).
void bench_kernels() {
  std::printf("\n### Inner-product kernels (%d-d)\n\n", kDim);
  std::printf("| kernel | ns/row, 2k rows (in cache) | ns/row, 1M rows (from memory) | GB/s from memory |\n");
  std::printf("|---|---:|---:|---:|\n");
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const size_t big = 1000000, small = 2048;
  std::vector<float> base(big * kDim), q(kDim), out(big);
  for (auto& x : base) x = u(rng);
  for (auto& x : q) x = u(rng);
  auto measure = [&](auto&& fn, size_t rows, int reps) {
    fn(rows);
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      fn(rows);
      best = std::min(best, seconds_since(t0));
    }
    return best * 1e9 / double(rows);
  };
  auto row = [&](const char* name, auto&& fn) {
    const double hot = measure(fn, small, 200), cold = measure(fn, big, 5);
    std::printf("| %s | %.2f | %.2f | %.1f |\n", name, hot, cold, double(kDim * sizeof(float)) / cold);
  };
  for (const auto& k : index_detail::supported_inner_product_kernels()) {
    row(k.name, [&](size_t rows) { k.fn(q.data(), base.data(), rows, kDim, out.data()); });
  }
  row("faiss fvec_inner_products_ny (Debian build)",
      [&](size_t rows) { faiss::fvec_inner_products_ny(out.data(), q.data(), base.data(), kDim, rows); });
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const auto t_all = Clock::now();
  const std::string load_start = load_average();
  std::vector<SizeResult> results;
  for (size_t n : o.sizes) results.push_back(run_size(n, o));

  std::printf("## Vector index, %d-d synthetic faces, k = %zu, one query per call, %u hardware threads\n\n", kDim,
              kTopK, std::thread::hardware_concurrency());
  std::printf("HNSW: M = %d, efConstruction = %d, efSearch = %d, %s distances", o.hnsw.m, o.hnsw.ef_construction,
              o.hnsw.ef_search, o.hnsw.simd_distances ? "SIMD" : "faiss");
  std::printf(".\n");
  std::printf("Data: %s; 5-20 faces per person", o.isotropic ? "isotropic (hard case)" : "shaped like the test photos' embeddings");
  if (!results.empty()) {
    std::printf(", same person ~%.2f, random pair ~%.2f mean similarity", results[0].same_cos,
                results[0].random_pair_cos);
  }
  std::printf(". Recall of matches: neighbours scoring >= %.2f.\n\n", match_threshold(o));
  std::printf("| faces | exact p50 / p99 ms | FAISS IndexFlatIP p50 / p99 ms | FAISS / exact (p50) | HNSW p50 / p99 ms "
              "| HNSW recall@10 | HNSW recall of matches | same graph, faiss's walk: p50 ms / recall@10 | bytes/face exact / FAISS flat / HNSW | HNSW efC | HNSW build s (CPU s) |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results) {
    char build[64];
    if (r.hnsw_cached) std::snprintf(build, sizeof build, "cached");
    else std::snprintf(build, sizeof build, "%.1f (%.1f)", r.hnsw_build_s, r.hnsw_build_cpu_s);
    std::printf("| %zu | %.3f / %.3f | %.3f / %.3f | %.1fx | %.3f / %.3f | %.4f | %.4f | %.3f / %.4f | %.0f / %.0f / %.0f | %d | %s |\n",
                r.n, r.exact.p50_ms, r.exact.p99_ms, r.faiss_flat.p50_ms, r.faiss_flat.p99_ms,
                r.faiss_flat.p50_ms / r.exact.p50_ms, r.hnsw.p50_ms, r.hnsw.p99_ms, r.recall, r.match_recall,
                r.faiss_walk.p50_ms, r.faiss_walk_recall, r.exact_bytes, r.faiss_flat_bytes, r.hnsw_bytes, r.ef_construction,
                build);
  }
  if (!o.ef_sweep.empty()) {
    std::printf("\n### HNSW efSearch sweep\n\n| faces | efSearch | p50 / p99 ms | recall@10 | recall of matches |\n"
                "|---:|---:|---:|---:|---:|\n");
    for (const auto& r : results)
      for (const auto& e : r.sweep)
        std::printf("| %zu | %d | %.3f / %.3f | %.4f | %.4f |\n", r.n, e.ef, e.latency.p50_ms, e.latency.p99_ms, e.recall,
                    e.match_recall);
  }
  if (o.faiss_hnsw) {
    std::printf("\n### faiss IndexHNSWFlat with its own (Debian, scalar) distances, same M / ef (up to 200k faces)\n\n"
                "| faces | build s | p50 / p99 ms | recall@10 |\n|---:|---:|---:|---:|\n");
    for (const auto& r : results)
      if (r.has_faiss_hnsw) {
        std::printf("| %zu | %.1f | %.3f / %.3f | %.4f |\n", r.n, r.faiss_hnsw_build_s, r.faiss_hnsw.p50_ms,
                    r.faiss_hnsw.p99_ms, r.faiss_hnsw_recall);
      }
  }
  bench_kernels();
  std::printf("\nTotal bench time %.0f s. Load average at start: %s; at end: %s (%u hardware threads).\n",
              seconds_since(t_all), load_start.c_str(), load_average().c_str(), std::thread::hardware_concurrency());
  return 0;
}
