// How a SearchReport is written: a table for people, JSON and CSV for programs. Results go to stdout,
// problems with single files (skipped, warnings) to stderr, so `> matches.json` stays clean.
#pragma once

#include <ostream>
#include <string_view>

#include "search/folder_search.h"

namespace facesearch::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// "table", "json", "csv" (the only values the CLI lets through).
OutputFormat parse_output_format(std::string_view name);

// Aligned columns: rank, similarity, face, box, path; a header naming the query faces, model and
// threshold; a summary line.
void write_table(std::ostream& out, const SearchReport& report);

// One JSON document with the query faces, matches, skipped files, warnings and statistics.
// `interrupted`: the scan was stopped early, so the matches may be incomplete.
void write_json(std::ostream& out, const SearchReport& report, bool interrupted);

// Header "path,similarity,face_index,x1,y1,x2,y2,query_face", one row per match, RFC 4180 quoting
// (LF line ends, which every CSV reader accepts and cut/awk prefer to CRLF).
void write_csv(std::ostream& out, const SearchReport& report);

// One line per skipped file ("facesearch: skipped PATH: MESSAGE") and per warning.
void write_file_problems(std::ostream& err, const SearchReport& report);

// RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
std::string csv_field(std::string_view text);

}  // namespace facesearch::cli
