#include "search_command.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "flags.h"
#include "html_report.h"
#include "interrupt.h"
#include "library/library.h"
#include "progress.h"
#include "terminal_text.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;

// The footer of `facesearch search --help`: what a user needs to read the output and fix a failure.
constexpr const char* kSearchFooter = R"(Two ways to search:
  In your library (build it once with `facesearch index ~/Pictures`): answers in milliseconds.
    facesearch search --query me.jpg
  On the fly, in folders named with --target (no library needed; every photo is read each time):
    facesearch search --query me.jpg --target ~/Pictures

Examples:
  The 20 best matches, for a program or a spreadsheet:
    facesearch search -q me.jpg --top-k 20 --format json > matches.json
    facesearch search -q me.jpg --format csv > matches.csv
  More photos of a face already in the library: list a photo's faces and their ids, then
    facesearch faces ~/Pictures/party.jpg
    facesearch search --face-id 1234
  Every photo of a person the library grouped and you named (`facesearch people`):
    facesearch search --person Anna
  The query is a group photo: see its faces with --query-face all, then pick one by index:
    facesearch search -q party.jpg --query-face all
    facesearch search -q party.jpg --query-face 2
  Several folders and a single photo, without a library:
    facesearch search -q me.jpg -t ~/Pictures -t /media/phone/DCIM holiday/beach.jpg

Similarity:
  Each face becomes an embedding, a vector of numbers from the model pack's recognition network (512
  from the MobileFaceNet of the default mobilefacenet-faceapi pack, 128 from dlib's ResNet in
  dlib-faceapi, 512 from InsightFace's ArcFace, 128 from SFace).
  The similarity of two faces is the cosine similarity of their embeddings, from -1 to 1, and
  HIGHER MEANS MORE ALIKE. A face matches when
  its similarity to a query face is at least the threshold: the model pack's default (0.40 for
  mobilefacenet-faceapi, 0.92 for dlib-faceapi) unless --threshold is given. Raise it (0.45) for
  fewer wrong matches, lower it (0.35) to find more photos of the person in hard poses or light. Matches are listed best first, one per
  photo (its best face) unless --all-faces is given. Faces are numbered in reading order (left to
  right, top to bottom) within each photo. The query photo itself is never listed, nor a copy of it
  (the same bytes under another name).

Query expansion and several photos:
  With the default pack a search first looks for the query face's best matches, and adds the 3 that
  are confidently the same person (similarity >= 0.50) to the query, weighted by how alike they are:
  more photos of the person are found in hard poses and light, and no more strangers (measured on 78
  people: recall 0.96 -> 0.98, precision 0.981 -> 0.989). The output says which faces expanded the
  query ("expanded_with" in JSON); --no-expand searches with the query face alone.
  Several photos of the person find more than one: give --query once per photo (or --face-id once per
  face); their faces are combined into one query (the mean of their embeddings) and all of them are
  left out of the results.
  A query made of several faces scores everyone a little higher, strangers too, so its matches are
  judged at a higher threshold, chosen like the default: with the default pack 0.42 for an expanded
  query, 0.45 for two photos, 0.47 for three (--threshold is raised the same way). The first line
  of the output says so ("threshold 0.4; 0.42 for the query, expanded"; "threshold" of each query
  face in JSON).
    facesearch search -q me1.jpg -q me2.jpg -q me3.jpg

Library:
  --db PATH, else $FACESEARCH_DB, else ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db.
  The library only knows what the last `facesearch index` saw: run it again after adding photos.
  --index exact compares the query with every face (never misses; at a million faces about 20 ms
  with 128-number embeddings, 220 ms with the default pack's 512).
  approx uses an HNSW graph (about 1 ms at a million faces, recall 0.99): `facesearch index` builds
  and saves one next to the library (LIBRARY.hnsw) once it holds 50000 faces. auto (default) uses
  that saved graph from 200000 faces while it is current (below that, mapping the vectors is quicker
  than loading a graph for one search; `facesearch serve` uses the graph from 50000) and the exact
  search otherwise; approx without a saved graph builds one in memory (minutes per million faces).

Output:
  Results go to stdout, everything else to stderr: a live progress line while scanning targets (on
  a terminal), one "facesearch: skipped PATH: WHY" line per target file that could not be read (the
  search goes on without it), warnings, and errors. --quiet keeps stderr to errors only. Ctrl-C (or
  SIGTERM) stops a scan of targets and prints the matches found so far. In tables and messages,
  control characters in file names are shown escaped (\n, \x1b, ...); JSON and CSV keep names as
  they are (JSON replaces bytes that are not UTF-8).
  Names that start with "-" go after "--": facesearch search -q me.jpg -- -holiday/
  --html FILE also writes the results as one web page that needs no server and loads nothing from the
  network (the page of `facesearch serve`, with the result saved in it): the query photo with its
  faces boxed, a card per match with its face crop and score, the threshold slider, and the whole
  photo of each of the --html-photos N best matches (default 20) when a card is opened. Pictures are
  JPEG inside the file: a face crop (160 px) takes about 8 KB, a photo (at most 1024 px) about
  120 KB from a 12-megapixel phone photo (less from small ones), the page itself 100 KB: 100 matches
  make about 3.5 MB with the default 20 photos, 1 MB with --html-photos 0. The page holds the
  photos' paths and faces: share it with care. stdout is unchanged; stderr says what was written.
    facesearch search -q me.jpg --html me.html

Models:
  The face models (a model pack) are, first found: --models DIR, --model NAME, $FACESEARCH_MODELS,
  the pack the library was built with (library search), or mobilefacenet-faceapi, which `make setup` builds
  in ${XDG_DATA_HOME:-~/.local/share}/facesearch/models. `facesearch models list` shows the packs:
  InsightFace's (buffalo_l, antelopev2, ...) are found in ~/.insightface/models, others are added
  with `facesearch models add`. Each pack has its own similarity scale and default threshold
  (mobilefacenet-faceapi 0.40, dlib-faceapi 0.92, InsightFace's ArcFace 0.5, SFace 0.363:
  `facesearch models show NAME`).
    facesearch search --model buffalo_l -q me.jpg -t ~/Pictures

Exit status:
  0    the search ran (also when nothing matched, or some target files were skipped)
  1    it could not run: no library yet (run `facesearch index FOLDER`), a library made with other
       models or damaged; query photo missing, unreadable or without a face; unknown --face-id; a
       target missing; models missing or broken; a read or inference failure; the results or the
       --html page could not be written (a full disk, a missing folder)
  2    usage error: unknown option, neither or both of --query and --face-id, --face-id with
       --target, bad value (--threshold outside -1..1, --jobs over 256), --query-face out of range
  130  interrupted with Ctrl-C (the matches found until then were printed)
  143  stopped by SIGTERM, like Ctrl-C
)";

IndexKind parse_index_kind(std::string_view name) {
  if (name == "exact") return IndexKind::kExact;
  if (name == "approx") return IndexKind::kApprox;
  return IndexKind::kAuto;
}

// Writes the report in the chosen format. `library`: nullptr for an on-the-fly search.
void write_report(const SearchReport& report, OutputFormat format, bool interrupted,
                  const LibrarySearchContext* library) {
  switch (format) {
    case OutputFormat::kTable: write_table(std::cout, report, library); break;
    case OutputFormat::kJson: write_json(std::cout, report, interrupted, library); break;
    case OutputFormat::kCsv: write_csv(std::cout, report); break;
  }
  std::cout.flush();
}

// --html FILE: the page, after the results went to stdout; "facesearch: wrote FILE (N results, X KB)".
void write_html_page(const SearchArgs& args, const SearchReport& report, const HtmlReportSource& source) {
  HtmlReportOptions options;
  options.photos = args.html_photos;
  options.max_pixels = max_pixels_from_flag(args.max_megapixels);
  options.jobs = args.jobs;
  const fs::path file(args.html);
  const HtmlReportWritten written = write_html_report(file, report, source, options);
  if (args.quiet) return;
  for (const auto& [path, why] : written.unreadable)
    std::cerr << "facesearch: warning: cannot read " << printable(path) << " again for the page (" << printable(why)
              << "): its card has no picture\n";
  std::cerr << "facesearch: wrote " << printable(file) << " (" << written.results
            << (written.results == 1 ? " result, " : " results, ") << (written.bytes + 512) / 1024 << " KB)\n";
}

// The flags every search shares, in the core's one options type.
SearchOptions search_options(const SearchArgs& args) {
  SearchOptions options;
  options.threshold = args.threshold;
  options.top_k = args.top_k;
  options.all_faces = args.all_faces;
  options.expand = !args.no_expand;
  options.query_face = parse_query_face(args.query_face).value();  // the flag's validator let it through
  options.analysis.detect.min_face_px = args.min_face_px;
  options.analysis.detect.smallest_face_px = args.smallest_face_px;
  options.analysis.detect.input_px = args.det_size;
  options.analysis.decode.max_pixels = max_pixels_from_flag(args.max_megapixels);
  options.jobs = args.jobs;
  return options;
}

int run_library_search(const SearchArgs& args) {
  const OutputFormat format = parse_output_format(args.format);
  SearchRequest request;
  request.pack = pack_request(args.models_dir, args.model);
  request.detection = detection_strategy(args.detector);
  request.index = parse_index_kind(args.index);
  request.photo_queries = args.face_ids.empty() && args.person.empty();
  if (!args.html.empty()) check_html_report_target(args.html);  // before the search, not after it
  const Library library = Library::open_for_search(library_path(args.db), request);
  note_licence(*library.pack(), args.quiet);
  const SearchContext& where = library.search_context();
  if (!args.quiet)
    for (const auto& w : where.side_file_warnings)
      std::cerr << "facesearch: warning: " << printable(w.path) << ' ' << w.problem << "; searching "
                << (where.index_kind == "exact" ? "exactly" : "without it") << " until `facesearch index` rewrites it\n";
  LibrarySearchContext context{where, {}};
  if (!args.quiet && where.rebuild) std::cerr << "facesearch: warning: " << describe_rebuild(*where.rebuild) << '\n';

  const SearchOptions options = search_options(args);
  SearchReport report;
  if (!args.person.empty()) {
    report = library.search_person(args.person, options);
  } else if (!args.face_ids.empty()) {
    context.query_face_ids = args.face_ids;
    report = library.search_faces(args.face_ids, options);
  } else {
    const std::vector<fs::path> queries(args.queries.begin(), args.queries.end());
    report = library.search_photos(queries, options);
  }
  if (!args.quiet && report.stats.faces == 0) {
    std::cerr << "facesearch: warning: library " << printable(library.path())
              << " holds no faces yet; add photos with `facesearch index FOLDER`\n";
  }
  write_report(report, format, false, &context);
  if (!args.html.empty()) {
    HtmlReportSource source;
    source.default_threshold = default_threshold_of_query(report, *library.pack());
    source.library = library.path();
    source.query_face_ids = args.face_ids;
    write_html_page(args, report, source);
  }
  return 0;
}

int run_folder_search(const SearchArgs& args) {
  std::vector<fs::path> targets(args.targets.begin(), args.targets.end());
  targets.insert(targets.end(), args.extra_targets.begin(), args.extra_targets.end());
  const OutputFormat format = parse_output_format(args.format);
  if (!args.html.empty()) check_html_report_target(args.html);  // before the scan, not after it

  SearchOptions options = search_options(args);
  const InterruptGuard interrupt;
  options.cancel = interrupt.flag();
  ProgressLine progress(!args.quiet, stderr);
  options.on_progress = [&progress](const Progress& p) { progress.update(p); };

  const FolderSearch searcher(pack_request(args.models_dir, args.model), detection_strategy(args.detector));
  note_licence(searcher.pack(), args.quiet);
  if (interrupt.interrupted()) {  // Ctrl-C or SIGTERM while the models loaded: nothing searched yet
    std::cerr << "facesearch: interrupted before the search started\n";
    return interrupt.exit_status();
  }

  const std::vector<fs::path> queries(args.queries.begin(), args.queries.end());
  const SearchReport report = searcher.search(queries, targets, options);
  progress.finish();
  const bool interrupted = interrupt.interrupted();

  if (!args.quiet) {
    write_file_problems(std::cerr, report);
    if (report.stats.images == 0) {
      std::cerr << "facesearch: warning: no photos found in the targets (looked for .jpg, .png, ... files)\n";
    }
  }
  write_report(report, format, interrupted, nullptr);
  if (!args.html.empty()) {
    HtmlReportSource source;
    source.default_threshold = default_threshold_of_query(report, searcher.pack());
    source.targets = targets;
    source.interrupted = interrupted;
    write_html_page(args, report, source);
  }

  if (interrupted) {
    const size_t done = report.stats.images_analysed + report.skipped.size();
    std::cerr << "facesearch: interrupted after " << done << " of " << report.stats.images
              << " images; the results cover only those\n";
    return interrupt.exit_status();
  }
  return 0;
}

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
  CLI::App* search = app.add_subcommand(
      "search", "Find every photo of a person: in your library, or on the fly in folders (--target)");
  search->footer(kSearchFooter);

  // Requiredness is checked in check_search_args, after unknown options: `search --qeury x` should
  // hear about the typo, not about a missing --query.
  search->allow_extras();
  search->add_option("-q,--query", args.queries,
                     "Photo of the person to look for (see --query-face); repeat with more photos of the same "
                     "person to search for their faces combined")
      ->type_name("PHOTO")
      ->allow_extra_args(false);
  search->add_option("--face-id", args.face_ids,
                     "Instead of --query: a face of the library, by the id `facesearch faces PHOTO` shows; repeat "
                     "for several faces of one person")
      ->type_name("ID")
      ->allow_extra_args(false)
      ->check(non_negative_integer());
  search->add_option("--person", args.person,
                     "Instead of --query: every photo of a person of the library (an id or name, as `facesearch "
                     "people` lists them): its faces, and faces that match several of them")
      ->type_name("PERSON")
      ->allow_extra_args(false);
  search->add_flag("--no-expand", args.no_expand,
                   "Search with the query face alone: no query expansion (on by default with packs that have it)");
  search->add_option("-t,--target", args.targets,
                     "Search this folder (walked recursively) or photo on the fly, not the library; repeat "
                     "for several")
      ->type_name("PATH")
      // One value per -t (more go to the positional targets, same effect): a list option would end at
      // "--" and eat it, so `-t DIR -- -odd` would read -odd as an option.
      ->allow_extra_args(false);
  search->add_option("targets", args.extra_targets, "More folders or photos to search on the fly, after the options")
      ->type_name("PATH");
  add_db_option(*search, args.db);
  search->add_option("--index", args.index,
                     "Library search: exact (never misses), approx (HNSW, for huge libraries), auto (default)")
      ->type_name("auto|exact|approx")
      ->check(CLI::IsMember({"auto", "exact", "approx"}).description(""));
  add_threshold_option(*search, args.threshold,
                       "Minimum similarity for a match, -1 to 1, higher = stricter (default: the model pack's; 0.40 "
                       "for the default mobilefacenet-faceapi, 0.92 for dlib-faceapi)");
  search->add_option("--top-k", args.top_k, "Show only the N best matches (default 0: all over the threshold)")
      ->type_name("N")
      ->check(non_negative_integer());
  search->add_flag("--all-faces", args.all_faces,
                   "List every matching face of a photo, not only its best one (group photos)");
  add_format_option(*search, args.format, {"table", "json", "csv"},
                    "Output format (default table; json and csv are for programs)");
  search->add_option("--query-face", args.query_face,
                     "Query face(s) to look for: largest (default), all, or an INDEX in reading order")
      ->type_name("largest|all|INDEX")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            return parse_query_face(value) ? std::string{}
                                           : "must be largest, all or a face index (0, 1, ...), not '" + value + "'";
          },
          ""));
  search->add_option("--min-face", args.min_face_px,
                     "Ignore faces under PX pixels, shorter side (default 0: keep all); library: query only")
      ->type_name("PX")
      ->check(non_negative_number());
  add_jobs_option(*search, args.jobs,
                  "Worker threads for a scan of targets, at most " + std::to_string(kMaxJobs) +
                      " (default 0: one per core)");
  CLI::Option* html = search->add_option(
      "--html", args.html,
      "Also write the results as one web page, FILE, to open in a browser without a server (see Output below)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  search->add_option("--html-photos", args.html_photos,
                     "With --html: embed the whole photos (1024 px) of the N best matches too (default 20; 0: face "
                     "crops only)")
      ->type_name("N")
      ->check(non_negative_integer())
      ->needs(html);
  search->add_flag("--quiet", args.quiet, "No progress or per-file messages on stderr, only errors");
  add_model_option(*search, args.model, add_models_option(*search, args.models_dir));
  add_detector_option(*search, args.detector);
  add_smallest_face_option(*search, args.smallest_face_px);
  add_det_size_option(*search, args.det_size);
  add_max_pixels_option(*search, args.max_megapixels);
  return search;
}

void check_search_args(const CLI::App& search, const SearchArgs& args) {
  throw_if_unknown_options(search);
  const bool by_query = search.count("--query") > 0;
  const bool by_face = search.count("--face-id") > 0;
  const bool by_person = search.count("--person") > 0;
  if (by_query && by_face) throw CLI::ExcludesError("--query", "--face-id (give a photo or a face id, not both)");
  if (by_person && (by_query || by_face))
    throw CLI::ExcludesError("--person", by_query ? "--query (give a photo or a person, not both)"
                                                  : "--face-id (give a face id or a person, not both)");
  if (by_person && args.person.empty()) throw CLI::ValidationError("--person", "needs an id or a name");
  if (!by_query && !by_face && !by_person) {
    throw CLI::RequiredError(
        "--query (the photo of the person to look for), --face-id (a face of the library) or --person (a person of "
        "the library)");
  }
  for (const auto& q : args.queries)
    if (q.empty()) throw CLI::ValidationError("--query", "needs a photo");
  if (args.queries.size() > 1 && search.count("--query-face") > 0 && args.query_face != "largest")
    throw CLI::ValidationError("--query-face",
                               "picks faces of a single --query photo; several --query photos are searched by the "
                               "largest face of each");
  const bool on_the_fly = !args.targets.empty() || !args.extra_targets.empty();
  if (on_the_fly) {
    // A library search and a scan of folders do not mix: say which flag belongs to which.
    if (by_face) throw CLI::ExcludesError("--face-id", "--target (face ids name faces of the library)");
    if (by_person) throw CLI::ExcludesError("--person", "--target (people are the library's)");
    if (search.count("--db") > 0) throw CLI::ExcludesError("--db", "--target (--target searches without a library)");
    if (search.count("--index") > 0) {
      throw CLI::ExcludesError("--index", "--target (--target searches without a library)");
    }
  }
  if (search.count("--html") > 0 && args.html.empty()) throw CLI::ValidationError("--html", "needs a file name");
  if ((by_face || by_person) && search.count("--query-face") > 0) {
    throw CLI::ExcludesError("--query-face", std::string(by_face ? "--face-id" : "--person") +
                                                 " (--query-face picks faces of a --query photo)");
  }
}

int run_search(const SearchArgs& args) {
  const bool on_the_fly = !args.targets.empty() || !args.extra_targets.empty();
  return on_the_fly ? run_folder_search(args) : run_library_search(args);
}

}  // namespace facesearch::cli
