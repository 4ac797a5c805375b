// `facesearch index`: brings a library's catalog up to date with folders on disk, incrementally.
//
// Only new, changed (size/mtime, then content hash) and deleted files are touched; a photo that was
// moved or renamed is recognised by its content hash and keeps its faces without being decoded again.
// Work is committed in batches, each in one transaction: a crash or kill -9 loses at most the batch
// in flight, and the next run finishes the job (a file is only ever recorded with all its faces).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "pipeline/image_scanner.h"
#include "store/catalog.h"

namespace facesearch {

struct IndexOptions {
  int jobs = 0;                // worker threads; 0: one per core
  // How faces are found; analysis.detect.min_face_px: faces smaller than this (shorter box side) are
  // not stored.
  AnalysisOptions analysis;
  size_t batch_images = 32;    // commit after this many images...
  double batch_seconds = 2.0;  // ...or this many seconds, whichever comes first
  std::function<void(const Progress&)> on_progress;   // calling thread
  std::function<void(const ScanFailure&)> on_failure;  // calling thread, as files fail
  std::function<void(const std::filesystem::path&, const std::string&)> on_warning;  // e.g. truncated JPEG
  const std::atomic<bool>* cancel = nullptr;           // stop after the batch in flight
  // Library::index only: called before the approximate index is brought up to date after the run
  // (new faces added to the saved graph; a rebuild after deletions, minutes per million faces), with
  // the number of faces.
  std::function<void(size_t faces)> on_building_approx_index;
  // Folders of the library mounted at another path on this machine: (the folder here, the path the
  // library knows it by). Photos found under the first are read there and stored under the second, so
  // workers on several machines share one library whatever their mount points (docs/SCALING.md).
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> mounts;
};

struct IndexReport {
  size_t files = 0;      // image files found under the roots
  size_t unchanged = 0;  // same size and mtime: not read
  size_t added = 0;      // new content, analysed
  size_t updated = 0;    // changed content at a known path, analysed again
  size_t touched = 0;    // size/mtime changed but same content: not analysed
  size_t moved = 0;      // known content at a new path: faces kept
  size_t deleted = 0;    // gone from disk
  size_t errors = 0;     // unreadable files recorded with their error
  size_t faces = 0;      // faces stored by this run
  double seconds = 0;
  bool cancelled = false;
  std::vector<ScanFailure> failures;
  // Folders (and roots) that could not be listed, with the photos under them that were kept as they
  // were: the run is incomplete, and the library remembers them (Catalog::unreadable_folders).
  std::vector<UnreadableFolderRow> unreadable;
  // The people step after the run (Library::index): new faces joined people or formed new ones.
  std::optional<PeopleUpdate> people;
};

// Indexes `roots` (folders or files; empty: every root indexed before) into `catalog`.
// A folder that cannot be listed (permissions, I/O errors) or a root of an earlier run that is gone
// (an unplugged drive) is never taken for empty: the photos under it stay as they were, and it is
// reported in IndexReport::unreadable. Throws Error{kInvalidArgument} when there is nothing to index,
// Error{kNotFound} for a root named in `roots` that does not exist, catalog errors as they come (the
// transaction in flight is rolled back, earlier batches stay).
IndexReport index_library(Catalog& catalog, const FacePipeline& pipeline, std::span<const std::filesystem::path> roots,
                          const IndexOptions& options);

}  // namespace facesearch
