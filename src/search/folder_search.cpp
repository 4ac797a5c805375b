#include "search/folder_search.h"

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
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

PhotoFiles find_photo_files(std::span<const std::filesystem::path> targets) {
  namespace fs = std::filesystem;
  PhotoFiles out;
  for (const auto& target : targets) {
    std::error_code ec;
    const auto status = fs::status(target, ec);
    if (ec || !fs::exists(status)) {
      std::string why = why_missing(target);
      if (why.rfind("is ", 0) == 0) why.erase(0, 3);
      out.unreadable.push_back({target.lexically_normal(), !why.empty() ? why : ec ? ec.message() : "does not exist"});
      continue;
    }
    if (!fs::is_directory(status)) {
      out.files.push_back(target.lexically_normal());
      continue;
    }
    // Depth first, one folder at a time: a folder's files and subfolders count only once all of it
    // was listed, so a folder that fails part way is reported whole instead of looking half empty.
    std::vector<fs::path> pending{target};
    while (!pending.empty()) {
      const fs::path folder = std::move(pending.back());
      pending.pop_back();
      std::vector<fs::path> files, folders;
      std::error_code error;
      fs::directory_iterator it(folder, error), end;
      while (!error && it != end) {
        const fs::directory_entry& entry = *it;
        if (!is_hidden(entry.path())) {
          const fs::file_status own = entry.symlink_status(error);  // a folder without x: EACCES here
          if (error) break;
          if (fs::is_directory(own)) {
            folders.push_back(entry.path());  // symbolic links to folders are not followed
          } else if (has_image_extension(entry.path())) {
            std::error_code link_error;  // a broken link or one to a non-file is not a photo: skipped
            if (fs::is_regular_file(own) || (fs::is_symlink(own) && fs::is_regular_file(entry.status(link_error))))
              files.push_back(entry.path().lexically_normal());
          }
        }
        it.increment(error);
      }
      if (error) {
        out.unreadable.push_back({folder.lexically_normal(), error.message()});
        continue;
      }
      out.files.insert(out.files.end(), files.begin(), files.end());
      // Reversed, so that the walk takes them in listing order.
      pending.insert(pending.end(), folders.rbegin(), folders.rend());
    }
  }
  std::sort(out.files.begin(), out.files.end());
  out.files.erase(std::unique(out.files.begin(), out.files.end()), out.files.end());
  return out;
}

std::vector<std::filesystem::path> collect_images(std::span<const std::filesystem::path> targets) {
  for (const auto& target : targets)
    if (const std::string why = why_missing(target); !why.empty())
      throw Error(ErrorCode::kNotFound, "target " + target.string() + " " + why);
  PhotoFiles found = find_photo_files(targets);
  if (!found.unreadable.empty()) {
    const UnreadableFolder& folder = found.unreadable.front();
    throw Error(ErrorCode::kIo, "cannot read folder " + folder.path.string() + " (" + folder.reason + ")");
  }
  return std::move(found.files);
}

std::vector<QueryFace> embed_query(const FacePipeline& pipeline, const std::filesystem::path& query,
                                   const QueryFaceSelection& selection, const SearchOptions& options) {
  if (const std::string why = why_missing(query); !why.empty())
    throw Error(ErrorCode::kNotFound, "query photo " + query.string() + " " + why);
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

  PhotoFiles found = find_photo_files(targets);
  auto& files = found.files;
  for (UnreadableFolder& folder : found.unreadable) {
    const std::string message =
        folder.path.string() + ": cannot read this folder (" + folder.reason + "): the photos in it were not searched";
    report.skipped.push_back({std::move(folder.path), "folder", message});
  }
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
  for (const auto& t : targets)
    if (const std::string why = why_missing(t); !why.empty())
      throw Error(ErrorCode::kNotFound, "target " + t.string() + " " + why);
  auto faces = embed_query(pipeline, query, options.query_face, options);
  return search_impl(pipeline, std::move(faces), query, targets, options);
}

SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options) {
  return search_impl(pipeline, std::move(query_faces), {}, targets, options);
}

}  // namespace facesearch
