// `facesearch search`: the person in a query photo (or an indexed face), looked for in the library
// that `facesearch index` built, or on the fly in folders named with --target.
// Flags are parsed by CLI11 into SearchArgs; run_search turns them into one core search call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "output.h"
#include "pipeline/query_faces.h"

namespace facesearch::cli {

struct SearchArgs {
  std::vector<std::string> queries;           // -q/--query, one photo each: several are one person
  std::vector<std::int64_t> face_ids;         // --face-id, one each: several are one person
  std::string person;                         // --person ID|NAME: a person of the library (`facesearch people`)
  bool no_expand = false;                     // --no-expand
  std::vector<std::string> targets;           // -t/--target, in order
  std::vector<std::string> extra_targets;     // positional targets after the options
  std::string db;                             // empty: FACESEARCH_DB, then the default library
  std::string index = "auto";                 // library search: auto, exact or approx
  std::optional<float> threshold;             // none: the model pack's default
  float min_face_px = 0;
  float smallest_face_px = 0;
  int det_size = 0;  // --det-size
  double max_megapixels = 0;  // --max-pixels; 0: the default
  size_t top_k = 0;
  bool all_faces = false;
  std::string query_face = "largest";
  std::string format = "table";
  int jobs = 0;
  bool quiet = false;
  std::string models_dir;
  std::string model;  // --model NAME
  std::string detector = "auto";  // --detector  // empty: FACESEARCH_MODELS, then the default folder
  std::string html;          // --html FILE: also write the results as one self-contained web page
  size_t html_photos = 20;   // --html-photos N: whole photos of the N best matches in that page
};

// "largest", "all" or a non-negative face index; nullopt for anything else.
std::optional<QueryFaceSelection> parse_query_face(std::string_view text);

// Registers the subcommand and its flags on `app`; parsed values land in `args`, which must outlive `app`.
CLI::App* add_search_command(CLI::App& app, SearchArgs& args);

// After parsing `search` (the App add_search_command returned): unknown options first, then exactly
// one of --query and --face-id, then flags that do not fit the mode (--face-id, --db or --index with
// --target; --query-face with --face-id). Throws a CLI::ParseError, so the caller reports it like any
// other usage error.
void check_search_args(const CLI::App& search, const SearchArgs& args);

// Runs the search and prints the report: against the library when no target is given, else on the
// fly over the targets. Returns 0, or 130 when a scan of targets is interrupted with Ctrl-C (matches
// found so far are still printed). Throws facesearch::Error; the caller maps it to an exit status.
int run_search(const SearchArgs& args);

}  // namespace facesearch::cli
