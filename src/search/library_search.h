// Search in an indexed library: the query's faces are embedded (or taken from the catalog by face id)
// and looked up in a vector index over the catalog's embeddings (store/vector_files.h builds it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "index/vector_index.h"
#include "search/search_report.h"
#include "store/catalog.h"

namespace facesearch {

// Faces of `query` (a photo) looked up in `index`. Matches carry the catalog's paths and boxes.
SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const SearchOptions& options);

// Several photos of one person: the largest face of each, combined (combine_query_faces); every query
// photo is left out. Error{kInvalidArgument} when options.query_face asks for other faces than the
// largest (one face per photo is what makes them one person).
SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          std::span<const std::filesystem::path> queries, const SearchOptions& options);

// "More photos of this face": the query is an indexed face. Its own image is left out.
// Throws Error{kNotFound} for an unknown face id.
// Needs no models beyond the pack's description (name, metric, default threshold).
SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::int64_t face_id, const SearchOptions& options);
// Several indexed faces of one person, combined (combine_query_faces); their images are left out.
SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::span<const std::int64_t> face_ids, const SearchOptions& options);

}  // namespace facesearch
