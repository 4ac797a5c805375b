#include "search_command.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "models/model_pack.h"
#include "pipeline/face_pipeline.h"
#include "progress.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;

// Set by Ctrl-C; the scan polls it through SearchOptions::cancel. A signal handler can reach nothing
// but a global, and only a lock-free atomic is safe to touch there.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Installs the Ctrl-C handler for its lifetime. SA_RESETHAND: a second Ctrl-C kills the process the
// usual way, for when stopping cleanly takes too long.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
  ~SigintGuard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

constexpr int kExitInterrupted = 130;  // 128 + SIGINT, what shells report for a Ctrl-C'd command

// The footer of `facesearch search --help`: what a user needs to read the output and fix a failure.
constexpr const char* kSearchFooter = R"(Examples:
  Find yourself in your photos:
    facesearch search --query me.jpg --target ~/Pictures
  Several folders and a single photo, only the 20 best matches:
    facesearch search -q me.jpg -t ~/Pictures -t /media/phone/DCIM holiday/beach.jpg --top-k 20
  For a program or a spreadsheet:
    facesearch search -q me.jpg -t ~/Pictures --format json > matches.json
    facesearch search -q me.jpg -t ~/Pictures --format csv > matches.csv
  The query is a group photo: see its faces with --query-face all, then pick one by index:
    facesearch search -q party.jpg -t ~/Pictures --query-face all
    facesearch search -q party.jpg -t ~/Pictures --query-face 2

Similarity:
  Each face becomes a 128-number dlib ResNet descriptor; the similarity of two faces is the cosine
  similarity of their descriptors, from -1 to 1, and HIGHER MEANS MORE ALIKE. A target face matches
  when its similarity to a query face is at least the threshold: the model pack's default (0.92 for
  dlib-faceapi) unless --threshold is given. Raise it (0.94) for fewer wrong matches, lower it (0.90)
  to find more photos of the person in hard poses or light. Matches are listed best first.
  Faces are numbered in reading order (left to right, top to bottom) within each photo.

Output:
  Results go to stdout, everything else to stderr: a live progress line (on a terminal), one
  "facesearch: skipped PATH: WHY" line per file that could not be read (the search goes on without
  it), warnings, and errors. --quiet keeps stderr to errors only. Ctrl-C stops the scan and prints
  the matches found so far.

Models:
  The folder of the face models is, first found: --models DIR, $FACESEARCH_MODELS, or
  ${XDG_DATA_HOME:-~/.local/share}/facesearch/models/dlib-faceapi, which `make setup` builds.

Exit status:
  0    the search ran (also when nothing matched, or some target files were skipped)
  1    it could not run: query photo missing, unreadable or without a face; a target missing;
       models missing or broken; a read or inference failure
  2    usage error: unknown option, missing --query or --target, bad value, --query-face out of range
  130  interrupted with Ctrl-C (the matches found until then were printed)
)";

}  // namespace

std::optional<QueryFaceSelection> parse_query_face(std::string_view text) {
  QueryFaceSelection selection;
  if (text == "largest") {
    selection.mode = QueryFaceSelection::Mode::kLargest;
    return selection;
  }
  if (text == "all") {
    selection.mode = QueryFaceSelection::Mode::kAll;
    return selection;
  }
  int index = -1;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, index);
  if (text.empty() || ec != std::errc{} || stop != end || index < 0) return std::nullopt;
  selection.mode = QueryFaceSelection::Mode::kIndex;
  selection.index = index;
  return selection;
}

CLI::App* add_search_command(CLI::App& app, SearchArgs& args) {
  CLI::App* search = app.add_subcommand("search", "Find every photo of the person in a query photo");
  search->footer(kSearchFooter);

  // Requiredness is checked in check_search_args, after unknown options: `search --qeury x` should
  // hear about the typo, not about a missing --query.
  search->allow_extras();
  search->add_option("-q,--query", args.query, "Required. Photo of the person to look for (see --query-face)")
      ->type_name("PHOTO");
  search->add_option("-t,--target", args.targets,
                     "Required. Folder (walked recursively) or photo to search; repeat for several")
      ->type_name("PATH");
  search->add_option("targets", args.extra_targets, "More folders or photos to search, after the options")
      ->type_name("PATH");

  const CLI::Validator non_negative_integer(
      [](std::string& value) -> std::string {
        long long number = 0;
        if (!CLI::detail::lexical_cast(value, number) || number < 0) {
          return "must be a whole number >= 0, not '" + value + "'";
        }
        return {};
      },
      "");
  const CLI::Validator non_negative_number(
      [](std::string& value) -> std::string {
        double number = 0;
        if (!CLI::detail::lexical_cast(value, number) || !std::isfinite(number) || number < 0) {
          return "must be a number >= 0, not '" + value + "'";
        }
        return {};
      },
      "");  // the type name (T, PX) and the description say enough in --help
  search->add_option("--threshold", args.threshold,
                     "Minimum similarity for a match, higher = stricter (default: the models', 0.92)")
      ->type_name("T")
      ->check(non_negative_number);
  search->add_option("--min-face", args.min_face_px,
                     "Ignore target faces whose shorter side is under PX pixels (default 0: keep all)")
      ->type_name("PX")
      ->check(non_negative_number);
  search->add_option("--top-k", args.top_k, "Show only the N best matches (default 0: all over the threshold)")
      ->type_name("N")
      ->check(non_negative_integer);
  search->add_option("--format", args.format, "Output format (default table; json and csv are for programs)")
      ->type_name("table|json|csv")
      ->check(CLI::IsMember({"table", "json", "csv"}).description(""));
  search->add_option("--query-face", args.query_face,
                     "Query face(s) to look for: largest (default), all, or an INDEX in reading order")
      ->type_name("largest|all|INDEX")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            return parse_query_face(value) ? std::string{}
                                           : "must be largest, all or a face index (0, 1, ...), not '" + value + "'";
          },
          ""));
  search->add_option("--jobs", args.jobs, "Worker threads (default 0: all cores)")
      ->type_name("N")
      ->check(non_negative_integer);
  search->add_flag("--quiet", args.quiet, "No progress or per-file messages on stderr, only errors");
  search->add_option("--models", args.models_dir,
                     "Models folder (default: $FACESEARCH_MODELS, else the one `make setup` builds)")
      ->type_name("DIR");
  return search;
}

void check_search_args(const CLI::App& search, const SearchArgs& args) {
  if (const std::vector<std::string> unknown = search.remaining(); !unknown.empty()) {
    throw CLI::ExtrasError(unknown);
  }
  if (args.query.empty()) throw CLI::RequiredError("--query (the photo of the person to look for)");
  if (args.targets.empty() && args.extra_targets.empty()) {
    throw CLI::RequiredError("--target (a folder or photo to search)");
  }
}

int run_search(const SearchArgs& args) {
  std::vector<fs::path> targets(args.targets.begin(), args.targets.end());
  targets.insert(targets.end(), args.extra_targets.begin(), args.extra_targets.end());
  const OutputFormat format = parse_output_format(args.format);

  SearchOptions options;
  options.threshold = args.threshold;
  options.min_face_px = args.min_face_px;
  options.top_k = args.top_k;
  options.query_face = parse_query_face(args.query_face).value();  // the flag's validator let it through
  options.jobs = args.jobs;

  SigintGuard sigint_guard;
  options.cancel = &g_interrupted;
  ProgressLine progress(!args.quiet, stderr);
  options.on_progress = [&progress](const Progress& p) { progress.update(p); };

  const std::optional<fs::path> models_arg =
      args.models_dir.empty() ? std::nullopt : std::optional<fs::path>(args.models_dir);
  FacePipeline pipeline(load_model_pack(resolve_models_dir(models_arg)), RuntimeOptions{});
  if (g_interrupted.load()) {  // Ctrl-C while the models loaded: nothing searched yet
    std::cerr << "facesearch: interrupted before the search started\n";
    return kExitInterrupted;
  }

  const SearchReport report = search_folder(pipeline, fs::path(args.query), targets, options);
  progress.finish();
  const bool interrupted = g_interrupted.load();

  if (!args.quiet) {
    write_file_problems(std::cerr, report);
    if (report.stats.images == 0) {
      std::cerr << "facesearch: warning: no photos found in the targets (looked for .jpg, .png, ... files)\n";
    }
  }
  switch (format) {
    case OutputFormat::kTable: write_table(std::cout, report); break;
    case OutputFormat::kJson: write_json(std::cout, report, interrupted); break;
    case OutputFormat::kCsv: write_csv(std::cout, report); break;
  }
  std::cout.flush();

  if (interrupted) {
    const size_t done = report.stats.images_analysed + report.skipped.size();
    std::cerr << "facesearch: interrupted after " << done << " of " << report.stats.images
              << " images; the results cover only those\n";
    return kExitInterrupted;
  }
  return 0;
}

}  // namespace facesearch::cli
