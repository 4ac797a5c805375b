#include "search/library_search.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <system_error>

#include "core/error.h"

namespace facesearch {

namespace {

SearchReport run_queries(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                         std::vector<QueryFace> query_faces, std::optional<std::int64_t> exclude_image,
                         const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SearchReport report;
  report.query_faces = std::move(query_faces);
  report.model = pack.name;
  report.metric = metric_name(pack.metric);
  report.threshold = search_threshold(options, pack);

  std::map<std::int64_t, std::optional<ImageRow>> images;
  for (const auto& q : report.query_faces) {
    // Every neighbour over the threshold: ask for more until the list ends below it (grouping by image
    // and top-k happen afterwards, so they must not cut the candidates).
    size_t k = std::min(index.size(), std::max<size_t>(options.top_k * 8, 1000));
    std::vector<Neighbor> found;
    while (true) {
      found = std::move(index.search(q.embedding, k, report.threshold).front());
      if (found.size() < k || k >= index.size()) break;
      k = std::min(index.size(), k * 4);
    }
    for (const auto& n : found) {
      const auto face = catalog.face_by_id(n.id);
      if (!face) continue;  // deleted since the index was built
      if (exclude_image && face->image_id == *exclude_image) continue;
      auto& image = images[face->image_id];
      if (!image) image = catalog.image_by_id(face->image_id);
      if (!image) continue;
      report.matches.push_back({image->path, face->face_index, face->face.box, n.score, face->face.score, q.index});
    }
  }
  rank_matches(report.matches, options);
  const auto st = catalog.status();
  report.stats.images = static_cast<size_t>(st.images);
  report.stats.images_analysed = static_cast<size_t>(st.images_ok);
  report.stats.faces = index.size();
  report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace

SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const SearchOptions& options) {
  auto faces = embed_query(pipeline, query, options.query_face, options.analysis);
  std::optional<std::int64_t> exclude;
  if (!options.include_query_file) {
    std::error_code ec;
    if (const auto row = catalog.image_by_path(std::filesystem::weakly_canonical(std::filesystem::absolute(query), ec)))
      exclude = row->id;
  }
  auto report = run_queries(catalog, index, pipeline.pack(), std::move(faces), exclude, options);
  report.query = query;
  return report;
}

SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::int64_t face_id, const SearchOptions& options) {
  const auto face = catalog.face_by_id(face_id);
  if (!face)
    throw Error(ErrorCode::kNotFound, "face " + std::to_string(face_id) + " is not in library " +
                                          catalog.path().string() + "; `facesearch faces PHOTO` lists face ids");
  const auto image = catalog.image_by_id(face->image_id);
  QueryFace q;
  q.index = face->face_index;
  q.face = face->face;
  q.embedding = face->embedding;
  auto report = run_queries(catalog, index, pack, {q}, face->image_id, options);
  if (image) report.query = image->path;
  return report;
}

}  // namespace facesearch
