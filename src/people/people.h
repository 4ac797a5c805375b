// People in a library (issue 15): the faces of the catalog grouped into people that the catalog keeps
// (store/catalog.h, "People"), kept current by every index run and regrouped on request, under rules
// no clustering may break:
// - two faces of one photo are never one person;
// - a face is never given to a person the user said it is not (rejections);
// - a face the user placed (by_user), and every face of a named person, is never moved by clustering,
//   and named people are never merged by it (a merge is the user's act, Library::merge_people);
// - a re-cluster gives each new group the old unnamed person it overlaps most, so ids, hidden flags
//   and cover faces hold; named people keep their faces and take new ones by the same vote as index.
//
// One pass does both jobs. The faces it looks at (pending) first join an existing person when their
// nearest assigned neighbours agree (the vote below); the rest, with the unassigned faces near them,
// are grouped by the pack's clusterer (people/cluster.h) and groups of min_faces or more become people.
// Incremental (after an index run): pending = the faces not seen by a pass before. Re-cluster: every
// face clustering placed in an unnamed person is unassigned first, and pending = every face not placed.
//
// Thread-safety: one pass per catalog at a time. A pass searches the vector index first, outside any
// transaction (minutes for a million faces), then makes its decisions in one write transaction of its
// own, reading the people as they are then: call it outside a transaction. Other writers (a user's
// edits through the server) wait only for that second part.
#pragma once

#include <cstddef>
#include <cstdint>

#include "index/vector_index.h"
#include "models/model_pack.h"
#include "people/cluster.h"
#include "store/catalog.h"

namespace facesearch {

struct PeopleParams {
  ClusterParams cluster;  // the clusterer, its link similarity and its neighbour graph (k, floor)
  // A group needs this many faces to become a new person (Immich's "min faces"); smaller groups wait,
  // unassigned, until later photos bring them there.
  int min_faces = 3;
  // A face joins an existing person when at least this many of its neighbours within the link
  // similarity are that person's, and they outweigh (summed similarity) every other person's together.
  int min_votes = 2;
  // Over an approximate index, each face's neighbours come from a graph walk with this candidate list
  // (VectorIndex::search_beam, which widens it where it ends near the link); 0: the index's default,
  // efSearch 128. The default by measurement (docs/PERFORMANCE.md, "People"): at 100k faces a beam of
  // 48 halves the pass's time but leaves 58 faces of 101,000 out of their person; 128 leaves none.
  size_t beam = 0;
};

// The pack's parameters: cluster_params_for(pack) (Chinese whispers at t + 0.1 (1 - t)), min faces 3,
// two agreeing neighbours. docs/ACCURACY.md ("People clustering") has the measurement.
PeopleParams people_params_for(const ModelPack& pack);

// The incremental pass: the faces no pass has looked at (Catalog::unseen_face_ids). `index` holds every
// face of the catalog (the library's vector index after the run). Throws Error{kInvalidArgument} for
// parameters out of range.
PeopleUpdate assign_new_faces(Catalog& catalog, const VectorIndex& index, const PeopleParams& params);

// The full pass (`people recluster`): see above.
PeopleUpdate recluster_people(Catalog& catalog, const VectorIndex& index, const PeopleParams& params);

}  // namespace facesearch
