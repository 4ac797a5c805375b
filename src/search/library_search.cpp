#include "search/library_search.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <system_error>

#include "core/error.h"

namespace facesearch {

namespace {

// Every neighbour of `query` at or above `threshold`, best first: ask for more until the list ends
// below it (grouping by image and top-k happen afterwards, so they must not cut the candidates).
std::vector<Neighbor> neighbours_over(const VectorIndex& index, std::span<const float> query, float threshold,
                                      size_t top_k) {
  // The exact index's cost is the scan whatever k; the graph walk's grows with its beam, so it walks a
  // beam of k and asks again (4k) only when the list is full. A beam of 64 (which the index widens where
  // it is still full of scores near the threshold: look-alikes) finds 0.9997 of the exact search's
  // matches over the threshold on the server bench's 100k faces, as the default 128 did, in ~40% of
  // its time; 32 only 0.996 (docs/PERFORMANCE.md, tests/hnsw_fast_path_test.cpp).
  const size_t first = index.kind().ends_with("hnsw") ? 64 : 1000;  // ours, or pgvector's (a PostgreSQL library)
  size_t k = std::min(index.size(), std::max<size_t>(top_k * 8, first));
  std::vector<Neighbor> found;
  while (true) {
    found = index.search_beam(query, k, threshold, k);
    if (found.size() < k || k >= index.size()) break;
    k = std::min(index.size(), k * 4);
  }
  std::sort(found.begin(), found.end(), [](const Neighbor& a, const Neighbor& b) { return a.score > b.score; });
  return found;
}

SearchReport run_queries(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                         std::vector<QueryFace> query_faces, const std::vector<std::int64_t>& exclude_images,
                         const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SearchReport report;
  report.query_faces = std::move(query_faces);
  report.model = pack.name;
  report.metric = metric_name(pack.metric);
  report.threshold = search_threshold(options, pack);
  const QueryExpansion* expansion = active_expansion(options, pack);
  const auto excluded = [&](std::int64_t image_id) {
    return std::find(exclude_images.begin(), exclude_images.end(), image_id) != exclude_images.end();
  };

  std::map<std::int64_t, std::optional<ImageRow>> images;
  const auto image_of = [&](std::int64_t id) -> const std::optional<ImageRow>& {
    auto& image = images[id];
    if (!image) image = catalog.image_by_id(id);
    return image;
  };
  for (auto& q : report.query_faces) {
    std::vector<Neighbor> found;
    q.threshold = query_threshold(report.threshold, pack, q.photos, false);
    if (expansion) {
      // The candidates need one lookup of just the best few faces at the expansion's confidence (whatever
      // the threshold), with room for the query photo's own faces and faces deleted since the index was
      // built, which are skipped: not every neighbour over the threshold, which the second look fetches.
      // These are the few most similar faces, which a graph walk finds with a beam just as wide, and the
      // exact index from its compact rows without a second full scan (search_confident).
      const size_t k = std::min(index.size(), static_cast<size_t>(expansion->top) + 32);
      std::vector<Neighbor> best = k ? index.search_confident(q.embedding, k, expansion->at_least) : std::vector<Neighbor>{};
      std::sort(best.begin(), best.end(), [](const Neighbor& a, const Neighbor& b) { return a.score > b.score; });
      std::vector<FaceRow> faces;
      std::vector<ExpansionCandidate> candidates;
      for (const auto& n : best) {
        if (candidates.size() >= static_cast<size_t>(expansion->top) || n.score < expansion->at_least) break;
        auto face = catalog.face_by_id(n.id);
        if (!face || excluded(face->image_id) || !image_of(face->image_id)) continue;
        faces.push_back(std::move(*face));
        candidates.push_back({n.score, {}});
      }
      for (size_t i = 0; i < faces.size(); ++i) candidates[i].embedding = faces[i].embedding;
      std::vector<size_t> used;
      const std::vector<float> expanded = expand_query(q.embedding, candidates, *expansion, used);
      for (const size_t i : used)
        report.expanded_with.push_back({q.index, image_of(faces[i].image_id)->path, faces[i].face_index,
                                        candidates[i].similarity, faces[i].image_id, faces[i].id});
      q.expanded = !used.empty();
      q.threshold = query_threshold(report.threshold, pack, q.photos, q.expanded);
      found = neighbours_over(index, used.empty() ? std::span<const float>(q.embedding) : std::span<const float>(expanded),
                              q.threshold, options.top_k);
    } else {
      found = neighbours_over(index, q.embedding, q.threshold, options.top_k);
    }
    for (const auto& n : found) {
      const auto face = catalog.face_by_id(n.id);
      if (!face) continue;  // deleted since the index was built
      if (excluded(face->image_id)) continue;
      const auto& image = image_of(face->image_id);
      if (!image) continue;
      report.matches.push_back(
          {image->path, face->face_index, face->face.box, n.score, face->face.score, q.index, image->id, face->id});
    }
  }
  rank_matches(report.matches, options);
  const Catalog::Counts counts = catalog.counts();
  report.stats.images = static_cast<size_t>(counts.images);
  report.stats.images_analysed = static_cast<size_t>(counts.images_ok);
  report.stats.faces = index.size();
  report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace

SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          std::span<const std::filesystem::path> queries, const SearchOptions& options) {
  std::vector<Face> every_face;
  std::vector<QueryFace> faces = query_faces_of(pipeline, queries, options, every_face);
  std::vector<std::int64_t> exclude;
  if (!options.include_query_file) {
    for (const auto& query : queries) {
      std::error_code ec;
      if (const auto row = catalog.image_by_path(std::filesystem::weakly_canonical(std::filesystem::absolute(query), ec)))
        exclude.push_back(row->id);
    }
    // Copies of a query photo that the library holds elsewhere are the query photo too.
    for (const std::string& hash : query_file_hashes(queries))
      for (const std::int64_t id : catalog.images_with_hash(hash)) exclude.push_back(id);
  }
  auto report = run_queries(catalog, index, pipeline.pack(), std::move(faces), exclude, options);
  report.query = queries[0];
  report.query_photo_faces = std::move(every_face);
  if (queries.size() > 1) {
    report.queries.assign(queries.begin(), queries.end());
    report.combined = "mean";
  }
  return report;
}

SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const SearchOptions& options) {
  return search_index(catalog, index, pipeline, std::span<const std::filesystem::path>(&query, 1), options);
}

SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::span<const std::int64_t> face_ids, const SearchOptions& options) {
  if (face_ids.empty()) throw Error(ErrorCode::kInvalidArgument, "a search needs a query face");
  std::vector<QueryFace> faces;
  std::vector<std::int64_t> exclude;
  std::vector<std::filesystem::path> paths;
  for (const std::int64_t face_id : face_ids) {
    const auto face = catalog.face_by_id(face_id);
    if (!face)
      throw Error(ErrorCode::kNotFound,
                  "face " + std::to_string(face_id) + " is not in library " + catalog.path().string(),
                  Hint{Remedy::kListFaceIds});
    QueryFace q;
    q.index = face->face_index;
    q.face = face->face;
    q.embedding = face->embedding;
    faces.push_back(std::move(q));
    exclude.push_back(face->image_id);
    const auto image = catalog.image_by_id(face->image_id);
    paths.push_back(image ? image->path : std::filesystem::path());
  }
  if (faces.size() > 1) faces = {combine_query_faces(faces)};
  auto report = run_queries(catalog, index, pack, std::move(faces), exclude, options);
  report.query = paths[0];
  if (face_ids.size() > 1) {
    report.queries = std::move(paths);
    report.combined = "mean";
  }
  return report;
}

SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::int64_t face_id, const SearchOptions& options) {
  return search_index_by_face(catalog, index, pack, std::span<const std::int64_t>(&face_id, 1), options);
}

}  // namespace facesearch
