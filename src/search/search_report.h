// The one vocabulary of searching, for a scan of folders (folder_search.h) and for a library
// (library_search.h): what is asked (SearchOptions), what comes back (SearchReport), and the one
// ranking step both use.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/image_scanner.h"
#include "pipeline/query_faces.h"

namespace facesearch {

struct SearchOptions {
  std::optional<float> threshold;  // minimum similarity, -1..1; none: the model pack's default
  size_t top_k = 0;            // 0: every match over the threshold
  bool all_faces = false;      // false: at most one match (the best face) per image and query face
  QueryFaceSelection query_face;
  // false: the query photos themselves are left out of the results, found by path or, as a copy
  // elsewhere (an upload, a photo copied out of the library), by content.
  bool include_query_file = false;
  bool expand = true;          // the pack's query expansion, where its manifest has one (ModelPack::query_expansion)
  // How faces are found in the query photo and, for a scan of folders, in the targets (a library's
  // faces were found when it was indexed).
  AnalysisOptions analysis;
  // A scan of folders only:
  int jobs = 0;                // worker threads; 0: all cores
  bool pipelined = true;       // false: every stage on one thread, one image after another (benchmark baseline)
  std::function<void(const Progress&)> on_progress;  // called on the calling thread
  const std::atomic<bool>* cancel = nullptr;         // set to stop early (results so far are returned)
};

struct Match {
  std::filesystem::path path;
  int face_index = 0;     // reading-order index of the face in its image
  Box box;                // full-resolution upright pixels
  float similarity = 0;   // higher = more alike
  float detection_score = 0;
  int query_face = 0;     // which query face it matched best
  std::int64_t photo_id = 0, face_id = 0;  // library search: the catalog's ids (0 in a search of folders)
};

// A file under the targets that could not be analysed; the search went on without it.
struct SkippedFile {
  std::filesystem::path path;
  std::string reason;   // stable code: "decode", "not_found", "io", "inference", "folder", ...
  std::string message;  // human-readable, names the file and the problem
  Hint hint;            // what the user can do about it, when the core knows
};

struct FileWarning {
  std::filesystem::path path;
  std::string message;
};

struct SearchStats {
  size_t images = 0;            // image files considered (library: photos it holds)
  size_t images_analysed = 0;   // decoded and searched (library: photos read without error)
  size_t faces = 0;             // faces searched
  double seconds = 0;           // wall time of the scan or the lookup
  StageTimes stage_ms;          // summed over threads (a scan of folders)
  int jobs = 1;
};

// A face that a query face was expanded with (ModelPack::query_expansion).
struct ExpansionFace {
  int query_face = 0;
  std::filesystem::path path;
  int face_index = 0;
  float similarity = 0;  // to the query face before expansion
  std::int64_t photo_id = 0, face_id = 0;  // library search: the catalog's ids
};

struct SearchReport {
  std::filesystem::path query;  // the (first) query photo
  // Several query photos (or face ids) of one person: every one, and how their faces were combined
  // into the one query face ("mean": the normalised mean of their embeddings). Empty for one.
  std::vector<std::filesystem::path> queries;
  std::string combined;
  std::vector<ExpansionFace> expanded_with;  // empty: not expanded (off, no confident match, or no rule)
  // A search for a person (Library::search_person): who; the person's own faces lead the matches.
  std::int64_t person_id = 0;
  std::string person_name;
  size_t person_faces = 0;
  std::vector<QueryFace> query_faces;
  std::vector<Face> query_photo_faces;  // every face found in the (one) query photo, in reading order
  std::string model;    // pack name
  std::string metric;   // "cosine"
  float threshold = 0;  // the one applied
  std::vector<Match> matches;  // best first
  std::vector<SkippedFile> skipped;
  std::vector<FileWarning> warnings;
  SearchStats stats;
};

// The threshold a search applies: options.threshold, or the pack's default when it has none.
float search_threshold(const SearchOptions& options, const ModelPack& pack);

// The threshold a query face's matches are judged at, from the search's `base` threshold: higher for
// a face combined from several photos (ModelPack::several_photos) or expanded (QueryExpansion::raise),
// whose scores run higher for everyone; the larger of the two when both apply. `base` itself for one
// face of one photo, and for a base <= 0.
float query_threshold(float base, const ModelPack& pack, int photos, bool expanded);

// The pack's default threshold as it applies to the report's (first) query face, and the threshold that
// face's matches were judged at: where a page's threshold slider starts and how low its matches go.
float default_threshold_of_query(const SearchReport& report, const ModelPack& pack);
float applied_threshold_of_query(const SearchReport& report);

// The pack's query expansion when options ask for it, else nullptr.
const QueryExpansion* active_expansion(const SearchOptions& options, const ModelPack& pack);

// A candidate for expanding a query: a face's similarity to it and its embedding.
struct ExpansionCandidate {
  float similarity = 0;
  std::span<const float> embedding;
};

// The expanded query: `query` plus the first rule.top candidates that score >= rule.at_least (give them
// best first), each weighted by similarity^3, normalised to unit length. `used` gets their positions.
std::vector<float> expand_query(std::span<const float> query, std::span<const ExpansionCandidate> best_first,
                                const QueryExpansion& rule, std::vector<size_t>& used);

// Several query faces of one person as one: the normalised mean of their embeddings; box and index
// are the first's.
QueryFace combine_query_faces(std::span<const QueryFace> faces);

// The query faces of one photo (as options.query_face selects them) or of several photos of one
// person (their largest faces combined into one); `every_face` gets every face of a single query photo.
// Error{kInvalidArgument} for no photo; embed_query's and embed_query_photos' errors.
std::vector<QueryFace> query_faces_of(const FacePipeline& pipeline, std::span<const std::filesystem::path> queries,
                                      const SearchOptions& options, std::vector<Face>& every_face);

// content_hash() of each query photo that can be read (the searches leave out copies of the query
// photos found by content, unless SearchOptions::include_query_file).
std::vector<std::string> query_file_hashes(std::span<const std::filesystem::path> queries);

// The ranking step of every search: unless options.all_faces, the best match per (photo, query face);
// then best first (ties by path, then face index); then the first options.top_k (0: all).
void rank_matches(std::vector<Match>& matches, const SearchOptions& options);

}  // namespace facesearch
