// On-the-fly search: faces of a query photo against every face of every image under some targets,
// no library. Decoding, detection and embedding overlap across threads; chips are embedded in batches.
#pragma once

#include <filesystem>
#include <span>
#include <vector>

#include "search/search_report.h"

namespace facesearch {

// Searches the targets for the query's faces. Unreadable files and folders are reported in `skipped`
// (a folder with reason "folder"), never fatal. Throws Error{kNotFound} for a target that does not
// exist (before the query is read) and embed_query's errors for the query photo.
SearchReport search_folder(const FacePipeline& pipeline, const std::filesystem::path& query,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options);

// Several photos of one person: the largest face of each, combined (combine_query_faces); every query
// photo is left out of the results.
SearchReport search_folder(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options);

// Same, with query faces already embedded (for callers that reuse them).
SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options);

}  // namespace facesearch
