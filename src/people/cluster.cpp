#include "people/cluster.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/error.h"

namespace facesearch {
namespace {

using Edge = NeighbourGraph::Edge;

// `need_embeddings`: false for the clusterers, which read the graph and the photos only.
void check_faces(const FaceSet& faces, bool need_embeddings = true) {
  const size_t n = faces.face_ids.size();
  const bool embeddings_ok = faces.embeddings.size() == n * static_cast<size_t>(faces.dim) ||
                             (!need_embeddings && faces.embeddings.empty());
  if (faces.dim <= 0 || faces.image_ids.size() != n || !embeddings_ok) {
    throw Error(ErrorCode::kInvalidArgument,
                "face clustering: " + std::to_string(n) + " face ids, " + std::to_string(faces.image_ids.size()) +
                    " image ids and " + std::to_string(faces.embeddings.size()) + " floats do not describe faces of dimension " +
                    std::to_string(faces.dim));
  }
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorCode::kInvalidArgument, "face clustering: more than 2^32 - 2 faces is not supported");
  }
}

// Directed (from, to, similarity) triples into the symmetric compressed graph: both directions of every
// pair, one edge per pair (the highest similarity), each row best first.
NeighbourGraph compress(size_t n, std::vector<ScoredPair>& pairs) {
  // Each pair in both directions, then sorted by (from, to, similarity descending) so duplicates are adjacent.
  const size_t directed = pairs.size();
  pairs.reserve(2 * directed);
  for (size_t i = 0; i < directed; ++i) pairs.push_back({pairs[i].b, pairs[i].a, pairs[i].similarity});
  std::erase_if(pairs, [](const ScoredPair& p) { return p.a == p.b; });
  std::sort(pairs.begin(), pairs.end(), [](const ScoredPair& x, const ScoredPair& y) {
    if (x.a != y.a) return x.a < y.a;
    if (x.b != y.b) return x.b < y.b;
    return x.similarity > y.similarity;
  });
  pairs.erase(std::unique(pairs.begin(), pairs.end(), [](const ScoredPair& x, const ScoredPair& y) { return x.a == y.a && x.b == y.b; }),
              pairs.end());
  NeighbourGraph g;
  g.offsets.assign(n + 1, 0);
  g.edges.reserve(pairs.size());
  for (const auto& p : pairs) ++g.offsets[p.a + 1];
  for (size_t i = 0; i < n; ++i) g.offsets[i + 1] += g.offsets[i];
  for (const auto& p : pairs) g.edges.push_back({p.b, p.similarity});
  for (size_t i = 0; i < n; ++i) {
    std::sort(g.edges.begin() + g.offsets[i], g.edges.begin() + g.offsets[i + 1], [](const Edge& x, const Edge& y) {
      return x.similarity > y.similarity || (x.similarity == y.similarity && x.to < y.to);
    });
  }
  return g;
}

// The faces each face may not share a cluster with: the other faces of its photo, and its cannot-link
// partners (FaceSet::cannot_link). The rule is checked through them (a photo has a handful of faces),
// so no clusterer keeps a set of photos per cluster. Compressed rows; of(i) may hold i itself.
class Conflicts {
 public:
  explicit Conflicts(const FaceSet& faces) {
    const size_t n = faces.size();
    std::vector<std::uint32_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return faces.image_ids[a] < faces.image_ids[b]; });
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;  // (face, face it may not join)
    for (size_t s = 0; s < n;) {
      size_t e = s + 1;
      while (e < n && faces.image_ids[order[e]] == faces.image_ids[order[s]]) ++e;
      for (size_t a = s; a < e; ++a)
        for (size_t b = s; b < e; ++b)
          if (a != b) pairs.emplace_back(order[a], order[b]);
      s = e;
    }
    for (const auto& [a, b] : faces.cannot_link) {
      if (a >= n || b >= n) {
        throw Error(ErrorCode::kInvalidArgument, "face clustering: cannot-link pair (" + std::to_string(a) + ", " +
                                                     std::to_string(b) + ") outside " + std::to_string(n) + " faces");
      }
      if (a != b) pairs.emplace_back(a, b), pairs.emplace_back(b, a);
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    offsets_.assign(n + 1, 0);
    for (const auto& p : pairs) ++offsets_[p.first + 1];
    for (size_t i = 0; i < n; ++i) offsets_[i + 1] += offsets_[i];
    partners_.reserve(pairs.size());
    for (const auto& p : pairs) partners_.push_back(p.second);
  }
  std::span<const std::uint32_t> of(size_t i) const {
    return {partners_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }

 private:
  std::vector<size_t> offsets_;
  std::vector<std::uint32_t> partners_;
};

// Whether a face face i may not share a cluster with has label `label`.
bool conflicts_with_label(const Conflicts& conflicts, const std::vector<int>& labels, size_t i, int label) {
  for (const std::uint32_t s : conflicts.of(i))
    if (s != i && labels[s] == label) return true;
  return false;
}

// Labels 0..C-1 in order of first face; labels held by one face only become kUnassigned.
Clustering finish(std::vector<int> raw) {
  const size_t n = raw.size();
  std::unordered_map<int, size_t> count;
  for (const int l : raw)
    if (l >= 0) ++count[l];
  std::unordered_map<int, int> dense;
  Clustering out;
  out.labels.assign(n, Clustering::kUnassigned);
  for (size_t i = 0; i < n; ++i) {
    if (raw[i] < 0 || count[raw[i]] < 2) continue;
    auto [it, added] = dense.emplace(raw[i], out.clusters);
    if (added) ++out.clusters;
    out.labels[i] = it->second;
  }
  return out;
}

void check_graph(const FaceSet& faces, const NeighbourGraph& graph) {
  check_faces(faces, /*need_embeddings=*/false);
  if (graph.size() != faces.size()) {
    throw Error(ErrorCode::kInvalidArgument, "face clustering: the neighbour graph has " + std::to_string(graph.size()) +
                                                 " faces, the face set " + std::to_string(faces.size()));
  }
}

class ClustererBase : public FaceClusterer {
 public:
  explicit ClustererBase(const ClusterParams& params) : params_(params) {}
  const ClusterParams& params() const override { return params_; }

 protected:
  ClusterParams params_;
};

// Immich's rule over the graph: two passes in face order (see ClusterAlgorithm::kImmichRule).
class ImmichRuleClusterer final : public ClustererBase {
 public:
  using ClustererBase::ClustererBase;

  Clustering cluster(const FaceSet& faces, const NeighbourGraph& graph) const override {
    check_graph(faces, graph);
    const size_t n = faces.size();
    const Conflicts conflicts(faces);
    const float link = params_.link_similarity;
    std::vector<int> labels(n, Clustering::kUnassigned);
    int next_person = 0;
    // The person of face i's nearest assigned neighbour within reach whose person holds no other face
    // of i's photo (the neighbours come best first); kUnassigned when there is none.
    auto nearest_person = [&](size_t i) {
      for (const Edge& e : graph.neighbours(i)) {
        if (e.similarity < link) break;
        const int person = labels[e.to];
        if (person != Clustering::kUnassigned && !conflicts_with_label(conflicts, labels, i, person)) return person;
      }
      return static_cast<int>(Clustering::kUnassigned);
    };
    std::vector<std::uint32_t> deferred;
    for (size_t i = 0; i < n; ++i) {
      size_t within = 1;  // the face itself, as Immich's search returns it
      for (const Edge& e : graph.neighbours(i)) {
        if (e.similarity < link) break;
        ++within;
      }
      if (within <= 1 && params_.min_faces > 1) continue;  // matched only itself: never assigned
      if (within < static_cast<size_t>(params_.min_faces)) {
        deferred.push_back(static_cast<std::uint32_t>(i));
        continue;
      }
      int person = nearest_person(i);
      if (person == Clustering::kUnassigned) person = next_person++;  // a core face founds a person
      labels[i] = person;
    }
    for (const std::uint32_t i : deferred) labels[i] = nearest_person(i);
    return finish(std::move(labels));
  }
};

// dlib's Chinese whispers with the same-photo rule: a face never takes a label another face of its
// photo holds. Labels start distinct, and every change keeps the rule, so it holds at every step.
class ChineseWhispersClusterer final : public ClustererBase {
 public:
  using ClustererBase::ClustererBase;

  Clustering cluster(const FaceSet& faces, const NeighbourGraph& graph) const override {
    check_graph(faces, graph);
    const size_t n = faces.size();
    const Conflicts conflicts(faces);
    const float link = params_.link_similarity;
    std::vector<int> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int>(i);
    if (n == 0) return finish(std::move(labels));
    std::mt19937_64 rng(params_.seed);
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    std::vector<std::pair<int, double>> weights;  // label -> summed similarity; a face has few neighbours
    const size_t steps = n * static_cast<size_t>(params_.iterations);
    for (size_t step = 0; step < steps; ++step) {
      const size_t i = pick(rng);
      weights.clear();
      for (const Edge& e : graph.neighbours(i)) {
        if (e.similarity < link) break;
        const int l = labels[e.to];
        auto it = std::find_if(weights.begin(), weights.end(), [l](const auto& w) { return w.first == l; });
        if (it == weights.end()) {
          weights.emplace_back(l, e.similarity);
        } else {
          it->second += e.similarity;
        }
      }
      // The heaviest label the photo allows; ties to the smaller label, so the result depends on the seed only.
      int best = labels[i];
      double best_weight = 0;
      for (const auto& [l, w] : weights) {
        if (w < best_weight || (w == best_weight && l >= best)) continue;
        if (l != labels[i] && conflicts_with_label(conflicts, labels, i, l)) continue;
        best = l, best_weight = w;
      }
      labels[i] = best;
    }
    return finish(std::move(labels));
  }
};

// Average linkage over the graph's edges between clusters, with a max-heap of candidate merges (stale
// entries skipped by a per-cluster version) and clusters merged smaller into larger.
class AverageLinkageClusterer final : public ClustererBase {
 public:
  using ClustererBase::ClustererBase;

  Clustering cluster(const FaceSet& faces, const NeighbourGraph& graph) const override {
    check_graph(faces, graph);
    const size_t n = faces.size();
    const Conflicts conflicts(faces);
    const float link = params_.link_similarity;

    struct Link {
      double sum = 0;   // summed similarity over the edges between the two clusters
      size_t edges = 0;
    };
    std::vector<std::unordered_map<std::uint32_t, Link>> links(n);  // cluster -> neighbour cluster -> link
    std::vector<std::vector<std::uint32_t>> members(n);
    std::vector<std::uint32_t> cluster_of(n), version(n, 0);
    for (size_t i = 0; i < n; ++i) {
      members[i] = {static_cast<std::uint32_t>(i)};
      cluster_of[i] = static_cast<std::uint32_t>(i);
      for (const Edge& e : graph.neighbours(i)) links[i][e.to] = {e.similarity, 1};
    }
    auto average = [&](std::uint32_t a, std::uint32_t b, const Link& l) {
      const double pairs = params_.average_over_all_pairs ? double(members[a].size()) * double(members[b].size())
                                                          : double(l.edges);
      return l.sum / pairs;
    };
    struct Candidate {
      double score;
      std::uint32_t a, b, version_a, version_b;
      bool operator<(const Candidate& o) const {  // max-heap by score; ties by the smaller pair, for determinism
        if (score != o.score) return score < o.score;
        if (a != o.a) return a > o.a;
        return b > o.b;
      }
    };
    std::priority_queue<Candidate> heap;
    auto offer = [&](std::uint32_t a, std::uint32_t b, const Link& l) {
      const double s = average(a, b, l);
      if (s >= link) heap.push({s, std::min(a, b), std::max(a, b), version[std::min(a, b)], version[std::max(a, b)]});
    };
    for (size_t i = 0; i < n; ++i)
      for (const auto& [j, l] : links[i])
        if (i < j) offer(static_cast<std::uint32_t>(i), j, l);

    // Whether a face of the smaller cluster may not share a cluster with one of the larger (same photo,
    // or a cannot-link).
    auto in_conflict = [&](std::uint32_t a, std::uint32_t b) {
      const std::uint32_t small = members[a].size() <= members[b].size() ? a : b, large = small == a ? b : a;
      for (const std::uint32_t f : members[small])
        for (const std::uint32_t s : conflicts.of(f))
          if (s != f && cluster_of[s] == large) return true;
      return false;
    };

    while (!heap.empty()) {
      const Candidate c = heap.top();
      heap.pop();
      if (members[c.a].empty() || members[c.b].empty() || version[c.a] != c.version_a || version[c.b] != c.version_b) continue;
      if (in_conflict(c.a, c.b)) {
        // They never may merge, nor may anything that later contains them: forget their link.
        links[c.a].erase(c.b), links[c.b].erase(c.a);
        continue;
      }
      const std::uint32_t large = members[c.a].size() >= members[c.b].size() ? c.a : c.b, small = large == c.a ? c.b : c.a;
      for (const std::uint32_t f : members[small]) cluster_of[f] = large;
      members[large].insert(members[large].end(), members[small].begin(), members[small].end());
      members[small].clear();
      members[small].shrink_to_fit();
      for (const auto& [other, l] : links[small]) {
        if (other == large) continue;
        Link& to_large = links[large][other];
        to_large.sum += l.sum, to_large.edges += l.edges;
        links[other].erase(small);
        links[other][large] = to_large;
      }
      links[large].erase(small);
      links[small] = {};
      ++version[large], ++version[small];
      for (const auto& [other, l] : links[large]) offer(large, other, l);
    }
    std::vector<int> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int>(cluster_of[i]);
    return finish(std::move(labels));
  }
};

}  // namespace

NeighbourGraph neighbour_graph_from_pairs(size_t faces, std::span<const ScoredPair> pairs) {
  std::vector<ScoredPair> all;
  all.reserve(pairs.size());
  for (const auto& p : pairs) {
    if (p.a >= faces || p.b >= faces) {
      throw Error(ErrorCode::kInvalidArgument, "neighbour graph: pair (" + std::to_string(p.a) + ", " + std::to_string(p.b) +
                                                   ") outside " + std::to_string(faces) + " faces");
    }
    all.push_back(p);
  }
  return compress(faces, all);
}

NeighbourGraph build_neighbour_graph(const FaceSet& faces, const GraphOptions& options) {
  check_faces(faces);
  const size_t n = faces.size();
  const size_t d = static_cast<size_t>(faces.dim);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto index = make_index(options.index, faces.dim, n);
  std::vector<std::int64_t> positions(n);
  for (size_t i = 0; i < n; ++i) positions[i] = static_cast<std::int64_t>(i);
  index->add(positions, faces.embeddings);
  const auto t1 = Clock::now();
  std::vector<ScoredPair> pairs;
  pairs.reserve(n * std::min<size_t>(options.k, 16));
  const size_t batch = std::max<size_t>(options.batch, 1);
  for (size_t first = 0; first < n; first += batch) {
    const size_t count = std::min(batch, n - first);
    // k + 1: the face itself comes back too (dropped in compress()).
    const auto found = index->search(faces.embeddings.subspan(first * d, count * d), options.k + 1, options.min_similarity);
    for (size_t q = 0; q < count; ++q)
      for (const Neighbor& nb : found[q])
        pairs.push_back({static_cast<std::uint32_t>(first + q), static_cast<std::uint32_t>(nb.id), nb.score});
  }
  NeighbourGraph g = compress(n, pairs);
  g.index_kind = index->kind();
  g.index_build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  g.search_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  return g;
}

const char* cluster_algorithm_name(ClusterAlgorithm algorithm) {
  switch (algorithm) {
    case ClusterAlgorithm::kImmichRule: return "immich";
    case ClusterAlgorithm::kChineseWhispers: return "whispers";
    case ClusterAlgorithm::kAverageLinkage: return "average-linkage";
  }
  return "?";
}

std::unique_ptr<FaceClusterer> make_clusterer(const ClusterParams& params) {
  if (params.min_faces < 1 || params.iterations < 1) {
    throw Error(ErrorCode::kInvalidArgument, "face clustering: min_faces (" + std::to_string(params.min_faces) +
                                                 ") and iterations (" + std::to_string(params.iterations) + ") must be at least 1");
  }
  switch (params.algorithm) {
    case ClusterAlgorithm::kImmichRule: return std::make_unique<ImmichRuleClusterer>(params);
    case ClusterAlgorithm::kChineseWhispers: return std::make_unique<ChineseWhispersClusterer>(params);
    case ClusterAlgorithm::kAverageLinkage: return std::make_unique<AverageLinkageClusterer>(params);
  }
  throw Error(ErrorCode::kInvalidArgument, "face clustering: unknown algorithm");
}

float similarity_above_threshold(const ModelPack& pack, float fraction) {
  return pack.threshold + fraction * (1.f - pack.threshold);
}

ClusterParams cluster_params_for(const ModelPack& pack) {
  ClusterParams p;
  p.algorithm = ClusterAlgorithm::kChineseWhispers;
  p.link_similarity = similarity_above_threshold(pack, 0.1f);
  p.graph.min_similarity = similarity_above_threshold(pack, -0.5f);
  return p;
}

}  // namespace facesearch
