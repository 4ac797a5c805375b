#include "pipeline/query_faces.h"

#include <string>

#include "core/error.h"
#include "core/file_io.h"

namespace facesearch {

std::vector<QueryFace> embed_query(const FacePipeline& pipeline, const std::filesystem::path& query,
                                   const QueryFaceSelection& selection, const AnalysisOptions& analysis,
                                   std::vector<Face>* every_face) {
  if (const std::string why = why_missing(query); !why.empty())
    throw Error(ErrorCode::kNotFound, "query photo " + query.string() + " " + why);
  const DecodedImage image = decode_image_file(query, pipeline.decode_options(analysis.decode));
  auto records = pipeline.analyze(image, analysis.detect);
  if (records.empty())
    throw Error(ErrorCode::kNoFace, "no face found in query photo " + query.string());

  if (every_face)
    for (const auto& r : records) every_face->push_back(r.face);
  std::vector<QueryFace> faces;
  auto take = [&](size_t i) { faces.push_back({static_cast<int>(i), records[i].face, records[i].embedding}); };
  switch (selection.mode) {
    case QueryFaceSelection::Mode::kAll:
      for (size_t i = 0; i < records.size(); ++i) take(i);
      break;
    case QueryFaceSelection::Mode::kIndex:
      if (selection.index < 0 || static_cast<size_t>(selection.index) >= records.size())
        throw Error(ErrorCode::kInvalidArgument,
                    "query photo " + query.string() + " has " + std::to_string(records.size()) +
                        (records.size() == 1 ? " face" : " faces"),
                    Hint{Remedy::kPickQueryFace, std::to_string(records.size() - 1)});
      take(static_cast<size_t>(selection.index));
      break;
    case QueryFaceSelection::Mode::kLargest: {
      size_t best = 0;
      for (size_t i = 1; i < records.size(); ++i)
        if (records[i].face.box.area() > records[best].face.box.area()) best = i;
      take(best);
      break;
    }
  }
  return faces;
}

std::vector<QueryFace> embed_query_photos(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                                          const QueryFaceSelection& selection, const AnalysisOptions& analysis) {
  if (queries.size() > 1 && selection.mode != QueryFaceSelection::Mode::kLargest)
    throw Error(ErrorCode::kInvalidArgument,
                "several query photos are searched as one person, by the largest face of each; picking "
                "other faces needs a single query photo");
  std::vector<QueryFace> faces;
  for (const auto& query : queries)
    for (auto& face : embed_query(pipeline, query, selection, analysis)) faces.push_back(std::move(face));
  return faces;
}

}  // namespace facesearch
