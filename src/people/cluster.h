// People (issue 15), first step: the library's faces grouped into people. The faces come as one batch
// of caller-owned rows; a neighbour graph is built once from the vector index (index/vector_index.h),
// and a clusterer turns faces + graph into one label per face. Three clusterers, compared in
// docs/ACCURACY.md ("People clustering"): Immich's incremental core-face rule, dlib's Chinese
// whispers, and average-linkage agglomerative clustering. Every one of them keeps the rule no peer
// keeps: two faces of one photo (or of a cannot-link pair, FaceSet) are never put in one cluster
// (enforced when a face joins a cluster or two clusters merge, not repaired afterwards).
//
// Thread-safety: build_neighbour_graph searches on all cores; a clusterer is const and stateless
// (each call has its own state), so one may be shared by threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "index/vector_index.h"
#include "models/model_pack.h"

namespace facesearch {

// The faces to group, caller-owned: face i has id face_ids[i], belongs to photo image_ids[i], and its
// L2-normalised embedding is embeddings[i * dim, (i + 1) * dim) (row-major, as VectorIndex takes them).
// Faces are referred to by their position i everywhere below, not by their id. cannot_link: pairs of
// faces (positions) that must not end in one cluster, as two faces of one photo never do (the people
// pass: a face the user said is not person P, against P's faces).
struct FaceSet {
  std::span<const std::int64_t> face_ids;
  std::span<const std::int64_t> image_ids;
  std::span<const float> embeddings;
  int dim = 0;
  std::span<const std::pair<std::uint32_t, std::uint32_t>> cannot_link = {};
  size_t size() const { return face_ids.size(); }
};

// How the neighbour graph is built: each face's k nearest other faces scoring at least min_similarity
// (the floor: no clusterer can link below it), from the index `index` picks (kAuto: exact below
// kApproxThreshold faces, HNSW from there), queried in batches of `batch` faces.
struct GraphOptions {
  size_t k = 32;
  float min_similarity = 0.f;
  IndexKind index = IndexKind::kAuto;
  size_t batch = 8192;
};

// An undirected similarity graph over the positions of a FaceSet, in compressed rows: the neighbours of
// face i are edges[offsets[i], offsets[i + 1]), best first, never i itself. Symmetric: the k-nearest
// lists are united (j in i's list puts i in j's), so a face may have more than k neighbours.
struct NeighbourGraph {
  struct Edge {
    std::uint32_t to = 0;
    float similarity = 0;
  };
  std::vector<size_t> offsets;  // size() + 1 entries
  std::vector<Edge> edges;
  std::string index_kind;  // VectorIndex::kind() of the index it was built with
  double index_build_ms = 0, search_ms = 0;  // build_neighbour_graph: adding the faces; searching and compressing

  size_t size() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::span<const Edge> neighbours(size_t face) const {
    return {edges.data() + offsets[face], offsets[face + 1] - offsets[face]};
  }
};

// Throws Error{kInvalidArgument} when the spans of `faces` disagree in size or there are 2^32 faces or more.
NeighbourGraph build_neighbour_graph(const FaceSet& faces, const GraphOptions& options);

// The same graph from explicit (a, b, similarity) triples (tests, and callers that have their own
// neighbour lists); self-edges are dropped and a repeated pair keeps its highest similarity.
struct ScoredPair {
  std::uint32_t a = 0, b = 0;
  float similarity = 0;
};
NeighbourGraph neighbour_graph_from_pairs(size_t faces, std::span<const ScoredPair> pairs);

enum class ClusterAlgorithm {
  // Immich's rule (server/src/services/person.service.ts, handleRecognizeFaces): in face order, a face
  // with at least min_faces faces within link_similarity (itself included, as Immich counts) is a core
  // face: it joins the person of its nearest assigned neighbour within link_similarity, else founds a
  // person; the other faces wait for a second pass, where they join the nearest assigned neighbour's
  // person or stay unassigned. Immich searches the whole database for that neighbour; here it is the
  // nearest assigned one in the graph.
  kImmichRule,
  // dlib's chinese_whispers (Biemann 2006; dlib/clustering/chinese_whispers.h): every face starts in its
  // own cluster; iterations x faces times a face drawn at random takes the label with the highest summed
  // edge weight (the similarity) over its neighbours at or above link_similarity, among the labels no
  // other face of its photo holds (else it keeps its own). Fixed seed: same faces, same result.
  kChineseWhispers,
  // Average linkage on the graph: repeatedly merges the two clusters of highest average similarity
  // until none is at or above link_similarity. average_over_all_pairs: the average over every pair of
  // faces of the two clusters, a pair without an edge counting 0 (classic average linkage, where the
  // graph's floor stands in for "far"); otherwise over the pairs the graph has an edge for. Two
  // clusters that hold faces of one photo never merge (a cannot-link: their link is dropped).
  kAverageLinkage,
};

const char* cluster_algorithm_name(ClusterAlgorithm algorithm);  // "immich", "whispers", "average-linkage"

struct ClusterParams {
  ClusterAlgorithm algorithm = ClusterAlgorithm::kChineseWhispers;
  // Faces (or clusters, by their average) link at or above this similarity (cosine; Immich's "max
  // distance" d is 1 - d here).
  float link_similarity = 0.5f;
  int min_faces = 3;                   // kImmichRule: a core face has this many within reach, itself included
  int iterations = 100;                // kChineseWhispers: picks per face (dlib's default)
  unsigned seed = 1;                   // kChineseWhispers
  bool average_over_all_pairs = true;  // kAverageLinkage, see above
  GraphOptions graph;                  // the neighbour graph the clusterer expects
};

// One label per face of the FaceSet: 0 .. clusters - 1, numbered in the order of their first face, or
// kUnassigned. A cluster has at least two faces (a face that links to nobody stays unassigned), and
// never two faces of one photo.
struct Clustering {
  static constexpr int kUnassigned = -1;
  std::vector<int> labels;
  int clusters = 0;
};

class FaceClusterer {
 public:
  virtual ~FaceClusterer() = default;
  virtual const ClusterParams& params() const = 0;
  // `graph` must have been built over `faces` (same size, else Error{kInvalidArgument}). The clusterers
  // read the graph and the faces' photos only: faces.embeddings may be empty here.
  virtual Clustering cluster(const FaceSet& faces, const NeighbourGraph& graph) const = 0;
};

// Throws Error{kInvalidArgument} for parameters out of range (min_faces < 1, iterations < 1).
std::unique_ptr<FaceClusterer> make_clusterer(const ClusterParams& params);

// The parameters for a model pack, derived from its match threshold t (ModelPack::threshold): the packs'
// similarity scales differ (mobilefacenet-faceapi: strangers ~0, threshold 0.40; dlib-faceapi:
// strangers ~0.82, threshold 0.92), so offsets are fractions of the headroom 1 - t. Chinese whispers
// linking at t + 0.1 (1 - t) (0.46 and 0.928) over the graph's 32 nearest above a floor at
// t - 0.5 (1 - t): the choice and its measurement are in docs/ACCURACY.md ("People clustering").
// A manifest has no clustering entry yet.
ClusterParams cluster_params_for(const ModelPack& pack);
// t + fraction * (1 - t): the scale-free way of naming a similarity on a pack's scale.
float similarity_above_threshold(const ModelPack& pack, float fraction);

}  // namespace facesearch
