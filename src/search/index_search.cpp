#include "search/index_search.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <cstring>
#include <fstream>
#include <system_error>

#include "core/error.h"

namespace facesearch {

namespace {

constexpr char kApproxMagic[16] = {'F', 'A', 'C', 'E', 'S', 'E', 'A', 'R', 'C', 'H', '-', 'H', 'N', 'S', 'W', '\n'};
constexpr std::uint32_t kApproxFormatVersion = 1;

std::unique_ptr<VectorIndex> build_in_memory(const Catalog& catalog, IndexKind kind, int dim) {
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  catalog.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    ids.push_back(id);
    vectors.insert(vectors.end(), v.begin(), v.end());
  });
  auto index = kind == IndexKind::kApprox ? make_approx_index(dim) : make_exact_index(dim);
  if (!ids.empty()) index->add(ids, vectors);
  return index;
}

}  // namespace

std::filesystem::path approx_index_path(const Catalog& catalog) { return catalog.path().string() + ".hnsw"; }

namespace {

// Opens the saved graph and reads its header; true (stream at the payload) when it matches the catalog.
bool open_current_approx_file(const Catalog& catalog, int dim, std::ifstream& in) {
  in.open(approx_index_path(catalog), std::ios::binary);
  if (!in) return false;
  char magic[sizeof kApproxMagic];
  std::uint32_t version = 0, fp_len = 0;
  std::int64_t generation = -1;
  std::int32_t file_dim = 0;
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, kApproxMagic, sizeof magic) != 0) return false;
  if (!in.read(reinterpret_cast<char*>(&version), sizeof version) || version != kApproxFormatVersion) return false;
  if (!in.read(reinterpret_cast<char*>(&fp_len), sizeof fp_len) || fp_len > 4096) return false;
  std::string fingerprint(fp_len, '\0');
  in.read(fingerprint.data(), fp_len);
  in.read(reinterpret_cast<char*>(&generation), sizeof generation);
  in.read(reinterpret_cast<char*>(&file_dim), sizeof file_dim);
  return in && fingerprint == catalog.model_fingerprint() && generation == catalog.generation() && file_dim == dim;
}

}  // namespace

std::unique_ptr<VectorIndex> load_current_approx_index(const Catalog& catalog, int dim) {
  std::ifstream in;
  if (!open_current_approx_file(catalog, dim, in)) return nullptr;
  try {
    return load_approx_index(in, dim);
  } catch (const Error&) {
    return nullptr;  // damaged: a cache only, the caller falls back to the exact index
  }
}

bool update_approx_index_file(const Catalog& catalog, int dim, size_t min_faces) {
  const auto path = approx_index_path(catalog);
  std::error_code ec;
  const auto faces = static_cast<size_t>(catalog.status().faces);
  if (faces < min_faces || faces == 0) {
    std::filesystem::remove(path, ec);
    return false;
  }
  // Already current and whole (a damaged file is rebuilt; reading it costs about a second per million faces).
  if (load_current_approx_index(catalog, dim)) return true;
  const std::int64_t generation = catalog.generation();
  const auto index = build_in_memory(catalog, IndexKind::kApprox, dim);
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kIo, "cannot write " + tmp.string());
    const std::string fingerprint = catalog.model_fingerprint();
    const std::uint32_t version = kApproxFormatVersion, fp_len = static_cast<std::uint32_t>(fingerprint.size());
    const std::int32_t file_dim = dim;
    out.write(kApproxMagic, sizeof kApproxMagic);
    out.write(reinterpret_cast<const char*>(&version), sizeof version);
    out.write(reinterpret_cast<const char*>(&fp_len), sizeof fp_len);
    out.write(fingerprint.data(), fp_len);
    out.write(reinterpret_cast<const char*>(&generation), sizeof generation);
    out.write(reinterpret_cast<const char*>(&file_dim), sizeof file_dim);
    save_approx_index(*index, out);
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(tmp, ec);
      throw Error(ErrorCode::kIo, "cannot write " + tmp.string() + " (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot save " + path.string() + ": " + ec.message());
  return true;
}

std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim) {
  if (kind != IndexKind::kExact)
    if (auto saved = load_current_approx_index(catalog, dim)) return saved;
  // Without a saved graph, building one costs minutes at a million faces: kAuto stays exact
  // (about 20 ms per query at 1M faces, docs/PERFORMANCE.md).
  return build_in_memory(catalog, kind == IndexKind::kApprox ? IndexKind::kApprox : IndexKind::kExact, dim);
}

void keep_best_match_per_image(std::vector<Match>& matches) {
  std::map<std::pair<std::filesystem::path, int>, size_t> best;
  std::vector<Match> kept;
  for (const auto& m : matches) {
    const auto key = std::make_pair(m.path, m.query_face);
    const auto it = best.find(key);
    if (it == best.end()) {
      best[key] = kept.size();
      kept.push_back(m);
    } else if (m.similarity > kept[it->second].similarity) {
      kept[it->second] = m;
    }
  }
  matches = std::move(kept);
}

namespace {

SearchReport run_queries(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                         std::vector<QueryFace> query_faces, std::optional<std::int64_t> exclude_image,
                         const IndexSearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SearchReport report;
  report.query_faces = std::move(query_faces);
  report.model = pack.name;
  report.metric = metric_name(pack.metric);
  report.threshold = options.threshold >= 0 ? options.threshold : pack.threshold;

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
  if (!options.all_faces) keep_best_match_per_image(report.matches);
  std::sort(report.matches.begin(), report.matches.end(), [](const Match& a, const Match& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.path != b.path ? a.path < b.path : a.face_index < b.face_index;
  });
  if (options.top_k > 0 && report.matches.size() > options.top_k) report.matches.resize(options.top_k);
  const auto st = catalog.status();
  report.stats.images = static_cast<size_t>(st.images);
  report.stats.images_analysed = static_cast<size_t>(st.images_ok);
  report.stats.faces = index.size();
  report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace

SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const IndexSearchOptions& options) {
  SearchOptions so;
  so.min_face_px = options.min_face_px;
  auto faces = embed_query(pipeline, query, options.query_face, so);
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
                                  std::int64_t face_id, const IndexSearchOptions& options) {
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
