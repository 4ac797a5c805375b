#include "index_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
#include "flags.h"
#include "interrupt.h"
#include "output.h"
#include "library/library.h"
#include "progress.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexFooter = R"(A typical workflow:
  Index your photos once (the slow part: every photo is read; Ctrl-C stops cleanly, a re-run resumes):
    facesearch index ~/Pictures /media/phone/DCIM
  Search in milliseconds, as often as you like:
    facesearch search --query me.jpg
  After adding, moving or deleting photos, bring the library up to date (re-scans the same folders;
  only new and changed photos are analysed, moved ones are recognised by their content):
    facesearch index
  See what is in the library, and the files that could not be read:
    facesearch status

What a run reports:
  "Indexed N files in X s: ..." on stdout, where N is every photo under the folders. unchanged: same
  size and time, not read; added: new photos, analysed; updated: changed photos, analysed again;
  moved: known photos at a new path, kept without analysing them; touched: same content with a new
  time; deleted: gone from disk and removed; errors: files that could not be read (each one is
  named on stderr as it fails, "facesearch: skipped PATH: WHY", and listed by `facesearch status`).
  A folder that cannot be read (no permission, a disk error) and a folder indexed before that is
  missing now (an unplugged drive) are not taken for empty: their photos are kept as they were, each
  such folder is named on stderr ("facesearch: warning: cannot read folder X (WHY): its N photos are
  kept as they were"), `facesearch status` lists them, and the exit status is 3. So is a folder
  indexed before that is now completely empty (the mount point of a disk that is not mounted).
  When such photos are gone for good (a disk thrown away, a folder deleted on purpose), say so:
    facesearch index --forget /media/old-disk/Photos   # its photos leave the library, files untouched

Limits (what is on disk is not trusted):
  Only regular files are read (a FIFO or device named .jpg is refused), files over 1 GiB are refused
  unread, and photos whose header says more than 250 megapixels are refused before decoding (a small
  file can claim a huge size); --max-pixels MP sets that limit.

Speed:
  Where the kernel gives transparent huge pages only on request (THP "madvise"), facesearch restarts
  itself once at start-up with glibc's malloc asking for them: analysing photos spends far less time
  in the kernel (12-megapixel photos ~10% faster). FACESEARCH_NO_HUGE_PAGES=1 turns this off.

Library:
  --db PATH, else $FACESEARCH_DB, else ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db; the
  first run creates it. One SQLite file (plus a -wal file while in use) that names the model pack
  that made it, which later runs use unless told otherwise: another pack cannot mix in its faces;
  `--rebuild --model NAME` re-indexes everything with pack NAME (the folders are kept). Next to it: LIBRARY.vectors (every face's vector, for
  fast exact search) and, from 50,000 faces, LIBRARY.hnsw (the approximate index); both are rebuilt
  by `index` when stale and may be deleted at any time.

Model packs:
  --model NAME picks a pack `facesearch models list` shows (the default mobilefacenet-faceapi;
  dlib-faceapi, the default before; InsightFace's buffalo_l, antelopev2, ... from ~/.insightface/models;
  packs added with `facesearch models add`).
    facesearch index --model buffalo_l ~/Pictures     # a new library with InsightFace's buffalo_l
    facesearch index --rebuild --model mobilefacenet-faceapi   # move a dlib-faceapi library to the default
  InsightFace's weights are licensed for non-commercial research only. --det-size PX sets their
  detector's input (insightface's det_size, default 640; 1280 finds smaller faces, ~4x the cost).

Detection:
  --detector and --smallest-face (the packs with face-api.js's detectors) apply to the photos this run analyses (new and changed ones); with
  --rebuild they apply to all. `facesearch faces PHOTO` shows which detector found each face.

Exit status:
  0    the run completed (also when some files could not be read)
  1    it could not run: a folder missing; the library damaged, not a library, made with other models
       (use --rebuild), or not writable; models missing or broken
  2    usage error: unknown option, bad value, no folder given and none indexed before
  3    the run completed, but some folders could not be read (their photos were kept as they were)
  130  interrupted with Ctrl-C (the photos indexed until then are saved; run it again to finish)
  143  stopped by SIGTERM, like Ctrl-C
)";

}  // namespace

CLI::App* add_index_command(CLI::App& app, IndexArgs& args) {
  CLI::App* index = app.add_subcommand("index", "Add folders of photos to your library, or bring it up to date");
  index->footer(kIndexFooter);
  index->allow_extras();
  index->add_option("folders", args.roots,
                    "Folders (walked recursively) or photos to index; none: every folder indexed before")
      ->type_name("PATH");
  add_db_option(*index, args.db);
  index->add_option("--forget", args.forget,
                    "Remove a folder (indexed before, or one inside it) and its photos from the library; the "
                    "files on disk are not touched. Repeatable; not with folders to index or --rebuild")
      ->type_name("FOLDER")
      ->allow_extra_args(false);
  index->add_option("--mount", args.mounts,
                    "The library's folder LIBRARY_PATH is mounted at HERE on this machine: photos are read here "
                    "and stored under the library's path (workers on several machines, docs/SCALING.md). Repeatable")
      ->type_name("HERE LIBRARY_PATH")
      ->expected(2)
      ->allow_extra_args(false);
  add_jobs_option(*index, args.jobs,
                  "Worker threads, at most " + std::to_string(kMaxJobs) + " (default 0: one per core)");
  index->add_option("--min-face", args.min_face_px,
                    "Do not store faces whose shorter side is under PX pixels (default 0: keep all)")
      ->type_name("PX")
      ->check(non_negative_number());
  index->add_flag("--rebuild", args.rebuild,
                  "Forget every photo and face and index again with the current models (keeps the folders). "
                  "A rebuild with the same models that is already under way (another worker's, or one that was "
                  "interrupted) is continued, not started again");
  add_format_option(*index, args.format, {"table", "json"},
                    "Summary format (default table: one line for people; json for programs)");
  index->add_flag("--quiet", args.quiet, "No progress or per-file messages on stderr, only errors");
  add_model_option(*index, args.model, add_models_option(*index, args.models_dir));
  add_detector_option(*index, args.detector);
  add_smallest_face_option(*index, args.smallest_face_px);
  add_det_size_option(*index, args.det_size);
  add_max_pixels_option(*index, args.max_megapixels);
  return index;
}

void check_index_args(const CLI::App& index, const IndexArgs& args) {
  throw_if_unknown_options(index);
  if (!args.forget.empty() && (!args.roots.empty() || args.rebuild))
    throw CLI::ValidationError("--forget", "runs on its own: not with folders to index or --rebuild");
}

namespace {

IndexRequest index_request(const IndexArgs& args, const std::atomic<bool>* cancel) {
  IndexRequest request;
  request.pack = pack_request(args.models_dir, args.model);
  request.detection = detection_strategy(args.detector);
  request.rebuild = args.rebuild;
  request.analysis.detect.min_face_px = args.min_face_px;
  request.analysis.detect.smallest_face_px = args.smallest_face_px;
  request.analysis.detect.input_px = args.det_size;
  request.analysis.decode.max_pixels = max_pixels_from_flag(args.max_megapixels);
  request.cancel = cancel;
  return request;
}

// `index --forget FOLDER...`: the photos at or under each folder leave the library. Nothing on disk is
// read or touched.
int run_forget(const IndexArgs& args, const fs::path& db) {
  require_library(db);
  Library library = *Library::open_for_indexing(db, index_request(args, nullptr), /*create=*/false);
  note_licence(*library.pack(), args.quiet);
  std::vector<fs::path> folders(args.forget.begin(), args.forget.end());
  const ForgetReport report = library.forget(folders);
  write_forget_summary(std::cout, report.folders, library.status(), args.format == "json");
  return 0;
}

}  // namespace

int run_index(const IndexArgs& args) {
  const fs::path db = library_path(args.db);
  if (!args.forget.empty()) return run_forget(args, db);
  std::vector<fs::path> roots(args.roots.begin(), args.roots.end());
  for (const fs::path& root : roots) {
    if (const std::string why = why_missing(root); !why.empty())
      throw Error(ErrorCode::kNotFound, "folder " + root.string() + " " + why);
  }

  const InterruptGuard sigint;  // Ctrl-C and SIGTERM
  const IndexRequest request = index_request(args, sigint.flag());
  // With no folders named, the run updates the library indexed before: it must exist.
  std::optional<Library> library = Library::open_for_indexing(db, request, /*create=*/!roots.empty());
  if (!library) {  // Ctrl-C while the models loaded: nothing indexed yet
    std::cerr << "facesearch: interrupted before indexing started\n";
    return sigint.exit_status();
  }
  note_licence(*library->pack(), args.quiet);

  ProgressLine progress(!args.quiet, stderr, "index");
  IndexOptions options;
  options.jobs = args.jobs;
  for (size_t i = 0; i + 1 < args.mounts.size(); i += 2) options.mounts.emplace_back(args.mounts[i], args.mounts[i + 1]);
  options.analysis = request.analysis;
  options.cancel = sigint.flag();
  options.on_progress = [&progress](const Progress& p) { progress.update(p); };
  if (!args.quiet) {
    options.on_failure = [&progress](const ScanFailure& f) { progress.print_line(skipped_file_line(f.path, f.message, f.hint, "index"));
    };
    options.on_warning = [&progress](const std::filesystem::path& path, const std::string& message) {
      progress.print_line("facesearch: warning: " + path.string() + ": " + message);
    };
    options.on_building_approx_index = [](size_t faces) {
      std::cerr << "facesearch: updating the approximate index of " << faces
                << " faces (new faces join the saved graph; after deletions it is rebuilt, minutes per million)\n";
    };
  }

  const IndexReport report = library->index(roots, options);
  progress.finish();
  const LibraryStatus status = library->status();
  if (args.format == "json") {
    write_index_json(std::cout, report, status);
  } else {
    write_index_summary(std::cout, report, status);
  }
  std::cout.flush();

  if (report.cancelled) {
    std::cerr << "facesearch: interrupted; the photos indexed so far are saved, run `facesearch index` again "
                 "to finish (deleted photos are removed at the end of a complete run)\n";
    return sigint.exit_status();
  }
  // Said even with --quiet: the run is incomplete, and the exit status alone does not say where.
  for (const UnreadableFolderRow& folder : report.unreadable) {
    std::cerr << "facesearch: warning: " << unreadable_folder_line(folder) << '\n';
  }
  if (!report.unreadable.empty()) return kExitIncomplete;
  if (!args.quiet && report.files == 0) {
    std::cerr << "facesearch: warning: no photos found in the folders (looked for .jpg, .png, ... files)\n";
  }
  return 0;
}

}  // namespace facesearch::cli
