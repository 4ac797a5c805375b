// `facesearch search --html FILE`: one self-contained HTML page of a search's results, to look at
// without a server. The page is the web page of `facesearch serve` (apps/web: index.html, app.js and
// style.css, inlined), which renders a saved result when it finds one in a
// <script type="application/json" id="facesearch-report"> block: the matches with a JPEG face crop each
// (data: URIs), the query photo with its faces boxed, and the whole photos of the best matches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "search/search_report.h"

namespace facesearch::cli {

// What the page says about the search beyond the report itself.
struct HtmlReportSource {
  float default_threshold = 0;                     // the pack's (the slider colours scores by it)
  std::filesystem::path library;                   // a library search: the library; empty for folders
  std::vector<std::filesystem::path> targets;      // a search of folders: the targets as given
  std::vector<std::int64_t> query_face_ids;        // --face-id searches
  bool interrupted = false;                        // Ctrl-C: the matches cover part of the targets
};

// Sizes of the pictures in the page. Figures measured on phone photos are in `search --help`.
struct HtmlReportOptions {
  int crop_px = 160;        // face crops, JPEG quality 85: as the served page's cards
  int query_px = 800;       // the query photo's longer side, JPEG quality 85
  int photo_px = 1024;      // the longer side of the whole photos of the best matches, JPEG quality 80
  size_t photos = 20;       // how many of the best matches' photos are embedded (0: crops only)
  std::int64_t max_pixels = 0;  // DecodeOptions::max_pixels for reading the photos again (0: the default)
  int jobs = 0;             // threads that read the photos (0: one per core)
};

struct HtmlReportWritten {
  size_t results = 0;            // matches on the page
  std::uintmax_t bytes = 0;      // the file's size
  // Photos that could not be read again (moved, changed, unreadable): their cards have no picture.
  std::vector<std::pair<std::filesystem::path, std::string>> unreadable;
};

// The page's HTML for `report`. Reads every matching photo again (and the query photo) for the crops.
// Throws Error{kIo} when the page's own files (web_assets) are missing or unusable (a broken build).
std::string html_report_page(const SearchReport& report, const HtmlReportSource& source,
                             const HtmlReportOptions& options, HtmlReportWritten& written);

// Checks before a search that `file` can be written there: its folder exists and `file` is not a
// folder. Throws Error{kNotFound} / Error{kInvalidArgument} naming --html.
void check_html_report_target(const std::filesystem::path& file);

// Writes html_report_page() to `file` atomically (a temporary file in the same folder, renamed over
// it): a reader sees the old page or the new one, never half of one. Throws Error{kIo} naming `file`.
HtmlReportWritten write_html_report(const std::filesystem::path& file, const SearchReport& report,
                                    const HtmlReportSource& source, const HtmlReportOptions& options);

// The text of a JSON document made safe to sit inside a <script> element: '<', '>' and '&' (which JSON
// holds only inside strings) written as \u003c, \u003e, \u0026, so no name can close the element.
std::string json_for_script(std::string json);

}  // namespace facesearch::cli
