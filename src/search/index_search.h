// Search against an indexed library: the query's faces are embedded (or taken from the catalog by
// face id) and looked up in a vector index built from the catalog's embeddings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
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
  DecodeOptions decode;        // for the query photo (its pixel limit)
};

// A side file (LIBRARY.vectors, LIBRARY.hnsw) that is there but was not used because it is damaged or
// belongs to another library. Searches still answer, from the catalog (more slowly); the remedy is a
// complete `facesearch index` run over the library, which rewrites the file. (A file that is only
// stale, from before the latest change, is a routine miss and not reported.)
struct SideFileWarning {
  std::filesystem::path path;
  std::string problem;  // "is damaged (its checksum does not match its contents)", "belongs to another library"
};

// The vector index over every face of the catalog, for one process (reuse it for several queries).
// kExact: the exact index. kAuto: the saved approximate index when the library has one that is
// current (see update_approx_index_file), else exact. kApprox: the saved one, else built in memory
// (minutes at a million faces). Side files that could not be used are added to `warnings`.
std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim,
                                                std::vector<SideFileWarning>* warnings = nullptr);

// Side files are bound to the catalog as it is now (search/side_files.h has their format): each
// carries the library id, the model fingerprint, the catalog generation, the face count and checksums
// of the ids and of the whole payload, and the catalog keeps a record of the last file written
// (Catalog::derived_file_record). A file is used only when all of them match and its checksum verifies.

// LIBRARY.hnsw, next to the database: the approximate index's graph.
std::filesystem::path approx_index_path(const Catalog& catalog);

// After indexing: builds and saves the approximate index when the library holds at least
// `min_faces` faces (and removes it when it holds fewer); a file that is current and whole is kept,
// any other is rebuilt. The file is written to a temporary name and renamed, so a crash never leaves a
// half-written graph; the catalog then records it. Returns true when the library has one.
bool update_approx_index_file(Catalog& catalog, int dim, size_t min_faces = kApproxThreshold);

// The saved approximate index when it exists, matches the catalog and is whole (checksum, then every
// array of the graph); nullptr otherwise (a damaged one is only a cache: the caller falls back).
std::unique_ptr<VectorIndex> load_current_approx_index(const Catalog& catalog, int dim,
                                                       std::vector<SideFileWarning>* warnings = nullptr);

// LIBRARY.vectors, next to the database: every face's id and embedding in one flat file, so that
// building the exact index is one sequential read instead of a SQLite scan (docs/PERFORMANCE.md).
// Written by `index` after every complete run (rewritten unless current and whole; the catalog then
// records it); removed for an empty library. Returns true when the library has one.
std::filesystem::path vectors_file_path(const Catalog& catalog);
bool update_vectors_file(Catalog& catalog, int dim);
// Fills ids / vectors (row-major) from the vectors file when it is current and whole (checksums
// verified); false otherwise (missing, stale, damaged: the caller reads the catalog).
bool load_current_vectors(const Catalog& catalog, int dim, std::vector<std::int64_t>& ids, std::vector<float>& vectors,
                          std::vector<SideFileWarning>* warnings = nullptr);

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
