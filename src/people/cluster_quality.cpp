#include "people/cluster_quality.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "core/error.h"

namespace facesearch {

ClusterQuality score_clustering(std::span<const int> labels, std::span<const int> identities) {
  if (labels.size() != identities.size()) {
    throw Error(ErrorCode::kInvalidArgument, "score_clustering: " + std::to_string(labels.size()) + " labels for " +
                                                 std::to_string(identities.size()) + " identities");
  }
  // An unassigned face is a cluster of its own: key it by -1 - its position.
  auto cluster_key = [&](size_t i) -> std::int64_t { return labels[i] >= 0 ? labels[i] : -1 - static_cast<std::int64_t>(i); };
  std::map<std::int64_t, size_t> cluster_size;
  std::map<int, size_t> identity_size;
  std::map<std::pair<std::int64_t, int>, size_t> both;
  ClusterQuality q;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (identities[i] < 0) continue;
    ++q.labelled;
    q.labelled_unassigned += labels[i] < 0;
    ++cluster_size[cluster_key(i)], ++identity_size[identities[i]], ++both[{cluster_key(i), identities[i]}];
  }
  if (q.labelled == 0) return q;
  double p = 0, r = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (identities[i] < 0) continue;
    const double same = static_cast<double>(both[{cluster_key(i), identities[i]}]);
    p += same / static_cast<double>(cluster_size[cluster_key(i)]);
    r += same / static_cast<double>(identity_size[identities[i]]);
  }
  auto f = [](double a, double b) { return a + b > 0 ? 2 * a * b / (a + b) : 0.0; };
  q.bcubed_precision = p / static_cast<double>(q.labelled);
  q.bcubed_recall = r / static_cast<double>(q.labelled);
  q.bcubed_f = f(q.bcubed_precision, q.bcubed_recall);
  auto pairs = [](size_t n) { return static_cast<double>(n) * (static_cast<double>(n) - 1) / 2; };
  double together = 0, same_identity = 0, true_pairs = 0;
  for (const auto& [k, n] : cluster_size) together += pairs(n);
  for (const auto& [k, n] : identity_size) same_identity += pairs(n);
  for (const auto& [k, n] : both) true_pairs += pairs(n);
  q.pairwise_precision = together > 0 ? true_pairs / together : 1.0;
  q.pairwise_recall = same_identity > 0 ? true_pairs / same_identity : 1.0;
  q.pairwise_f = f(q.pairwise_precision, q.pairwise_recall);
  return q;
}

}  // namespace facesearch
