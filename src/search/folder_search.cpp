#include "search/folder_search.h"

#include <algorithm>
#include <optional>
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

// The query face a target face matches best: its similarity and index, or nothing when it is under
// every query face's threshold (each may have its own: query_threshold). Ties of margin: the first.
std::optional<std::pair<float, int>> best_query(std::span<const std::vector<float>> queries, const SearchReport& report,
                                                std::span<const float> face) {
  std::optional<std::pair<float, int>> best;
  float best_margin = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const float s = similarity(queries[i], face);  // the library index's SIMD kernel
    const float margin = s - report.query_faces[i].threshold;
    if (margin >= 0 && (!best || margin > best_margin)) best = {s, report.query_faces[i].index}, best_margin = margin;
  }
  return best;
}

SearchReport search_impl(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                         std::span<const std::filesystem::path> queries, std::span<const std::filesystem::path> targets,
                         const SearchOptions& options) {
  SearchReport report;
  if (!queries.empty()) report.query = queries[0];
  if (queries.size() > 1) {
    report.queries.assign(queries.begin(), queries.end());
    report.combined = "mean";
  }
  report.query_faces = std::move(query_faces);
  report.model = pipeline.pack().name;
  report.metric = metric_name(pipeline.pack().metric);
  report.threshold = search_threshold(options, pipeline.pack());
  const QueryExpansion* expansion = active_expansion(options, pipeline.pack());
  std::vector<std::vector<float>> vectors;
  for (auto& q : report.query_faces) {
    vectors.push_back(q.embedding);
    q.threshold = query_threshold(report.threshold, pipeline.pack(), q.photos, false);
  }

  PhotoFiles found = find_photo_files(targets);
  auto& files = found.files;
  for (UnreadableFolder& folder : found.unreadable) {
    const std::string message =
        folder.path.string() + ": cannot read this folder (" + folder.reason + "): the photos in it were not searched";
    report.skipped.push_back({std::move(folder.path), "folder", message, {}});
  }
  if (!options.include_query_file && !queries.empty()) {
    std::vector<std::filesystem::path> excluded;
    for (const auto& q : queries) excluded.push_back(canonical_or_self(q));
    std::erase_if(files, [&](const std::filesystem::path& f) {
      return std::find(excluded.begin(), excluded.end(), canonical_or_self(f)) != excluded.end();
    });
  }

  ScanOptions scan;
  if (!options.include_query_file) {
    // Copies of a query photo among the targets are the query photo too: read, not analysed.
    std::vector<std::string> hashes = query_file_hashes(queries);
    if (!hashes.empty())
      scan.should_analyze = [hashes = std::move(hashes)](const std::filesystem::path&, const std::string& hash) {
        return std::find(hashes.begin(), hashes.end(), hash) == hashes.end();
      };
  }
  scan.jobs = options.jobs;
  scan.pipelined = options.pipelined;
  scan.analysis = options.analysis;
  scan.on_progress = options.on_progress;
  scan.cancel = options.cancel;

  // With query expansion every face is kept until the scan ends: the expanded queries need them all.
  struct SeenFace {
    std::filesystem::path path;
    int face_index = 0;
    FaceRecord record;
  };
  std::vector<SeenFace> seen;
  const auto summary = scan_images(
      pipeline, files, scan,
      [&](ScannedImage&& image) {
        for (const auto& w : image.warnings) report.warnings.push_back({image.path, w});
        for (size_t i = 0; i < image.faces.size(); ++i) {
          if (expansion) {
            seen.push_back({image.path, static_cast<int>(i), std::move(image.faces[i])});
            continue;
          }
          const auto& rec = image.faces[i];
          if (const auto best = best_query(vectors, report, rec.embedding))
            report.matches.push_back({image.path, static_cast<int>(i), rec.face.box, best->first, rec.face.score, best->second});
        }
      },
      [&](ScanFailure&& failure) {
        report.skipped.push_back(
            {std::move(failure.path), std::move(failure.reason), std::move(failure.message), std::move(failure.hint)});
      });

  if (expansion) {
    for (size_t qi = 0; qi < vectors.size(); ++qi) {
      std::vector<std::pair<float, size_t>> ranked;
      for (size_t f = 0; f < seen.size(); ++f) {
        const float s = similarity(report.query_faces[qi].embedding, seen[f].record.embedding);
        if (s >= expansion->at_least) ranked.emplace_back(s, f);
      }
      std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : seen[a.second].path < seen[b.second].path;
      });
      std::vector<ExpansionCandidate> candidates;
      for (const auto& [s, f] : ranked) candidates.push_back({s, seen[f].record.embedding});
      std::vector<size_t> used;
      const std::vector<float> expanded = expand_query(report.query_faces[qi].embedding, candidates, *expansion, used);
      for (const size_t i : used) {
        const SeenFace& face = seen[ranked[i].second];
        report.expanded_with.push_back({report.query_faces[qi].index, face.path, face.face_index, ranked[i].first});
      }
      if (!used.empty()) {
        vectors[qi] = expanded;
        QueryFace& q = report.query_faces[qi];
        q.expanded = true;
        q.threshold = query_threshold(report.threshold, pipeline.pack(), q.photos, true);
      }
    }
    for (const SeenFace& face : seen)
      if (const auto best = best_query(vectors, report, face.record.embedding))
        report.matches.push_back({face.path, face.face_index, face.record.face.box, best->first, face.record.face.score,
                                  best->second});
  }

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

SearchReport search_folder(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  check_analysis_options(pipeline.pack(), options.analysis);
  if (queries.empty()) throw Error(ErrorCode::kInvalidArgument, "a search needs a query photo");
  // Check the targets before spending time on the query.
  for (const auto& t : targets)
    if (const std::string why = why_missing(t); !why.empty())
      throw Error(ErrorCode::kNotFound, "target " + t.string() + " " + why);
  std::vector<Face> every_face;
  std::vector<QueryFace> faces = query_faces_of(pipeline, queries, options, every_face);
  SearchReport report = search_impl(pipeline, std::move(faces), queries, targets, options);
  report.query_photo_faces = std::move(every_face);
  return report;
}

SearchReport search_folder(const FacePipeline& pipeline, const std::filesystem::path& query,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  return search_folder(pipeline, std::span<const std::filesystem::path>(&query, 1), targets, options);
}

SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  return search_impl(pipeline, std::move(query_faces), {}, targets, options);
}

}  // namespace facesearch
