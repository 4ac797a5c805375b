#include "progress.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <unistd.h>

#include "terminal_text.h"

namespace facesearch::cli {
namespace {

// A terminal redraws cheaply (~10 Hz); a log file should not get a line per image.
constexpr double kTerminalInterval_s = 0.1;
constexpr double kLogInterval_s = 2.0;

std::string format_duration(double seconds) {
  const long s = std::lround(seconds);
  char text[32];
  if (s < 60) {
    std::snprintf(text, sizeof text, "%lds", s);
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  }
  return text;
}

std::string format_progress(const std::string& label, const Progress& p, bool final_line) {
  const double rate = p.elapsed_s > 0 ? static_cast<double>(p.done) / p.elapsed_s : 0.0;
  std::string tail;
  if (final_line) {
    tail = "in " + format_duration(p.elapsed_s);
  } else if (rate > 0 && p.done > 0) {
    tail = "ETA " + format_duration(static_cast<double>(p.total - std::min(p.done, p.total)) / rate);
  } else {
    tail = "ETA --";
  }
  char text[160];
  std::snprintf(text, sizeof text, "[%s] %zu/%zu images, %zu faces, %.1f img/s, %s", label.c_str(), p.done,
                p.total, p.faces, rate, tail.c_str());
  return text;
}

// One progress line: redrawn in place on a terminal (\r returns to the start of the line, ESC[K clears
// what a longer previous line left behind), a line of its own in a log.
void draw_progress_text(std::FILE* stream, bool terminal, const std::string& line) {
  if (terminal) {
    std::fprintf(stream, "\r%s\033[K", line.c_str());
  } else {
    std::fprintf(stream, "%s\n", line.c_str());
  }
  std::fflush(stream);
}

}  // namespace

ProgressLine::ProgressLine(bool enabled, std::FILE* stream, std::string label)
    : enabled_(enabled), terminal_(isatty(fileno(stream)) == 1), label_(std::move(label)), stream_(stream) {}

ProgressLine::~ProgressLine() {
  if (terminal_ && drawn_ && !finished_) std::fputc('\n', stream_);
}

void ProgressLine::update(const Progress& progress) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  if (finished_) return;
  last_ = progress;
  // Measured on the scan's own clock; a log's first line comes only after kLogInterval, so short
  // runs print nothing there.
  const double interval_s = terminal_ ? kTerminalInterval_s : kLogInterval_s;
  // The last image is left to finish(), which draws the closing line.
  const bool last_image = progress.total > 0 && progress.done >= progress.total;
  if (!last_image && ((terminal_ && !drawn_) || progress.elapsed_s - last_draw_s_ >= interval_s)) {
    draw(progress, false);
    last_draw_s_ = progress.elapsed_s;
  }
}

void ProgressLine::print_line(std::string_view line) {
  std::lock_guard lock(mutex_);
  const bool live = enabled_ && terminal_ && drawn_ && !finished_;
  if (live) std::fputs("\r\033[K", stream_);  // clear the live line; the message takes its place
  // One line, whatever a name in it holds (callers escape their names; this keeps a missed one from
  // breaking the live line or forging another).
  const std::string text = printable(line);
  std::fprintf(stream_, "%s\n", text.c_str());
  if (live && last_) draw(*last_, false);
  std::fflush(stream_);
}

void ProgressLine::finish() {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  // A terminal always shows the final count; a log only closes a report it started.
  if (last_ && last_->total > 0 && (terminal_ || drawn_)) draw(*last_, true);
  if (terminal_ && drawn_) std::fputc('\n', stream_);
  std::fflush(stream_);
}

void ProgressLine::draw(const Progress& progress, bool final_line) {
  draw_progress_text(stream_, terminal_, format_progress(label_, progress, final_line));
  drawn_ = true;
}

DownloadProgressLine::DownloadProgressLine(bool enabled, std::FILE* stream)
    : enabled_(enabled), terminal_(isatty(fileno(stream)) == 1), stream_(stream) {}

DownloadProgressLine::~DownloadProgressLine() { finish(); }

void DownloadProgressLine::update(std::uint64_t received, std::uint64_t total) {
  if (!enabled_) return;
  char text[128];
  int percent = -1;
  if (total > 0) {
    percent = static_cast<int>(100.0 * received / total);
    std::snprintf(text, sizeof text, "[download] %.1f MB of %.1f MB (%d%%)", received / 1e6, total / 1e6, percent);
  } else {
    std::snprintf(text, sizeof text, "[download] %.1f MB", received / 1e6);
  }
  if (terminal_) {
    draw_progress_text(stream_, true, text);
    open_ = true;
  } else if (percent < 0 ? received >= next_bytes_ : percent >= next_percent_) {
    draw_progress_text(stream_, false, text);
    next_percent_ = (percent / 10 + 1) * 10;
    next_bytes_ = received + (50u << 20);
  }
}

void DownloadProgressLine::finish() {
  if (open_) std::fputc('\n', stream_);
  open_ = false;
}

}  // namespace facesearch::cli
