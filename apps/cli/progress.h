// Scan progress on stderr: a live line redrawn in place on a terminal (at most ~10 times a second),
// a plain line every few seconds when stderr is a file or pipe (nothing at all for short runs).
// Shared by `search` (label "scan") and `index` (label "index").
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/image_scanner.h"

namespace facesearch::cli {

class ProgressLine {
 public:
  // `enabled` false: prints nothing (--quiet). `stream` is not owned. `label` starts each line: "[scan] ...".
  ProgressLine(bool enabled, std::FILE* stream, std::string label = "scan");
  // Ends a live line left open (the search threw), so an error message starts on its own line.
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Safe to call from any thread (SearchOptions::on_progress calls are serialised, but cheap to guard).
  void update(const Progress& progress);

  // Prints a whole line (a skipped file, a warning) above the live line, which is redrawn under it;
  // printed even when progress is disabled, control characters escaped (terminal_text.h). Same
  // thread-safety as update().
  void print_line(std::string_view line);

  // Draws the final state and ends the live line, so later stderr output starts on a fresh line.
  void finish();

 private:
  void draw(const Progress& progress, bool final_line);

  bool enabled_;
  bool terminal_;
  std::string label_;
  std::FILE* stream_;
  std::mutex mutex_;
  std::optional<Progress> last_;
  double last_draw_s_ = 0;  // Progress::elapsed_s of the last line drawn
  bool drawn_ = false;
  bool finished_ = false;
};

// Download progress on stderr for `models add`: "[download] 45.2 MB of 288.6 MB (15%)", redrawn in place
// on a terminal, a line per 10% (or per 50 MB when the size is unknown) when stderr is a file or pipe.
// Single-threaded (the download calls back on the caller's thread).
class DownloadProgressLine {
 public:
  DownloadProgressLine(bool enabled, std::FILE* stream);
  ~DownloadProgressLine();  // ends a live line left open (the download threw)
  DownloadProgressLine(const DownloadProgressLine&) = delete;
  DownloadProgressLine& operator=(const DownloadProgressLine&) = delete;

  void update(std::uint64_t received, std::uint64_t total);  // total 0: unknown
  void finish();

 private:
  bool enabled_;
  bool terminal_;
  std::FILE* stream_;
  bool open_ = false;  // a live line is drawn and not ended
  int next_percent_ = 0;
  std::uint64_t next_bytes_ = 0;
};

}  // namespace facesearch::cli
