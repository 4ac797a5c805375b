// The faces of a query photo, embedded: what every search (folder or library) looks for.
#pragma once

#include <filesystem>
#include <span>
#include <vector>

#include "pipeline/face_pipeline.h"

namespace facesearch {

// Which faces of the query photo to search for.
struct QueryFaceSelection {
  enum class Mode { kLargest, kAll, kIndex } mode = Mode::kLargest;
  int index = 0;  // for kIndex: the face's index in reading order (as `faces` of the query lists them)
};

// One face of the query photo.
struct QueryFace {
  int index = 0;  // reading-order index in the query photo
  Face face;
  std::vector<float> embedding;
  // Set by a search: how many photos' faces were combined into this one (several query photos), whether
  // the pack's query expansion added faces to it, and the threshold its matches were judged at
  // (search_report.h: query_threshold).
  int photos = 1;
  bool expanded = false;
  float threshold = 0;
};

// The query photo's faces selected by `selection`, found with `analysis`. Throws Error{kNotFound} /
// {kDecode} for an unreadable query, Error{kNoFace} when it has no face, Error{kInvalidArgument} for an
// index out of range.
// `every_face`, when given, gets every face found in the photo, in reading order (to show which one
// was searched for).
std::vector<QueryFace> embed_query(const FacePipeline& pipeline, const std::filesystem::path& query,
                                   const QueryFaceSelection& selection, const AnalysisOptions& analysis,
                                   std::vector<Face>* every_face = nullptr);

// The largest face of each of several photos of one person, in order (embed_query's errors for each).
// Error{kInvalidArgument} when `selection` asks for other faces than the largest and there are several.
std::vector<QueryFace> embed_query_photos(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                                          const QueryFaceSelection& selection, const AnalysisOptions& analysis);

}  // namespace facesearch
