// On-the-fly search: faces of a query photo against every face of every image under some targets,
// no index. Decoding, detection and embedding overlap across threads; chips are embedded in batches.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/image_scanner.h"

namespace facesearch {

// Which faces of the query photo to search for.
struct QueryFaceSelection {
  enum class Mode { kLargest, kAll, kIndex } mode = Mode::kLargest;
  int index = 0;  // for kIndex: the face's index in reading order (as `faces` of the query lists them)
};

struct SearchOptions {
  float threshold = -1;      // minimum similarity; < 0: the model pack's default
  float min_face_px = 0;     // ignore faces smaller than this (shorter box side, full-resolution pixels)
  float smallest_face_px = 0;  // look for faces down to this size in large photos (0: the pipeline's default)
  int detector_input_px = 0;   // DetectOptions::input_px
  size_t top_k = 0;          // 0: every match over the threshold
  bool all_faces = false;    // false: at most one match (the best face) per image and query face
  QueryFaceSelection query_face;
  int jobs = 0;              // worker threads; 0: all cores
  bool pipelined = true;     // false: every stage on one thread, one image after another (benchmark baseline)
  bool include_query_file = false;  // the query photo itself, when it lies under a target, is skipped
  DecodeOptions decode;
  std::function<void(const Progress&)> on_progress;  // called on the calling thread
  const std::atomic<bool>* cancel = nullptr;         // set to stop early (results so far are returned)
};

// One face of the query photo.
struct QueryFace {
  int index = 0;  // reading-order index in the query photo
  Face face;
  std::vector<float> embedding;
};

struct Match {
  std::filesystem::path path;
  int face_index = 0;     // reading-order index of the face in its image
  Box box;                // full-resolution upright pixels
  float similarity = 0;   // higher = more alike
  float detection_score = 0;
  int query_face = 0;     // which query face it matched best
};

// A file under the targets that could not be analysed; the search went on without it.
struct SkippedFile {
  std::filesystem::path path;
  std::string reason;   // stable code: "decode", "not_found", "io", "inference", ...
  std::string message;  // human-readable, names the file and the problem
};

struct FileWarning {
  std::filesystem::path path;
  std::string message;
};

struct SearchStats {
  size_t images = 0;            // image files considered
  size_t images_analysed = 0;   // decoded and searched
  size_t faces = 0;             // faces found in the targets
  double seconds = 0;           // wall time of the target scan
  StageTimes stage_ms;          // summed over threads
  int jobs = 1;
};

struct SearchReport {
  std::filesystem::path query;
  std::vector<QueryFace> query_faces;
  std::string model;    // pack name
  std::string metric;   // "cosine"
  float threshold = 0;  // the one applied
  std::vector<Match> matches;  // best first
  std::vector<SkippedFile> skipped;
  std::vector<FileWarning> warnings;
  SearchStats stats;
};

// A folder under the targets (or a target) whose content could not be listed: what is in it is unknown,
// which is not the same as empty.
struct UnreadableFolder {
  std::filesystem::path path;
  std::string reason;  // "Permission denied", "does not exist", ...: the system's words, for messages
};

struct PhotoFiles {
  std::vector<std::filesystem::path> files;       // sorted, without duplicates
  std::vector<UnreadableFolder> unreadable;       // in walk order
};

// Image files under the targets: folders are walked recursively (files with a photo extension,
// hidden entries skipped, symlinked folders not followed), files named explicitly are taken as they are.
// A target that does not exist, a folder that cannot be listed, or one whose entries cannot be looked
// at is reported in `unreadable` (and nothing under it is listed); never throws for them.
PhotoFiles find_photo_files(std::span<const std::filesystem::path> targets);

// The files of find_photo_files. Throws Error{kNotFound} for a target that does not exist and
// Error{kIo} for a folder that cannot be read: for callers that need every photo or none (tests, tools).
std::vector<std::filesystem::path> collect_images(std::span<const std::filesystem::path> targets);

// The query photo's faces selected by `selection`. Throws Error{kNotFound}/{kDecode} for an
// unreadable query, Error{kNoFace} when it has no face, Error{kInvalidArgument} for an index out of range.
std::vector<QueryFace> embed_query(const FacePipeline& pipeline, const std::filesystem::path& query,
                                   const QueryFaceSelection& selection, const SearchOptions& options);

// Searches the targets for the query's faces. Unreadable files and folders are reported in `skipped`
// (a folder with reason "folder"), never fatal.
SearchReport search_folder(const FacePipeline& pipeline, const std::filesystem::path& query,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options);

// Same, with query faces already embedded (for callers that reuse them).
SearchReport search_folder(const FacePipeline& pipeline, std::vector<QueryFace> query_faces,
                           std::span<const std::filesystem::path> targets, const SearchOptions& options);

}  // namespace facesearch
