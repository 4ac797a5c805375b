#include "search/search_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "core/error.h"
#include "core/file_io.h"

namespace facesearch {

float search_threshold(const SearchOptions& options, const ModelPack& pack) {
  return options.threshold.value_or(pack.threshold);
}

float query_threshold(float base, const ModelPack& pack, int photos, bool expanded) {
  if (base <= 0) return base;
  float t = base;
  if (photos > 1) {
    const double s = pack.several_photos.person_share;
    t = static_cast<float>(std::min(1.0, base / std::sqrt(s + (1 - s) / photos)));
  }
  if (expanded && pack.query_expansion) t = std::max(t, std::min(1.f, base + pack.query_expansion->raise));
  return t;
}

float default_threshold_of_query(const SearchReport& report, const ModelPack& pack) {
  if (report.query_faces.empty()) return pack.threshold;
  const QueryFace& q = report.query_faces.front();
  return query_threshold(pack.threshold, pack, q.photos, q.expanded);
}

float applied_threshold_of_query(const SearchReport& report) {
  return report.query_faces.empty() ? report.threshold : report.query_faces.front().threshold;
}

const QueryExpansion* active_expansion(const SearchOptions& options, const ModelPack& pack) {
  return options.expand && pack.query_expansion ? &*pack.query_expansion : nullptr;
}

namespace {
void normalise(std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  if (n <= 0) return;
  const double inv = 1.0 / std::sqrt(n);
  for (float& x : v) x = static_cast<float>(x * inv);
}
}  // namespace

std::vector<float> expand_query(std::span<const float> query, std::span<const ExpansionCandidate> best_first,
                                const QueryExpansion& rule, std::vector<size_t>& used) {
  std::vector<float> out(query.begin(), query.end());
  used.clear();
  for (size_t i = 0; i < best_first.size() && used.size() < static_cast<size_t>(rule.top); ++i) {
    const ExpansionCandidate& c = best_first[i];
    if (c.similarity < rule.at_least) break;
    if (c.embedding.size() != out.size()) continue;
    const float w = c.similarity * c.similarity * c.similarity;
    for (size_t k = 0; k < out.size(); ++k) out[k] += w * c.embedding[k];
    used.push_back(i);
  }
  normalise(out);
  return out;
}

QueryFace combine_query_faces(std::span<const QueryFace> faces) {
  QueryFace out = faces.front();
  for (size_t i = 1; i < faces.size(); ++i)
    for (size_t k = 0; k < out.embedding.size() && k < faces[i].embedding.size(); ++k) out.embedding[k] += faces[i].embedding[k];
  normalise(out.embedding);
  out.photos = 0;
  for (const QueryFace& f : faces) out.photos += std::max(1, f.photos);
  return out;
}

std::vector<std::string> query_file_hashes(std::span<const std::filesystem::path> queries) {
  std::vector<std::string> hashes;
  for (const auto& query : queries) {
    try {
      hashes.push_back(content_hash(read_file_bytes(query)));
    } catch (const Error&) {
      // It was read for its faces a moment ago; if it cannot be read now, there is no copy to leave out.
    }
  }
  return hashes;
}

std::vector<QueryFace> query_faces_of(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                                      const SearchOptions& options, std::vector<Face>& every_face) {
  if (queries.empty()) throw Error(ErrorCode::kInvalidArgument, "a search needs a query photo");
  if (queries.size() == 1) return embed_query(pipeline, queries[0], options.query_face, options.analysis, &every_face);
  return {combine_query_faces(embed_query_photos(pipeline, queries, options.query_face, options.analysis))};
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
