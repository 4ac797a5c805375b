// The files a library keeps next to its catalog (LIBRARY.vectors, LIBRARY.hnsw; their byte format is
// store/side_files.h): when each is current, writing them after an index run, and the vector index a
// search uses, from them or from the catalog.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "store/catalog.h"

namespace facesearch {

// A side file (LIBRARY.vectors, LIBRARY.hnsw) that is there but was not used because it is damaged or
// belongs to another library. Searches still answer, from the catalog (more slowly); the remedy is a
// complete `facesearch index` run over the library, which rewrites the file. (A file that is only
// stale, from before the latest change, is a routine miss and not reported.)
struct SideFileWarning {
  std::filesystem::path path;
  std::string problem;  // "is damaged (its checksum does not match its contents)", "belongs to another library"
};

// The vector index over every face of the catalog, for one process (reuse it for several queries).
// kExact: the exact index. kAuto: from kApproxThreshold faces the saved approximate index when the
// library has one that is current (see update_approx_index_file), else exact. kPreferSaved: the saved
// approximate index whenever current (saved from kSavedGraphThreshold faces), else exact. kApprox: the
// saved one, else built in memory (minutes at a million faces). Side files that could not be used are
// added to `warnings`. A PostgreSQL library has no side files: Catalog::database_vector_index.
std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim,
                                                std::vector<SideFileWarning>* warnings = nullptr);

// Side files are bound to the catalog as it is now (store/side_files.h has their format): each
// carries the library id, the model fingerprint, the catalog generation, the face count and checksums
// of the ids and of the whole payload, and the catalog keeps a record of the last file written
// (Catalog::derived_file_record). A file is used only when all of them match and its checksum verifies.

// LIBRARY.hnsw, next to the database: the approximate index's graph.
std::filesystem::path approx_index_path(const Catalog& catalog);

// After indexing: builds and saves the approximate index when the library holds at least
// `min_faces` faces (and removes it when it holds fewer); a file that is current and whole is kept.
// A file saved for an earlier state of this library, since which faces were only added (no face
// deleted or changed), is extended with the new faces (extend_approx_index: an index run adding 1% to
// a large library costs about 1% of a build); any other is rebuilt. The file is written to a temporary
// name and renamed, so a crash never leaves a half-written graph; the catalog then records it. Returns
// true when the library has one; `how` says what was done.
enum class ApproxIndexUpdate { kNone, kCurrent, kExtended, kBuilt };
bool update_approx_index_file(Catalog& catalog, int dim, size_t min_faces = kSavedGraphThreshold,
                              ApproxIndexUpdate* how = nullptr);

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

}  // namespace facesearch
