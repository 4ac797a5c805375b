// `facesearch index`: builds the library, or brings it up to date with the folders on disk. Only new,
// changed, moved and deleted photos cost work, so re-running it after adding photos is cheap.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct IndexArgs {
  std::vector<std::string> roots;  // folders or photos; empty: every root indexed before
  std::vector<std::string> forget;  // --forget FOLDER: remove from the library instead of indexing
  std::vector<std::string> mounts;  // --mount HERE LIBRARY_PATH, in pairs
  std::string db;                  // empty: FACESEARCH_DB, then the default library
  int jobs = 0;
  float min_face_px = 0;
  float smallest_face_px = 0;
  int det_size = 0;  // --det-size
  bool rebuild = false;
  bool quiet = false;
  std::string format = "table";
  std::string models_dir;
  std::string model;  // --model NAME
  std::string detector = "auto";  // --detector
  double max_megapixels = 0;      // --max-pixels; 0: the default
};

// A run that completed but could not read some folders (their photos were kept as they were).
constexpr int kExitIncomplete = 3;

// Registers the subcommand and its flags on `app`; parsed values land in `args`, which must outlive `app`.
CLI::App* add_index_command(CLI::App& app, IndexArgs& args);

// After parsing: unknown options. Throws a CLI::ParseError.
void check_index_args(const CLI::App& index, const IndexArgs& args);

// Indexes and prints the summary. Returns 0 when the run completed (also with files that could not be
// read: they are listed), kExitIncomplete when folders could not be read, 130 when interrupted with
// Ctrl-C (what was indexed so far is kept).
// Throws facesearch::Error; the caller maps it to an exit status.
int run_index(const IndexArgs& args);

}  // namespace facesearch::cli
