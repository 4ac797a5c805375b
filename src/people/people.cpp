#include "people/people.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.h"

namespace facesearch {
namespace {

using Clock = std::chrono::steady_clock;

struct PairHash {
  size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
    return std::hash<std::int64_t>()(p.first * 1000003 + p.second);
  }
};

// What the pass needs to know about every face of the library, by face id.
class LibraryFaces {
 public:
  explicit LibraryFaces(const Catalog& catalog) {
    for (const auto& [face, image] : catalog.face_images()) {
      image_of_[face] = image;
      faces_of_image_[image].push_back(face);
    }
    for (const FacePersonRow& row : catalog.face_people()) person_of_[row.face_id] = row.person_id;
    for (const RejectionRow& row : catalog.rejections()) {
      rejected_.insert({row.face_id, row.person_id});
      rejections_.emplace_back(row.face_id, row.person_id);
    }
  }
  // Every (face, person) the user said is not that person.
  const std::vector<std::pair<std::int64_t, std::int64_t>>& rejections() const { return rejections_; }

  std::int64_t image_of(std::int64_t face) const {
    const auto it = image_of_.find(face);
    return it == image_of_.end() ? 0 : it->second;
  }
  std::int64_t person_of(std::int64_t face) const {
    const auto it = person_of_.find(face);
    return it == person_of_.end() ? 0 : it->second;
  }
  void set_person(std::int64_t face, std::int64_t person) { person_of_[face] = person; }
  bool rejected(std::int64_t face, std::int64_t person) const { return rejected_.count({face, person}) > 0; }
  // Whether another face of `face`'s photo is `person`'s.
  bool photo_has_person(std::int64_t face, std::int64_t person) const {
    const auto it = faces_of_image_.find(image_of(face));
    if (it == faces_of_image_.end()) return false;
    for (const std::int64_t other : it->second)
      if (other != face && person_of(other) == person) return true;
    return false;
  }
  // Whether `face` may be `person`'s: not rejected, and no other face of its photo is.
  bool may_join(std::int64_t face, std::int64_t person) const {
    return !rejected(face, person) && !photo_has_person(face, person);
  }

 private:
  std::unordered_map<std::int64_t, std::int64_t> image_of_, person_of_;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> faces_of_image_;
  std::unordered_set<std::pair<std::int64_t, std::int64_t>, PairHash> rejected_;
  std::vector<std::pair<std::int64_t, std::int64_t>> rejections_;
};

// Each of `ids` (ascending) with its neighbours in the library (best first, itself left out) scoring at
// least `floor`: the embeddings are read in chunks (one lookup each for a few faces, one pass over the
// table for many) and searched as they come, so no more than a chunk of them is held at a time.
// An approximate index walks its graph with `beam` (VectorIndex::search_beam), one query per thread.
std::vector<std::vector<Neighbor>> neighbours_of(const Catalog& catalog, const VectorIndex& index,
                                                 std::span<const std::int64_t> ids, size_t k, float floor, size_t beam) {
  const size_t d = static_cast<size_t>(index.dim());
  std::vector<std::vector<Neighbor>> out(ids.size());
  constexpr size_t kChunk = 4096;
  std::vector<float> chunk;
  std::vector<size_t> at;  // positions in `ids` of the chunk's rows
  chunk.reserve(kChunk * d);
  const bool walk = beam > 0 && index.kind() == "hnsw";
  auto search_chunk = [&] {
    return walk ? search_each(index, chunk, k + 1, floor, beam, std::max(1u, std::thread::hardware_concurrency()))
                : index.search(chunk, k + 1, floor);
  };
  auto search = [&] {
    if (at.empty()) return;
    auto found = search_chunk();
    for (size_t q = 0; q < at.size(); ++q) {
      std::erase_if(found[q], [&](const Neighbor& n) { return n.id == ids[at[q]]; });
      if (found[q].size() > k) found[q].resize(k);
      out[at[q]] = std::move(found[q]);
    }
    chunk.clear(), at.clear();
  };
  auto take = [&](size_t position, std::span<const float> v) {
    if (v.size() != d) return;  // a damaged row: the face has no neighbours
    chunk.insert(chunk.end(), v.begin(), v.end());
    at.push_back(position);
    if (at.size() == kChunk) search();
  };
  if (ids.size() <= 2000) {
    for (size_t i = 0; i < ids.size(); ++i)
      if (const auto face = catalog.face_by_id(ids[i])) take(i, face->embedding);
  } else {
    catalog.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
      const auto it = std::lower_bound(ids.begin(), ids.end(), id);
      if (it != ids.end() && *it == id) take(static_cast<size_t>(it - ids.begin()), v);
    });
  }
  search();
  return out;
}

void check_params(const PeopleParams& params) {
  if (params.min_faces < 2 || params.min_votes < 1)
    throw Error(ErrorCode::kInvalidArgument, "people: a person needs at least 2 faces (min faces " +
                                                 std::to_string(params.min_faces) + ") and a face at least one vote (" +
                                                 std::to_string(params.min_votes) + ")");
  if (!(params.cluster.link_similarity > -1.f && params.cluster.link_similarity <= 1.f))
    throw Error(ErrorCode::kInvalidArgument,
                "people: the link similarity must be in (-1, 1], not " + std::to_string(params.cluster.link_similarity));
}

// The graph's reach: its k and its floor. Chinese whispers and Immich's rule read no edge below the
// link (nor does the join vote), so for them the floor is the link, which also lets search_beam's walk
// stop early; average linkage averages over every edge above the graph's own floor.
size_t graph_k(const PeopleParams& params) { return params.cluster.graph.k; }
float graph_floor(const PeopleParams& params) {
  if (params.cluster.algorithm != ClusterAlgorithm::kAverageLinkage) return params.cluster.link_similarity;
  return std::min(params.cluster.graph.min_similarity, params.cluster.link_similarity);
}

// One pass over `pending` (ascending face ids) with their neighbour lists (searched before the write
// transaction this runs in; `faces` read inside it). `old_person` (face -> the unnamed person it had
// before a re-cluster; empty for an incremental pass) lets new groups take over the old people they overlap.
PeopleUpdate run_pass(Catalog& catalog, const VectorIndex& index, const PeopleParams& params,
                      std::vector<std::int64_t> pending, std::vector<std::vector<Neighbor>> neighbours,
                      const std::unordered_map<std::int64_t, std::int64_t>& old_person, LibraryFaces& faces) {
  PeopleUpdate update;
  const int dim = index.dim();
  const float link = params.cluster.link_similarity;
  const size_t k = graph_k(params);
  const float floor = graph_floor(params);
  {
    // Faces placed meanwhile (given back by replace_faces, or by the user) or gone (another run deleted
    // their photos while the searches ran) are not looked at.
    size_t kept = 0;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (faces.person_of(pending[i]) != 0 || faces.image_of(pending[i]) == 0) continue;
      if (kept != i) pending[kept] = pending[i], neighbours[kept] = std::move(neighbours[i]);  // never onto itself
      ++kept;
    }
    pending.resize(kept);
    neighbours.resize(kept);
  }
  update.faces_checked = pending.size();
  if (pending.empty()) return update;

  // 1. Join an existing person when the assigned neighbours within reach agree.
  std::vector<bool> joined(pending.size(), false);
  for (size_t i = 0; i < pending.size(); ++i) {
    const std::int64_t face = pending[i];
    std::map<std::int64_t, std::pair<double, int>> votes;  // person -> (summed similarity, neighbours)
    double total = 0;
    for (const Neighbor& n : neighbours[i]) {
      if (n.score < link) break;
      const std::int64_t person = faces.person_of(n.id);
      if (person == 0 || !faces.may_join(face, person)) continue;
      auto& v = votes[person];
      v.first += n.score, ++v.second;
      total += n.score;
    }
    std::int64_t best = 0;
    std::pair<double, int> best_vote{0, 0};
    for (const auto& [person, vote] : votes)
      if (vote.first > best_vote.first) best = person, best_vote = vote;
    if (best == 0 || best_vote.second < params.min_votes || best_vote.first <= 0.5 * total) continue;
    catalog.assign_face(face, best, false);
    faces.set_person(face, best);
    joined[i] = true;
    ++update.joined;
  }

  // 2. The faces left, with the unassigned faces near them (waiting from earlier runs), grouped.
  std::vector<std::int64_t> group_ids;
  std::unordered_map<std::int64_t, std::uint32_t> position;
  std::vector<std::vector<Neighbor>> group_neighbours;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (joined[i]) continue;
    position[pending[i]] = static_cast<std::uint32_t>(group_ids.size());
    group_ids.push_back(pending[i]);
    group_neighbours.push_back(std::move(neighbours[i]));
  }
  neighbours = {};
  std::vector<std::int64_t> waiting;
  for (const auto& list : group_neighbours)
    for (const Neighbor& n : list)
      if (n.score >= link && faces.person_of(n.id) == 0 && faces.image_of(n.id) != 0 && !position.count(n.id)) {
        position[n.id] = static_cast<std::uint32_t>(group_ids.size() + waiting.size());
        waiting.push_back(n.id);
      }
  if (!waiting.empty()) {
    // Their own neighbour lists, so the group sees the links among them too.
    std::vector<std::int64_t> sorted = waiting;
    std::sort(sorted.begin(), sorted.end());
    auto found = neighbours_of(catalog, index, sorted, k, floor, params.beam);
    for (const std::int64_t id : waiting) {
      const size_t i = static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), id) - sorted.begin());
      group_ids.push_back(id);
      group_neighbours.push_back(std::move(found[i]));
    }
  }
  const size_t n = group_ids.size();
  std::vector<ScoredPair> pairs;
  for (size_t i = 0; i < n; ++i)
    for (const Neighbor& nb : group_neighbours[i])
      if (const auto it = position.find(nb.id); it != position.end())
        pairs.push_back({static_cast<std::uint32_t>(i), it->second, nb.score});
  const NeighbourGraph graph = neighbour_graph_from_pairs(n, pairs);
  std::vector<std::int64_t> image_ids(n);
  for (size_t i = 0; i < n; ++i) image_ids[i] = faces.image_of(group_ids[i]);
  // A re-cluster's groups may take over old people (below): a face the user said is not P is kept out
  // of the group of P's old faces, instead of joining it and being left out of P afterwards.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> cannot_link;
  if (!old_person.empty() && !faces.rejections().empty()) {
    std::unordered_map<std::int64_t, std::vector<std::uint32_t>> old_faces_of;  // person -> positions
    for (size_t i = 0; i < n; ++i)
      if (const auto it = old_person.find(group_ids[i]); it != old_person.end())
        old_faces_of[it->second].push_back(static_cast<std::uint32_t>(i));
    for (const auto& [face, person] : faces.rejections()) {
      const auto at = position.find(face);
      const auto old = old_faces_of.find(person);
      if (at == position.end() || old == old_faces_of.end()) continue;
      for (const std::uint32_t other : old->second) cannot_link.emplace_back(at->second, other);
    }
  }
  FaceSet set{group_ids, image_ids, {}, dim};  // the clusterer reads the graph, not the embeddings
  set.cannot_link = cannot_link;
  const Clustering clustering = make_clusterer(params.cluster)->cluster(set, graph);

  std::vector<std::vector<size_t>> members(static_cast<size_t>(clustering.clusters));
  for (size_t i = 0; i < n; ++i)
    if (clustering.labels[i] != Clustering::kUnassigned) members[static_cast<size_t>(clustering.labels[i])].push_back(i);
  std::erase_if(members, [&](const std::vector<size_t>& m) { return m.size() < static_cast<size_t>(params.min_faces); });

  // A re-cluster's group takes over the old unnamed person it shares most faces with (each old person once).
  std::vector<std::int64_t> person_for(members.size(), 0);
  if (!old_person.empty()) {
    struct Overlap {
      size_t faces;
      size_t group;
      std::int64_t person;
    };
    std::vector<Overlap> overlaps;
    for (size_t g = 0; g < members.size(); ++g) {
      std::map<std::int64_t, size_t> count;
      for (const size_t i : members[g])
        if (const auto it = old_person.find(group_ids[i]); it != old_person.end()) ++count[it->second];
      for (const auto& [person, c] : count) overlaps.push_back({c, g, person});
    }
    std::sort(overlaps.begin(), overlaps.end(), [](const Overlap& a, const Overlap& b) {
      return a.faces > b.faces || (a.faces == b.faces && (a.group < b.group || (a.group == b.group && a.person < b.person)));
    });
    std::unordered_set<std::int64_t> taken;
    for (const Overlap& o : overlaps) {
      if (person_for[o.group] != 0 || taken.count(o.person) || !catalog.person(o.person)) continue;
      person_for[o.group] = o.person;
      taken.insert(o.person);
    }
  }
  for (size_t g = 0; g < members.size(); ++g) {
    std::int64_t person = person_for[g];
    size_t placed = 0;
    for (const size_t i : members[g]) {
      const std::int64_t face = group_ids[i];
      if (person != 0 && !faces.may_join(face, person)) continue;  // an old person's rejections and faces still hold
      if (person == 0) person = catalog.add_person();
      catalog.assign_face(face, person, false);
      faces.set_person(face, person);
      ++placed;
    }
    if (placed > 0) ++update.new_people, update.faces_in_new_people += placed;
  }
  for (const std::int64_t face : pending)
    if (faces.person_of(face) == 0) ++update.waiting;
  return update;
}

}  // namespace

PeopleParams people_params_for(const ModelPack& pack) {
  PeopleParams p;
  p.cluster = cluster_params_for(pack);
  return p;
}

PeopleUpdate assign_new_faces(Catalog& catalog, const VectorIndex& index, const PeopleParams& params) {
  check_params(params);
  const auto start = Clock::now();
  const Catalog::PeoplePassLock lock(catalog);
  std::vector<std::int64_t> pending = catalog.unseen_face_ids();
  const std::vector<std::int64_t> seen = pending;
  // The searches, the slow part, before the write transaction: other writers (a user's edits) wait only
  // for the decisions.
  auto neighbours = neighbours_of(catalog, index, pending, graph_k(params), graph_floor(params), params.beam);
  Catalog::Transaction t(catalog);
  LibraryFaces faces(catalog);
  PeopleUpdate update = run_pass(catalog, index, params, std::move(pending), std::move(neighbours), {}, faces);
  update.people_removed = static_cast<size_t>(catalog.remove_empty_people());
  catalog.mark_faces_seen(seen);
  t.commit();
  update.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return update;
}

PeopleUpdate recluster_people(Catalog& catalog, const VectorIndex& index, const PeopleParams& params) {
  check_params(params);
  const auto start = Clock::now();
  const Catalog::PeoplePassLock lock(catalog);
  std::vector<std::int64_t> all;
  for (const auto& [face, image] : catalog.face_images()) all.push_back(face);
  const std::vector<std::int64_t> seen = all;
  auto neighbours = neighbours_of(catalog, index, all, graph_k(params), graph_floor(params), params.beam);
  Catalog::Transaction t(catalog);
  std::unordered_map<std::int64_t, std::int64_t> old_person;
  for (const FacePersonRow& row : catalog.unassign_unnamed_auto()) old_person[row.face_id] = row.person_id;
  LibraryFaces faces(catalog);
  PeopleUpdate update = run_pass(catalog, index, params, std::move(all), std::move(neighbours), old_person, faces);
  update.people_removed = static_cast<size_t>(catalog.remove_empty_people());
  catalog.mark_faces_seen(seen);
  t.commit();
  update.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return update;
}

}  // namespace facesearch
