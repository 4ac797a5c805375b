#include "search/folder_search.h"

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"

namespace facesearch {
namespace {

std::filesystem::path canonical_or_self(const std::filesystem::path& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : c;
}

SearchReport search_impl(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                         const std::filesystem::path& query, std::span<const std::filesystem::path> targets,
                         const SearchOptions& options) {
  SearchReport report;
  report.query = query;
  report.query_faces = std::move(query_faces);
  report.model = pipeline.pack().name;
  report.metric = metric_name(pipeline.pack().metric);
  report.threshold = search_threshold(options, pipeline.pack());

  PhotoFiles found = find_photo_files(targets);
  auto& files = found.files;
  for (UnreadableFolder& folder : found.unreadable) {
    const std::string message =
        folder.path.string() + ": cannot read this folder (" + folder.reason + "): the photos in it were not searched";
    report.skipped.push_back({std::move(folder.path), "folder", message, {}});
  }
  if (!query.empty() && !options.include_query_file) {
    const auto q = canonical_or_self(query);
    std::erase_if(files, [&](const std::filesystem::path& f) { return canonical_or_self(f) == q; });
  }

  ScanOptions scan;
  scan.jobs = options.jobs;
  scan.pipelined = options.pipelined;
  scan.analysis = options.analysis;
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
            const float s = similarity(q.embedding, rec.embedding);  // the library index's SIMD kernel
            if (s > best) best = s, best_query = q.index;
          }
          if (best >= report.threshold)
            report.matches.push_back({image.path, static_cast<int>(i), rec.face.box, best, rec.face.score, best_query});
        }
      },
      [&](ScanFailure&& failure) {
        report.skipped.push_back(
            {std::move(failure.path), std::move(failure.reason), std::move(failure.message), std::move(failure.hint)});
      });

  rank_matches(report.matches, options);
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
  check_analysis_options(pipeline.pack(), options.analysis);
  // Check the targets before spending time on the query.
  for (const auto& t : targets)
    if (const std::string why = why_missing(t); !why.empty())
      throw Error(ErrorCode::kNotFound, "target " + t.string() + " " + why);
  auto faces = embed_query(pipeline, query, options.query_face, options.analysis);
  return search_impl(pipeline, std::move(faces), query, targets, options);
}

SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  return search_impl(pipeline, std::move(query_faces), {}, targets, options);
}

}  // namespace facesearch
