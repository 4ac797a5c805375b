// How close a clustering is to known identities: BCubed (Bagga & Baldwin 1998; Amigo et al. 2009) and
// pairwise precision, recall and F. For the tests and bench/cluster_eval.cpp, which measure the
// clusterers on labelled photos (docs/ACCURACY.md, "People clustering").
#pragma once

#include <cstddef>
#include <span>

namespace facesearch {

struct ClusterQuality {
  size_t labelled = 0;             // faces with an identity (the others are not scored)
  size_t labelled_unassigned = 0;  // of them, left unassigned
  // BCubed, averaged over labelled faces: precision = the share of the face's cluster that is its
  // identity, recall = the share of its identity that is in its cluster (an unassigned face is a
  // cluster of its own). Faces without an identity count in neither share.
  double bcubed_precision = 0, bcubed_recall = 0, bcubed_f = 0;
  // Over pairs of labelled faces: same cluster and same identity / same cluster, / same identity.
  double pairwise_precision = 0, pairwise_recall = 0, pairwise_f = 0;
};

// labels[i]: face i's cluster (Clustering::labels, -1 unassigned); identities[i]: its identity (>= 0)
// or -1 when unknown. Both the same size.
ClusterQuality score_clustering(std::span<const int> labels, std::span<const int> identities);

}  // namespace facesearch
