#include "search/search_report.h"

#include <algorithm>
#include <map>
#include <utility>

namespace facesearch {

float search_threshold(const SearchOptions& options, const ModelPack& pack) {
  return options.threshold.value_or(pack.threshold);
}

void rank_matches(std::vector<Match>& matches, const SearchOptions& options) {
  if (!options.all_faces) {
    std::map<std::pair<std::filesystem::path, int>, size_t> best;
    std::vector<Match> kept;
    for (auto& m : matches) {
      const auto [it, added] = best.try_emplace({m.path, m.query_face}, kept.size());
      if (added) {
        kept.push_back(std::move(m));
      } else if (m.similarity > kept[it->second].similarity) {
        kept[it->second] = std::move(m);
      }
    }
    matches = std::move(kept);
  }
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.path != b.path ? a.path < b.path : a.face_index < b.face_index;
  });
  if (options.top_k > 0 && matches.size() > options.top_k) matches.resize(options.top_k);
}

}  // namespace facesearch
