// Search against an indexed library: the query's faces are embedded (or taken from the catalog by
// face id) and looked up in a vector index built from the catalog's embeddings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "index/vector_index.h"
#include "search/folder_search.h"
#include "store/catalog.h"

namespace facesearch {

struct IndexSearchOptions {
  float threshold = -1;  // < 0: the pack's default
  size_t top_k = 0;      // 0: every match over the threshold
  bool all_faces = false;  // false: at most one match (the best face) per image and query
  IndexKind index = IndexKind::kAuto;
  QueryFaceSelection query_face;
  float min_face_px = 0;  // for the query photo
  float smallest_face_px = 0;  // for the query photo (0: the pipeline's default)
  int detector_input_px = 0;   // for the query photo: DetectOptions::input_px
  bool include_query_file = false;
};

// The vector index over every face of the catalog, for one process (reuse it for several queries).
// kExact: the exact index. kAuto: the saved approximate index when the library has one that is
// current (see update_approx_index_file), else exact. kApprox: the saved one, else built in memory
// (minutes at a million faces).
std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim);

// LIBRARY.hnsw, next to the database: the approximate index's graph, framed by a header that names
// its format, the model fingerprint and the catalog generation it was built from.
std::filesystem::path approx_index_path(const Catalog& catalog);

// After indexing: builds and saves the approximate index when the library holds at least
// `min_faces` faces (and removes a stale one when it holds fewer). The file is written to a
// temporary name and renamed, so a crash never leaves a half-written graph. Returns true when saved.
bool update_approx_index_file(const Catalog& catalog, int dim, size_t min_faces = kApproxThreshold);

// The saved approximate index when it exists and matches the catalog (model and generation);
// nullptr when missing, stale or damaged (a damaged one is only a cache: the caller falls back).
std::unique_ptr<VectorIndex> load_current_approx_index(const Catalog& catalog, int dim);

// LIBRARY.vectors, next to the database: every face's id and embedding in one flat file (same header
// as LIBRARY.hnsw), so that building the exact index is one sequential read instead of a SQLite scan
// (docs/PERFORMANCE.md). Written by `index` after every complete run; removed for an empty library.
std::filesystem::path vectors_file_path(const Catalog& catalog);
bool update_vectors_file(const Catalog& catalog, int dim);
// Fills ids / vectors (row-major) from the vectors file when it is current and whole; false otherwise
// (missing, stale, damaged: the caller reads the catalog).
bool load_current_vectors(const Catalog& catalog, int dim, std::vector<std::int64_t>& ids, std::vector<float>& vectors);

// Faces of `query` (a photo) looked up in `index`. Matches carry the catalog's paths and boxes.
SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const IndexSearchOptions& options);

// "More photos of this face": the query is an indexed face. Its own image is left out.
// Throws Error{kNotFound} for an unknown face id.
// Needs no models beyond the pack's description (name, metric, default threshold).
SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::int64_t face_id, const IndexSearchOptions& options);

// Keeps the best match per (image, query face) — the default grouping of both search modes.
void keep_best_match_per_image(std::vector<Match>& matches);

}  // namespace facesearch
