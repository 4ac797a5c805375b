// The HNSW index's fast path (issue 14): the walk over half-precision (binary16) rows with the exact
// re-score of what it keeps, and the narrow beams the library search asks for (VectorIndex::search_beam).
// The exact index is the reference throughout: scores must be its scores, and the matches over a
// threshold that a face-id search asks for must be found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "index/hnsw_index.h"
#include "index/inner_product_kernels.h"
#include "index/vector_index.h"

namespace facesearch {
namespace {

constexpr float kNoFloor = -std::numeric_limits<float>::infinity();

void normalise(float* v, int dim) {
  double s = 0;
  for (int j = 0; j < dim; ++j) s += double(v[j]) * v[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (int j = 0; j < dim; ++j) v[j] *= inv;
}

std::vector<float> random_unit_vectors(size_t n, int dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::vector<float> v(n * static_cast<size_t>(dim));
  for (auto& x : v) x = gauss(rng);
  for (size_t i = 0; i < n; ++i) normalise(&v[i * static_cast<size_t>(dim)], dim);
  return v;
}

// Faces as bench/synthetic_faces.h makes them (the server bench's library): people of 5-20 faces, a
// face its person's random direction plus a random one 0.73 times as long (same person ~0.65,
// strangers ~0, as the default pack's embeddings).
std::vector<float> synthetic_faces(size_t n, int dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::uniform_int_distribution<int> faces_per_person(5, 20);
  std::vector<float> out(n * static_cast<size_t>(dim)), person(static_cast<size_t>(dim)), noise(static_cast<size_t>(dim));
  int left = 0;
  for (size_t i = 0; i < n; ++i) {
    if (left-- <= 0) {
      for (auto& x : person) x = gauss(rng);
      normalise(person.data(), dim);
      left = faces_per_person(rng) - 1;
    }
    for (auto& x : noise) x = gauss(rng);
    normalise(noise.data(), dim);
    float* row = &out[i * static_cast<size_t>(dim)];
    for (int j = 0; j < dim; ++j) row[j] = person[static_cast<size_t>(j)] + 0.73f * noise[static_cast<size_t>(j)];
    normalise(row, dim);
  }
  return out;
}

// The dlib pack's kind of embeddings (as in vector_index_test.cpp: a common mean of norm 0.92, variance
// around it decaying like rank^-0.85; same person ~0.96, two people ~0.82): `identities` people of
// `per_identity` faces. The hard case for a threshold search: many look-alikes near the 0.92 threshold.
std::vector<float> clustered_faces(size_t identities, size_t per_identity, int dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> mean = random_unit_vectors(1, dim, seed + 1), between_sd(static_cast<size_t>(dim)), within_sd(static_cast<size_t>(dim));
  double total = 0;
  for (int j = 0; j < dim; ++j) total += std::pow(j + 1.0, -0.85);
  for (int j = 0; j < dim; ++j) {
    between_sd[static_cast<size_t>(j)] = static_cast<float>(std::sqrt(0.15 * std::pow(j + 1.0, -0.85) / total));
    within_sd[static_cast<size_t>(j)] = static_cast<float>(std::sqrt(0.033 * std::pow(j + 1.0, -0.85) / total));
  }
  std::vector<float> out, centre(static_cast<size_t>(dim));
  for (size_t i = 0; i < identities; ++i) {
    for (int j = 0; j < dim; ++j) centre[static_cast<size_t>(j)] = mean[static_cast<size_t>(j)] + between_sd[static_cast<size_t>(j)] * g(rng);
    for (size_t f = 0; f < per_identity; ++f) {
      for (int j = 0; j < dim; ++j) out.push_back(centre[static_cast<size_t>(j)] + within_sd[static_cast<size_t>(j)] * g(rng));
      normalise(&out[out.size() - static_cast<size_t>(dim)], dim);
    }
  }
  return out;
}

std::vector<std::int64_t> scattered_ids(size_t n) {
  std::vector<std::int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = 1000 + 7 * static_cast<std::int64_t>(i);
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(17));
  return ids;
}

// The portable reference on binary16 values written by hand: it runs on every machine, and is what the
// fast kernel is checked against below.
TEST(HalfPrecisionKernel, ScalarReferenceDecodesBinary16) {
  // 1, -2, 65504 (largest), 2^-24 (smallest subnormal), 0.5, 2^-14 (smallest normal), -0.
  const std::uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3800, 0x0400, 0x8000};
  const float want[] = {1.f, -2.f, 65504.f, 0x1p-24f, 0.5f, 0x1p-14f, -0.f};
  for (size_t i = 0; i < std::size(h); ++i) EXPECT_EQ(index_detail::half_to_float(h[i]), want[i]) << i;
  const float q[] = {2.f, 3.f, 1.f, 0x1p24f, 4.f, 0x1p14f, 5.f};
  // 2 - 6 + 65504 + 1 + 2 + 1 - 0
  EXPECT_EQ(index_detail::inner_product_half_scalar(q, h, 7), 65504.f);
}

TEST(HalfPrecisionKernel, MatchesTheScalarReferenceAndRoundsToNearest) {
  // Machines without F16C never use this kernel (half_rows_supported() is false, the index walks float
  // rows: HnswFastPath.HalfPrecisionWalkAgreesWithFloatWalk runs there too); that is what is checked.
  if (!index_detail::half_rows_supported()) {
    auto graph = index_detail::make_hnsw_index(8, index_detail::kDefaultHnswParams);
    graph->add(scattered_ids(100), random_unit_vectors(100, 8, 5));
    EXPECT_FALSE(graph->set_half_precision_walk(true));
    return;
  }
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (const int dim : {1, 7, 8, 9, 15, 16, 17, 31, 128, 512, 515}) {
    std::vector<float> q(static_cast<size_t>(dim)), x(static_cast<size_t>(dim));
    for (auto& v : q) v = uniform(rng);
    for (auto& v : x) v = uniform(rng);
    std::vector<std::uint16_t> h(static_cast<size_t>(dim));
    index_detail::to_half(x.data(), x.size(), h.data());
    double sum = 0, bound = 0;
    for (int j = 0; j < dim; ++j) {
      const float back = index_detail::half_to_float(h[static_cast<size_t>(j)]);
      // Round to nearest: within half a binary16 step (2^-11 relative; 2^-25 absolute below 2^-14).
      EXPECT_LE(std::fabs(back - x[static_cast<size_t>(j)]), std::max(std::fabs(x[static_cast<size_t>(j)]) * 0x1p-11f, 0x1p-25f));
      sum += double(q[static_cast<size_t>(j)]) * back;
      bound += std::fabs(double(q[static_cast<size_t>(j)]) * back);
    }
    const float fast = index_detail::inner_product_half(q.data(), h.data(), dim);
    const float reference = index_detail::inner_product_half_scalar(q.data(), h.data(), dim);
    EXPECT_NEAR(fast, sum, 1e-6 * bound + 1e-7) << "dim " << dim;
    EXPECT_NEAR(reference, sum, 1e-6 * bound + 1e-7) << "dim " << dim;
  }
  // Special values convert exactly.
  const float special[] = {0.f, -0.f, 1.f, -2.f, 65504.f, 0x1p-24f, std::numeric_limits<float>::infinity()};
  std::uint16_t h[std::size(special)];
  index_detail::to_half(special, std::size(special), h);
  for (size_t i = 0; i < std::size(special); ++i) EXPECT_EQ(index_detail::half_to_float(h[i]), special[i]);
}

// A face-id search's look-ups: every face over the threshold that the exact index returns must come
// back from the graph, with the exact index's score, and nothing else; for the half-precision walk and
// the float one, at the beams the library search uses (64 for the matches, 35 for query expansion's
// few best) and the default (128).
struct ThresholdCase {
  size_t k, beam;
  float threshold;
};
void expect_threshold_recall(const std::vector<float>& base, int dim, std::span<const ThresholdCase> cases, double floor,
                             const char* what) {
  const size_t n = base.size() / static_cast<size_t>(dim), nq = 400;
  const auto ids = scattered_ids(n);
  auto exact = make_exact_index(dim);
  exact->add(ids, base);
  auto graph = index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
  graph->add(ids, base);
  EXPECT_EQ(graph->set_half_precision_walk(true), index_detail::half_rows_supported());
  // Queries: library faces (a face-id search), spread over the library.
  std::vector<float> queries;
  for (size_t q = 0; q < nq; ++q) {
    const size_t row = (q * 7919) % n;
    queries.insert(queries.end(), &base[row * dim], &base[(row + 1) * dim]);
  }
  for (const bool half : {true, false}) {
    graph->set_half_precision_walk(half);
    for (const ThresholdCase& c : cases) {
      size_t wanted = 0, found = 0;
      for (size_t q = 0; q < nq; ++q) {
        const std::span<const float> query(&queries[q * dim], dim);
        const auto truth = exact->search(query, c.k, c.threshold)[0];
        const auto got = graph->search_beam(query, c.k, c.threshold, c.beam);
        std::unordered_map<std::int64_t, float> score_of;
        for (const auto& nb : truth) score_of[nb.id] = nb.score;
        ASSERT_LE(got.size(), c.k);
        for (size_t j = 0; j < got.size(); ++j) {
          if (j > 0) EXPECT_GE(got[j - 1].score, got[j].score);
          const auto it = score_of.find(got[j].id);
          if (it == score_of.end()) {
            // Only possible when the exact list was cut at k: then the score ties or is below its last.
            ASSERT_EQ(truth.size(), c.k);
            EXPECT_LE(got[j].score, truth.back().score);
            continue;
          }
          EXPECT_EQ(got[j].score, it->second) << "the graph's score must be the exact index's";
          ++found;
        }
        wanted += truth.size();
      }
      const double recall = double(found) / double(wanted);
      std::printf("%s, %s walk, k %zu, beam %zu, threshold %.2f: %.5f of %zu exact matches found\n", what,
                  half ? "half" : "float", c.k, c.beam, c.threshold, recall, wanted);
      EXPECT_GE(recall, floor) << what << ", " << (half ? "half" : "float") << " walk, beam " << c.beam;
    }
  }
}

// The server bench's kind of data (bench/synthetic_faces.h, the default pack's threshold 0.40 and
// expansion confidence 0.50).
TEST(HnswFastPath, ThresholdSearchFindsTheExactMatches) {
  const ThresholdCase cases[] = {{64, 64, 0.4f}, {35, 35, 0.5f}, {64, 0, 0.4f}};
  expect_threshold_recall(synthetic_faces(20000, 128, 41), 128, cases, 0.999, "synthetic faces");
}

// The dlib-like look-alikes at that pack's threshold 0.92: a top 64 holds other people above it. Measured:
// beam 64 (widened where full of near-threshold scores) 0.9998, the default beam 128 0.998; beam 64
// without the widening found only 0.986.
TEST(HnswFastPath, ThresholdSearchAmongLookAlikes) {
  const ThresholdCase cases[] = {{64, 64, 0.92f}, {64, 0, 0.92f}};
  expect_threshold_recall(clustered_faces(4000, 5, 128, 91), 128, cases, 0.995, "look-alikes");
}

// The half-precision walk against the float one on the same graph (isotropic vectors: the hard case,
// where rounded scores could change the path): the same recall and nearly the same answers.
TEST(HnswFastPath, HalfPrecisionWalkAgreesWithFloatWalk) {
  // Without F16C the index falls back to float rows, and the comparison below still holds.
  const int dim = 64;
  const size_t n = 20000, nq = 300;
  const auto base = random_unit_vectors(n, dim, 131);
  const auto queries = random_unit_vectors(nq, dim, 132);
  const auto ids = scattered_ids(n);
  auto exact = make_exact_index(dim);
  exact->add(ids, base);
  const auto truth = exact->search(queries, 10, kNoFloor);
  auto graph = index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
  graph->add(ids, base);
  auto recall = [&](const std::vector<std::vector<Neighbor>>& want, const std::vector<std::vector<Neighbor>>& got) {
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < want.size(); ++q) {
      for (const auto& w : want[q])
        hit += std::any_of(got[q].begin(), got[q].end(), [&](const Neighbor& g) { return g.id == w.id; });
      total += want[q].size();
    }
    return double(hit) / double(total);
  };
  for (const int ef : {64, 128}) {
    graph->set_ef_search(ef);
    ASSERT_TRUE(graph->set_half_precision_walk(true));
    const auto half = graph->search(queries, 10, kNoFloor);
    graph->set_half_precision_walk(false);
    const auto full = graph->search(queries, 10, kNoFloor);
    const double half_recall = recall(truth, half), full_recall = recall(truth, full), same = recall(full, half);
    std::printf("efSearch %d: recall@10 half-precision walk %.4f, float walk %.4f, same answers %.4f\n", ef, half_recall,
                full_recall, same);
    EXPECT_GE(half_recall, full_recall - 0.005) << "efSearch " << ef;
    EXPECT_GE(same, 0.98) << "efSearch " << ef;
    for (size_t q = 0; q < nq; ++q) {
      ASSERT_EQ(half[q].size(), 10u);
      for (const auto& nb : half[q]) {
        const auto it = std::find(ids.begin(), ids.end(), nb.id);
        ASSERT_NE(it, ids.end());
        const size_t row = static_cast<size_t>(it - ids.begin());
        EXPECT_EQ(nb.score, index_detail::inner_product(&queries[q * dim], &base[row * dim], dim));
      }
    }
  }
}

// The re-score near the bounds: with many rows within rounding of the threshold and of the k-th score,
// the answer is still exactly the exact index's over the candidates (here every row is a candidate:
// the library is smaller than the beam).
TEST(HnswFastPath, ReScoreKeepsEveryRowNearTheBounds) {
  const int dim = 32;
  const size_t n = 100;
  // Rows that all score within ~1e-4 of 0.5 against the query (far below binary16's rounding step
  // there, ~2.4e-4): their half-precision order means nothing, the exact one decides.
  std::vector<float> query(dim, 0.f), base(n * dim, 0.f);
  query[0] = 1.f;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> jitter(-1e-4f, 1e-4f);
  for (size_t i = 0; i < n; ++i) {
    float* row = &base[i * dim];
    row[0] = 0.5f + jitter(rng);
    row[1 + i % (dim - 1)] = std::sqrt(1.f - row[0] * row[0]);
  }
  const auto ids = scattered_ids(n);
  auto exact = make_exact_index(dim);
  exact->add(ids, base);
  auto graph = index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
  graph->add(ids, base);
  graph->set_half_precision_walk(true);
  for (const size_t k : {size_t{1}, size_t{10}, size_t{50}, n}) {
    for (const float threshold : {kNoFloor, 0.5f, 0.50005f}) {
      const auto want = exact->search(query, k, threshold)[0];
      const auto got = graph->search_beam(query, k, threshold, 0);
      ASSERT_EQ(got.size(), want.size()) << "k " << k << ", threshold " << threshold;
      for (size_t j = 0; j < got.size(); ++j) {
        EXPECT_EQ(got[j].score, want[j].score) << "k " << k << ", threshold " << threshold << ", rank " << j;
        EXPECT_GE(got[j].score, threshold);
      }
    }
  }
}

// Rows that do not fit binary16 (a component beyond its range): the index walks float rows, and
// answers as before; a graph saved and loaded again walks half-precision rows like the original.
TEST(HnswFastPath, FallsBackToFloatRowsAndSurvivesSaveAndLoad) {
  const int dim = 16;
  const size_t n = 2000;
  auto base = random_unit_vectors(n, dim, 51);
  const auto ids = scattered_ids(n);
  const auto queries = random_unit_vectors(20, dim, 52);
  auto graph = index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
  graph->add(std::span(ids).subspan(0, n / 2), std::span(base).subspan(0, n / 2 * dim));
  EXPECT_EQ(graph->set_half_precision_walk(true), index_detail::half_rows_supported());
  std::vector<float> huge(base.begin() + n / 2 * dim, base.end());
  huge[3] = 1e6f;  // one component far out of binary16's range
  graph->add(std::span(ids).subspan(n / 2), huge);
  EXPECT_FALSE(graph->set_half_precision_walk(true));
  auto exact = make_exact_index(dim);
  exact->add(std::span(ids).subspan(0, n / 2), std::span(base).subspan(0, n / 2 * dim));
  exact->add(std::span(ids).subspan(n / 2), huge);
  const auto every = exact->search(queries, n, kNoFloor);
  const auto want = exact->search(queries, 5, kNoFloor);
  const auto got = graph->search(queries, 5, kNoFloor);
  size_t same_best = 0;
  for (size_t q = 0; q < want.size(); ++q) {
    ASSERT_EQ(got[q].size(), 5u);
    same_best += got[q][0].id == want[q][0].id;
    for (const auto& nb : got[q]) {
      const auto it = std::find_if(every[q].begin(), every[q].end(), [&](const Neighbor& e) { return e.id == nb.id; });
      ASSERT_NE(it, every[q].end());
      EXPECT_EQ(nb.score, it->score);
    }
  }
  EXPECT_GE(same_best, want.size() - 1);

  // Save and load an ordinary one: the loaded graph uses half-precision rows and answers the same.
  auto plain = index_detail::make_hnsw_index(dim, index_detail::kDefaultHnswParams);
  plain->add(ids, base);
  std::stringstream blob;
  save_approx_index(*plain, blob);
  auto loaded = index_detail::load_hnsw_index(blob, dim);
  EXPECT_EQ(loaded->set_half_precision_walk(true), index_detail::half_rows_supported());
  const auto before = plain->search(queries, 10, kNoFloor), after = loaded->search(queries, 10, kNoFloor);
  for (size_t q = 0; q < before.size(); ++q) {
    ASSERT_EQ(before[q].size(), after[q].size());
    for (size_t j = 0; j < before[q].size(); ++j) {
      EXPECT_EQ(before[q][j].id, after[q][j].id);
      EXPECT_EQ(before[q][j].score, after[q][j].score);
    }
  }
  EXPECT_THROW((void)loaded->search_beam(std::span(queries).subspan(0, dim - 1), 5, kNoFloor, 8), Error);
  EXPECT_TRUE(loaded->search_beam(std::span(queries).subspan(0, dim), 0, kNoFloor, 8).empty());
}

}  // namespace
}  // namespace facesearch
