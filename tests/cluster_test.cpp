// People clustering (src/people/cluster.h): each clusterer on small synthetic sets it must get right
// (separate groups found, two faces of one photo never together, stray faces left alone), the
// neighbour graph against brute force, the quality measure on hand-made cases, and the default
// parameters on real photos of five people (docs/ACCURACY.md, "People clustering").
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "models/pack_registry.h"
#include "people/cluster.h"
#include "people/cluster_quality.h"
#include "store/catalog.h"
#include "test_support.h"

namespace facesearch {
namespace {

constexpr int kDim = 64;

// Faces built in memory: each a group's direction plus noise (or a random direction), one photo each
// unless the test says otherwise.
struct Faces {
  std::vector<std::int64_t> ids, images;
  std::vector<float> rows;
  std::vector<int> group;  // -1: a stray face
  std::mt19937 rng{7};
  std::vector<std::vector<float>> centres;

  std::vector<float> random_unit() {
    std::normal_distribution<float> noise(0.f, 1.f);
    std::vector<float> v(kDim);
    for (auto& x : v) x = noise(rng);
    l2_normalize(v);
    return v;
  }
  int new_group() {
    centres.push_back(random_unit());
    return static_cast<int>(centres.size()) - 1;
  }
  // A face of group g (-1: stray) at `spread` (the noise's length relative to the centre's), in `image`
  // (0: a photo of its own).
  void add(int g, float spread = 0.5f, std::int64_t image = 0) {
    std::vector<float> v = random_unit();
    if (g >= 0)
      for (int k = 0; k < kDim; ++k) v[k] = centres[g][k] + spread * v[k];
    l2_normalize(v);
    add_row(v, g, image);
  }
  void add_row(std::vector<float> v, int g, std::int64_t image) {
    ids.push_back(static_cast<std::int64_t>(ids.size()) + 100);
    images.push_back(image ? image : 1000 + static_cast<std::int64_t>(ids.size()));
    rows.insert(rows.end(), v.begin(), v.end());
    group.push_back(g);
  }
  FaceSet view() const { return {ids, images, rows, kDim}; }
};

ClusterParams params_for(ClusterAlgorithm algorithm) {
  ClusterParams p;
  p.algorithm = algorithm;
  p.link_similarity = 0.5f;
  p.min_faces = 3;
  p.graph.k = 32;
  p.graph.min_similarity = 0.2f;
  return p;
}

const ClusterAlgorithm kAlgorithms[] = {ClusterAlgorithm::kImmichRule, ClusterAlgorithm::kChineseWhispers,
                                        ClusterAlgorithm::kAverageLinkage};

Clustering run(const Faces& faces, const ClusterParams& p) {
  const NeighbourGraph graph = build_neighbour_graph(faces.view(), p.graph);
  return make_clusterer(p)->cluster(faces.view(), graph);
}

// No two faces of one photo share a cluster.
void expect_photos_split(const Faces& faces, const Clustering& c, const char* algorithm) {
  std::set<std::pair<std::int64_t, int>> seen;
  for (size_t i = 0; i < faces.ids.size(); ++i) {
    if (c.labels[i] < 0) continue;
    EXPECT_TRUE(seen.insert({faces.images[i], c.labels[i]}).second)
        << algorithm << ": two faces of photo " << faces.images[i] << " in cluster " << c.labels[i];
  }
}

TEST(ClusterTest, SeparateGroupsAreFoundByEveryAlgorithm) {
  Faces faces;
  for (int g = 0; g < 4; ++g) {
    const int group = faces.new_group();
    for (int f = 0; f < 6; ++f) faces.add(group);
  }
  for (const ClusterAlgorithm a : kAlgorithms) {
    for (const bool all_pairs : {true, false}) {
      if (!all_pairs && a != ClusterAlgorithm::kAverageLinkage) continue;
      ClusterParams p = params_for(a);
      p.average_over_all_pairs = all_pairs;
      const Clustering c = run(faces, p);
      EXPECT_EQ(c.clusters, 4) << cluster_algorithm_name(a);
      const ClusterQuality q = score_clustering(c.labels, faces.group);
      EXPECT_DOUBLE_EQ(q.bcubed_f, 1.0) << cluster_algorithm_name(a) << " all pairs " << all_pairs;
      EXPECT_DOUBLE_EQ(q.pairwise_f, 1.0) << cluster_algorithm_name(a);
      EXPECT_EQ(q.labelled_unassigned, 0u) << cluster_algorithm_name(a);
    }
  }
}

TEST(ClusterTest, TwoFacesOfOnePhotoAreNeverTogetherEvenWhenAlike) {
  Faces faces;
  const int a = faces.new_group(), b = faces.new_group();
  for (int f = 0; f < 6; ++f) faces.add(a), faces.add(b);
  // Photo 1: a face of group a and a near copy of it (a mirror, a reflection); photo 2: three faces of
  // group b, two of them almost the same; photo 3: one of each group.
  std::vector<float> copy = faces.centres[a];
  faces.add_row(copy, a, 1);
  copy[0] += 1e-3f;
  l2_normalize(copy);
  faces.add_row(copy, a, 1);
  faces.add(b, 0.3f, 2), faces.add(b, 0.05f, 2), faces.add(b, 0.05f, 2);
  faces.add(a, 0.5f, 3), faces.add(b, 0.5f, 3);
  for (const ClusterAlgorithm algorithm : kAlgorithms) {
    for (const bool all_pairs : {true, false}) {
      ClusterParams p = params_for(algorithm);
      p.average_over_all_pairs = all_pairs;
      const Clustering c = run(faces, p);
      expect_photos_split(faces, c, cluster_algorithm_name(algorithm));
      // The groups are still found and never mixed. Immich's rule and the whispers leave out only the
      // copies; average linkage can end with a group in two clusters, each grown around one face of
      // the photo, which then may not merge (docs/ACCURACY.md, "People clustering").
      const ClusterQuality q = score_clustering(c.labels, faces.group);
      EXPECT_GE(q.bcubed_precision, 0.99) << cluster_algorithm_name(algorithm);
      if (algorithm != ClusterAlgorithm::kAverageLinkage) EXPECT_GE(q.bcubed_recall, 0.6) << cluster_algorithm_name(algorithm);
      for (const int g : {a, b}) {
        std::map<int, int> sizes;
        for (size_t i = 0; i < faces.ids.size(); ++i)
          if (faces.group[i] == g && c.labels[i] >= 0) ++sizes[c.labels[i]];
        int largest = 0;
        for (const auto& [label, size] : sizes) largest = std::max(largest, size);
        EXPECT_GE(largest, 4) << cluster_algorithm_name(algorithm) << " group " << g;
      }
    }
  }
}

// A cannot-link pair (the people pass: a face the user said is not a person, against that person's
// faces) is kept apart like two faces of one photo, by every algorithm, while the rest of the group
// stays together.
TEST(ClusterTest, CannotLinkedFacesAreNeverTogether) {
  Faces faces;
  const int a = faces.new_group(), b = faces.new_group();
  for (int f = 0; f < 8; ++f) faces.add(a, 0.3f);
  for (int f = 0; f < 6; ++f) faces.add(b, 0.3f);
  // Face 0 of group a may not be with faces 1..3 of group a (as if 1..3 were a person it was rejected from).
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> cannot = {{0, 1}, {0, 2}, {0, 3}};
  for (const ClusterAlgorithm algorithm : kAlgorithms) {
    const ClusterParams p = params_for(algorithm);
    FaceSet set = faces.view();
    const Clustering plain = make_clusterer(p)->cluster(set, build_neighbour_graph(set, p.graph));
    ASSERT_GE(plain.labels[0], 0) << cluster_algorithm_name(algorithm);
    ASSERT_EQ(plain.labels[0], plain.labels[1]) << cluster_algorithm_name(algorithm) << ": without the pairs they are one group";
    set.cannot_link = cannot;
    const Clustering c = make_clusterer(p)->cluster(set, build_neighbour_graph(set, p.graph));
    for (const auto& [x, y] : cannot)
      EXPECT_TRUE(c.labels[x] < 0 || c.labels[x] != c.labels[y]) << cluster_algorithm_name(algorithm) << ": faces " << x << " and " << y;
    // The pairs may split group a (face 0 with some of 4..7, apart from 1..3), but no other face is left
    // out, 1..3 stay together, and group b is untouched and never mixed with a.
    for (size_t i = 1; i < 14; ++i) EXPECT_GE(c.labels[i], 0) << cluster_algorithm_name(algorithm) << " face " << i;
    for (size_t i = 2; i < 4; ++i) EXPECT_EQ(c.labels[i], c.labels[1]) << cluster_algorithm_name(algorithm) << " face " << i;
    for (size_t i = 9; i < 14; ++i) EXPECT_EQ(c.labels[i], c.labels[8]) << cluster_algorithm_name(algorithm) << " face " << i;
    for (size_t i = 0; i < 8; ++i) EXPECT_NE(c.labels[i], c.labels[8]) << cluster_algorithm_name(algorithm) << " face " << i;
  }
  FaceSet bad = faces.view();
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> outside = {{0, 99}};
  bad.cannot_link = outside;
  const ClusterParams p = params_for(ClusterAlgorithm::kChineseWhispers);
  EXPECT_THROW(make_clusterer(p)->cluster(bad, build_neighbour_graph(bad, p.graph)), Error);
}

TEST(ClusterTest, StrayFacesAreLeftUnassigned) {
  Faces faces;
  for (int g = 0; g < 2; ++g) {
    const int group = faces.new_group();
    for (int f = 0; f < 5; ++f) faces.add(group);
  }
  for (int s = 0; s < 8; ++s) faces.add(-1);
  for (const ClusterAlgorithm a : kAlgorithms) {
    const Clustering c = run(faces, params_for(a));
    EXPECT_EQ(c.clusters, 2) << cluster_algorithm_name(a);
    for (size_t i = 0; i < faces.ids.size(); ++i) {
      if (faces.group[i] < 0) EXPECT_EQ(c.labels[i], Clustering::kUnassigned) << cluster_algorithm_name(a) << " face " << i;
      if (faces.group[i] >= 0) EXPECT_NE(c.labels[i], Clustering::kUnassigned) << cluster_algorithm_name(a) << " face " << i;
    }
  }
}

TEST(ClusterTest, ImmichRuleNeedsACoreFace) {
  // Two alike faces: each has one neighbour, so with min_faces 3 (itself included) neither is a core
  // face and no person is founded; with min_faces 2 they are one.
  Faces faces;
  const int g = faces.new_group();
  faces.add(g, 0.2f), faces.add(g, 0.2f);
  ClusterParams p = params_for(ClusterAlgorithm::kImmichRule);
  EXPECT_EQ(run(faces, p).clusters, 0);
  p.min_faces = 2;
  const Clustering c = run(faces, p);
  EXPECT_EQ(c.clusters, 1);
  EXPECT_EQ(c.labels, (std::vector<int>{0, 0}));
  // A third face makes all three core faces.
  faces.add(g, 0.2f);
  p.min_faces = 3;
  EXPECT_EQ(run(faces, p).labels, (std::vector<int>{0, 0, 0}));
}

TEST(ClusterTest, WhispersDependOnTheSeedOnly) {
  Faces faces;
  for (int g = 0; g < 5; ++g) {
    const int group = faces.new_group();
    for (int f = 0; f < 8; ++f) faces.add(group, 0.8f);
  }
  const ClusterParams p = params_for(ClusterAlgorithm::kChineseWhispers);
  EXPECT_EQ(run(faces, p).labels, run(faces, p).labels);
}

TEST(ClusterTest, NeighbourGraphIsTheSymmetricKNearestAboveTheFloor) {
  Faces faces;
  for (int g = 0; g < 6; ++g) {
    const int group = faces.new_group();
    for (int f = 0; f < 10; ++f) faces.add(group, 0.9f);
  }
  const size_t n = faces.ids.size();
  GraphOptions options;
  options.k = 5;
  options.min_similarity = 0.1f;
  options.batch = 7;  // several batches
  const NeighbourGraph graph = build_neighbour_graph(faces.view(), options);
  ASSERT_EQ(graph.size(), n);
  // Brute force: each face's 5 best others at or above the floor, united in both directions.
  std::set<std::pair<size_t, size_t>> expected;
  auto sim = [&](size_t i, size_t j) {
    return similarity(std::span<const float>(faces.rows).subspan(i * kDim, kDim), std::span<const float>(faces.rows).subspan(j * kDim, kDim));
  };
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::pair<float, size_t>> others;
    for (size_t j = 0; j < n; ++j)
      if (j != i && sim(i, j) >= options.min_similarity) others.emplace_back(sim(i, j), j);
    std::sort(others.begin(), others.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (size_t r = 0; r < std::min<size_t>(5, others.size()); ++r) expected.insert({i, others[r].second}), expected.insert({others[r].second, i});
  }
  std::set<std::pair<size_t, size_t>> got;
  for (size_t i = 0; i < n; ++i) {
    float previous = 2.f;
    for (const auto& e : graph.neighbours(i)) {
      EXPECT_NE(e.to, i);
      EXPECT_LE(e.similarity, previous);  // best first
      EXPECT_NEAR(e.similarity, sim(i, e.to), 1e-5f);
      previous = e.similarity;
      got.insert({i, e.to});
    }
  }
  EXPECT_EQ(got, expected);
  testing::expect_error([&] { (void)make_clusterer(params_for(ClusterAlgorithm::kAverageLinkage))->cluster(faces.view(), NeighbourGraph{}); },
               ErrorCode::kInvalidArgument, {"neighbour graph"});
}

TEST(ClusterTest, AverageLinkageAveragesOverAllPairsOrOverEdges) {
  // Faces 0-1-2 in a chain: 0-1 and 1-2 at 0.9, no edge 0-2. Over all pairs, {0,1} and {2} average
  // 0.9 / 2 = 0.45 < 0.5 and stay apart; over the graph's edges they average 0.9 and merge.
  const std::int64_t ids[] = {1, 2, 3}, images[] = {1, 2, 3};
  const std::vector<float> rows(3 * kDim, 0.f);  // not read: the graph is given
  const FaceSet set{ids, images, rows, kDim};
  const ScoredPair pairs[] = {{0, 1, 0.9f}, {1, 2, 0.9f}};
  const NeighbourGraph graph = neighbour_graph_from_pairs(3, pairs);
  ClusterParams p = params_for(ClusterAlgorithm::kAverageLinkage);
  p.average_over_all_pairs = true;
  EXPECT_EQ(make_clusterer(p)->cluster(set, graph).clusters, 1);
  const auto all_pairs = make_clusterer(p)->cluster(set, graph).labels;
  EXPECT_EQ(std::count(all_pairs.begin(), all_pairs.end(), Clustering::kUnassigned), 1);
  p.average_over_all_pairs = false;
  EXPECT_EQ(make_clusterer(p)->cluster(set, graph).labels, (std::vector<int>{0, 0, 0}));
}

TEST(ClusterTest, QualityMeasureOnHandMadeCases) {
  // Identities A A A B B, one unlabelled face; clusters {0,1} {2,3,4} and the unlabelled face in the first.
  const std::vector<int> labels = {0, 0, 1, 1, 1, 0}, identities = {0, 0, 0, 1, 1, -1};
  const ClusterQuality q = score_clustering(labels, identities);
  EXPECT_EQ(q.labelled, 5u);
  // Precision: faces 0,1: 2/2; face 2: 1/3; faces 3,4: 2/3 -> (2 + 1/3 + 4/3) / 5.
  EXPECT_NEAR(q.bcubed_precision, (2 + 1.0 / 3 + 4.0 / 3) / 5, 1e-12);
  // Recall: faces 0,1: 2/3; face 2: 1/3; faces 3,4: 1 -> (4/3 + 1/3 + 2) / 5.
  EXPECT_NEAR(q.bcubed_recall, (4.0 / 3 + 1.0 / 3 + 2) / 5, 1e-12);
  // Pairs together: 1 + 3 = 4, of them true 1 + 1 = 2; same identity: 3 + 1 = 4.
  EXPECT_NEAR(q.pairwise_precision, 0.5, 1e-12);
  EXPECT_NEAR(q.pairwise_recall, 0.5, 1e-12);
  // Unassigned faces are clusters of their own.
  const ClusterQuality alone = score_clustering(std::vector<int>{-1, -1}, std::vector<int>{0, 0});
  EXPECT_DOUBLE_EQ(alone.bcubed_precision, 1.0);
  EXPECT_DOUBLE_EQ(alone.bcubed_recall, 0.5);
  EXPECT_EQ(alone.labelled_unassigned, 2u);
}

TEST(ClusterTest, ParametersFollowThePacksScale) {
  ModelPack mobilefacenet, dlib;
  mobilefacenet.threshold = 0.40f, dlib.threshold = 0.92f;
  const ClusterParams a = cluster_params_for(mobilefacenet), b = cluster_params_for(dlib);
  EXPECT_GT(a.link_similarity, a.graph.min_similarity);
  EXPECT_GT(b.link_similarity, b.graph.min_similarity);
  EXPECT_GT(b.graph.min_similarity, 0.8f);  // dlib-faceapi's strangers score ~0.82
  EXPECT_NEAR((a.link_similarity - 0.40f) / 0.60f, (b.link_similarity - 0.92f) / 0.08f, 1e-5f);
}

// Five people of testdata/faces/people (33 photos) through the default pack at the derived default
// parameters. Measured with bench/cluster_eval.cpp's rules (the largest face of each photo carries its
// folder's identity): see the floor below and docs/ACCURACY.md.
TEST(ClusterTest, DefaultParametersOnFivePeople) {
  testing::TempDir tmp;
  const auto people = testing::testdata_dir() / "faces" / "people";
  const std::filesystem::path roots[] = {people / "Angelina", people / "Jennifer", people / "obama", people / "sheldon",
                                         people / "leonard"};
  const auto db = tmp.path() / "library.db";
  testing::index_new_library(db, roots);
  const Catalog catalog = Catalog::inspect(db);
  std::vector<std::int64_t> ids, images;
  std::vector<float> rows;
  std::vector<int> identity;
  std::map<std::string, int> names;
  int dim = 0;
  for (const ImageRow& image : catalog.images()) {
    const auto faces = catalog.faces_of_image(image.id);
    size_t largest = 0;
    for (size_t f = 1; f < faces.size(); ++f)
      if (faces[f].face.box.area() > faces[largest].face.box.area()) largest = f;
    const int who = names.emplace(image.path.parent_path().filename().string(), static_cast<int>(names.size())).first->second;
    for (size_t f = 0; f < faces.size(); ++f) {
      dim = static_cast<int>(faces[f].embedding.size());
      ids.push_back(faces[f].id), images.push_back(image.id);
      rows.insert(rows.end(), faces[f].embedding.begin(), faces[f].embedding.end());
      identity.push_back(f == largest ? who : -1);
    }
  }
  ASSERT_EQ(names.size(), 5u);
  const FaceSet set{ids, images, rows, dim};
  const ClusterParams params = cluster_params_for(load_named_pack(kDefaultPackName));
  const Clustering c = make_clusterer(params)->cluster(set, build_neighbour_graph(set, params.graph));
  const ClusterQuality q = score_clustering(c.labels, identity);
  std::printf("%s at %.3f: %zu faces (%zu labelled), %d clusters, BCubed P %.4f R %.4f F %.4f, pairwise F %.4f\n",
              cluster_algorithm_name(params.algorithm), params.link_similarity, ids.size(), q.labelled, c.clusters,
              q.bcubed_precision, q.bcubed_recall, q.bcubed_f, q.pairwise_f);
  EXPECT_EQ(q.labelled, 33u);
  EXPECT_GE(q.bcubed_f, 0.97);  // measured 1.0000 (5 clusters, none mixed), 2026-12-01
  std::set<std::pair<std::int64_t, int>> seen;
  for (size_t i = 0; i < ids.size(); ++i)
    if (c.labels[i] >= 0) EXPECT_TRUE(seen.insert({images[i], c.labels[i]}).second);
}

}  // namespace
}  // namespace facesearch
