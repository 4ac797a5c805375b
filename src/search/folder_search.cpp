#include "search/folder_search.h"

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "search/index_search.h"

namespace facesearch {
namespace {

bool is_hidden(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return name.size() > 1 && name[0] == '.';
}

std::filesystem::path canonical_or_self(const std::filesystem::path& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : c;
}

}  // namespace

std::vector<std::filesystem::path> collect_images(std::span<const std::filesystem::path> targets) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& target : targets) {
    std::error_code ec;
    const auto status = fs::status(target, ec);
    if (ec || !fs::exists(status)) throw Error(ErrorCode::kNotFound, "target " + target.string() + " does not exist");
    if (!fs::is_directory(status)) {
      files.push_back(target.lexically_normal());
      continue;
    }
    fs::recursive_directory_iterator it(target, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) throw Error(ErrorCode::kIo, "cannot read folder " + target.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const auto& entry = *it;
      if (is_hidden(entry.path())) {
        if (entry.is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (entry.is_regular_file(ec) && has_image_extension(entry.path())) files.push_back(entry.path().lexically_normal());
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::vector<QueryFace> embed_query(const FacePipeline& pipeline, const std::filesystem::path& query,
                                   const QueryFaceSelection& selection, const SearchOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(query, ec))
    throw Error(ErrorCode::kNotFound, "query photo " + query.string() + " does not exist");
  const DecodedImage image = decode_image_file(query, pipeline.decode_options(options.decode));
  DetectOptions detect;
  detect.min_face_px = options.min_face_px;
  detect.smallest_face_px = options.smallest_face_px;
  detect.input_px = options.detector_input_px;
  auto records = pipeline.analyze(image, detect);
  if (records.empty())
    throw Error(ErrorCode::kNoFace, "no face found in query photo " + query.string());

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
                        (records.size() == 1 ? " face" : " faces") + "; --query-face must be between 0 and " +
                        std::to_string(records.size() - 1));
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

namespace {

SearchReport search_impl(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                         const std::filesystem::path& query, std::span<const std::filesystem::path> targets,
                         const SearchOptions& options) {
  SearchReport report;
  report.query = query;
  report.query_faces = std::move(query_faces);
  report.model = pipeline.pack().name;
  report.metric = metric_name(pipeline.pack().metric);
  report.threshold = options.threshold >= 0 ? options.threshold : pipeline.pack().threshold;

  auto files = collect_images(targets);
  if (!query.empty() && !options.include_query_file) {
    const auto q = canonical_or_self(query);
    std::erase_if(files, [&](const std::filesystem::path& f) { return canonical_or_self(f) == q; });
  }

  ScanOptions scan;
  scan.jobs = options.jobs;
  scan.pipelined = options.pipelined;
  scan.detect.min_face_px = options.min_face_px;
  scan.detect.smallest_face_px = options.smallest_face_px;
  scan.detect.input_px = options.detector_input_px;
  scan.decode = options.decode;
  scan.on_progress = options.on_progress;
  scan.cancel = options.cancel;

  const auto summary = scan_images(
      pipeline, files, scan,
      [&](ScannedImage&& image) {
        for (const auto& w : image.warnings) report.warnings.push_back({image.path, w});
        for (size_t i = 0; i < image.faces.size(); ++i) {
          const auto& rec = image.faces[i];
          float best = -2;
          int best_query = 0;
          for (const auto& q : report.query_faces) {
            const float s = similarity(q.embedding, rec.embedding);
            if (s > best) best = s, best_query = q.index;
          }
          if (best >= report.threshold)
            report.matches.push_back(
                {image.path, static_cast<int>(i), rec.face.box, best, rec.face.score, best_query});
        }
      },
      [&](ScanFailure&& failure) {
        report.skipped.push_back({std::move(failure.path), std::move(failure.reason), std::move(failure.message)});
      });

  if (!options.all_faces) keep_best_match_per_image(report.matches);
  std::sort(report.matches.begin(), report.matches.end(), [](const Match& a, const Match& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.path != b.path ? a.path < b.path : a.face_index < b.face_index;
  });
  if (options.top_k > 0 && report.matches.size() > options.top_k) report.matches.resize(options.top_k);
  std::sort(report.skipped.begin(), report.skipped.end(),
            [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
  report.stats.images = summary.images;
  report.stats.images_analysed = summary.images_analysed;
  report.stats.faces = summary.faces;
  report.stats.seconds = summary.seconds;
  report.stats.stage_ms = summary.stage_ms;
  report.stats.jobs = summary.jobs;
  return report;
}

}  // namespace

SearchReport search_folder(const FacePipeline& pipeline, const std::filesystem::path& query,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  // Check the targets before spending time on the query.
  for (const auto& t : targets) {
    std::error_code ec;
    if (!std::filesystem::exists(t, ec)) throw Error(ErrorCode::kNotFound, "target " + t.string() + " does not exist");
  }
  auto faces = embed_query(pipeline, query, options.query_face, options);
  return search_impl(pipeline, std::move(faces), query, targets, options);
}

SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  return search_impl(pipeline, std::move(query_faces), {}, targets, options);
}

}  // namespace facesearch
