// Runs the pipeline over many image files with the stages overlapped across threads:
// `jobs` workers decode, detect, landmark and align; the calling thread gathers the chips of several
// images and embeds them in batches. Results come back on the calling thread, one image at a time,
// so consumers (on-the-fly search now, the indexer later) need no locking.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "pipeline/face_pipeline.h"

namespace facesearch {

struct Progress {
  size_t done = 0;   // images finished (analysed or skipped)
  size_t total = 0;  // images to do
  size_t faces = 0;  // faces found so far
  double elapsed_s = 0;
};

struct ScanOptions {
  int jobs = 0;           // worker threads; 0: one per core
  bool pipelined = true;  // false: all stages on the calling thread, one image after another
  AnalysisOptions analysis;
  std::function<void(const Progress&)> on_progress;  // called on the calling thread
  const std::atomic<bool>* cancel = nullptr;         // stops after the images in flight
  // Called on a worker thread with the file's content hash after reading it and before decoding;
  // returning false skips the analysis (the image is delivered with analysed = false and no faces).
  // Lets the indexer recognise moved and touched photos without decoding them. Must be thread-safe.
  std::function<bool(const std::filesystem::path&, const std::string& hash)> should_analyze;
};

struct ScannedImage {
  std::filesystem::path path;
  std::string hash;        // content_hash() of the file's bytes
  bool analysed = true;    // false when should_analyze declined
  int width = 0, height = 0;  // full-resolution upright size
  std::vector<FaceRecord> faces;
  std::vector<std::string> warnings;
};

// A file that could not be analysed.
struct ScanFailure {
  std::filesystem::path path;
  std::string reason;   // stable code (error_code_name): "decode", "not_found", "io", "inference", ...
  std::string message;  // names the file and the problem
  std::string hash;     // content hash when the file could be read
  Hint hint;            // what the user can do about it, when the core knows (e.g. raise the pixel limit)
};

struct ScanSummary {
  size_t images = 0;           // files given
  size_t images_analysed = 0;  // decoded and run through the pipeline
  size_t faces = 0;
  double seconds = 0;  // wall time
  StageTimes stage_ms;  // summed over threads
  int jobs = 1;
  bool cancelled = false;
};

// Calls on_image for every analysed file and on_failure for every file that failed, both on the
// calling thread, in completion order. Never throws for a bad file.
ScanSummary scan_images(const FacePipeline& pipeline, std::span<const std::filesystem::path> files,
                        const ScanOptions& options, const std::function<void(ScannedImage&&)>& on_image,
                        const std::function<void(ScanFailure&&)>& on_failure);

}  // namespace facesearch
