// How each command's result is written: a table (or a line) for people, JSON and CSV for programs.
// Results go to stdout, problems with single files (skipped, warnings) to stderr, so
// `> matches.json` stays clean.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "library/library.h"
#include "library/model_packs.h"
#include "remedies.h"  // describe_rebuild, for the commands that warn of an unfinished rebuild
#include "search/search_report.h"

namespace facesearch::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// "table", "json", "csv" (the only values the CLI lets through).
OutputFormat parse_output_format(std::string_view name);

// Where a library search looked. Passed as nullptr for an on-the-fly search of folders.
struct LibrarySearchContext {
  const SearchContext& where;                 // the library, its index and build time, an unfinished rebuild
  std::vector<std::int64_t> query_face_ids;  // set when the query was indexed faces (--face-id)
};

// ---- search ---------------------------------------------------------------------------------------

// Aligned columns: rank, similarity, face, box, path; a header naming the query faces, model and
// threshold (and the library); a summary line.
void write_table(std::ostream& out, const SearchReport& report, const LibrarySearchContext* library = nullptr);

// One JSON document with the query faces, matches, skipped files, warnings and statistics.
// `interrupted`: the scan was stopped early, so the matches may be incomplete. A library search adds
// "library" and "index", and its "stats" describe the library and the lookup time.
void write_json(std::ostream& out, const SearchReport& report, bool interrupted,
                const LibrarySearchContext* library = nullptr);

// Header "path,similarity,face_index,x1,y1,x2,y2,query_face", one row per match, RFC 4180 quoting
// (LF line ends, which every CSV reader accepts and cut/awk prefer to CRLF).
void write_csv(std::ostream& out, const SearchReport& report);

// One line per skipped file ("facesearch: skipped PATH: MESSAGE") and per warning.
void write_file_problems(std::ostream& err, const SearchReport& report);

// "facesearch: skipped PATH: MESSAGE", the path named once even when the core's message starts with it,
// and the remedy as `command` words it (remedies.h).
std::string skipped_file_line(const std::filesystem::path& path, std::string_view message, const Hint& hint = {},
                              std::string_view command = "");
// "cannot read folder PATH (WHY): its N photos are kept as they were", for `index` on stderr.
std::string unreadable_folder_line(const UnreadableFolderRow& folder);

// ---- index ------------------------------------------------------------------------------------------

// "Indexed N files in X s: ...; library PATH (I images, K faces)" ("Interrupted after X s (N files found):
// ..." after Ctrl-C). `library`: the catalog after the run.
void write_index_summary(std::ostream& out, const IndexReport& report, const LibraryStatus& library);
void write_index_json(std::ostream& out, const IndexReport& report, const LibraryStatus& library);
// `index --forget`: each folder and how many photos left the library with it.
void write_forget_summary(std::ostream& out, std::span<const std::pair<std::filesystem::path, std::int64_t>> forgotten,
                          const LibraryStatus& library, bool json);

// ---- status -----------------------------------------------------------------------------------------

// `errors`: the images recorded with status "error"; the table lists the first 20, JSON all of them.
void write_status_table(std::ostream& out, const LibraryStatus& status, std::span<const ImageRow> errors);
void write_status_json(std::ostream& out, const LibraryStatus& status, std::span<const ImageRow> errors);

// ---- faces ------------------------------------------------------------------------------------------

// The indexed faces of one image: id (for `search --face-id`), index, box, detector score.
void write_faces_table(std::ostream& out, const std::filesystem::path& library, const ImageRow& image,
                       std::span<const FaceRow> faces);
void write_faces_json(std::ostream& out, const std::filesystem::path& library, const ImageRow& image,
                      std::span<const FaceRow> faces, const std::optional<RebuildProgress>& rebuild = std::nullopt);

// ---- models -----------------------------------------------------------------------------------------

// One pack of `models list`: loaded, or the reason it cannot be used.
struct PackListing {
  PackEntry entry;
  std::optional<ModelPack> pack;
  std::string problem;
};

// Aligned columns: name (* for the default), source, detector, recogniser, threshold, licence.
void write_packs_table(std::ostream& out, std::span<const PackListing> packs);
// {"packs": [...], "installed_in", "insightface_root"}; an unusable pack has "error" instead of details.
void write_packs_json(std::ostream& out, std::span<const PackListing> packs);
// `models show`: every network with its input normalisation, the alignment, threshold and licence.
void write_pack_details(std::ostream& out, const PackEntry& entry, const ModelPack& pack);
void write_pack_json(std::ostream& out, const PackEntry& entry, const ModelPack& pack);
// `models verify`: one line per file ("ok"/"FAIL", role, file, what was found) and a verdict.
void write_pack_checks_table(std::ostream& out, const ModelPack& pack, std::span<const PackCheck> checks);
void write_pack_checks_json(std::ostream& out, const ModelPack& pack, std::span<const PackCheck> checks);

// RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
std::string csv_field(std::string_view text);

}  // namespace facesearch::cli
