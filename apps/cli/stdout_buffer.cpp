#include "stdout_buffer.h"

#include <cerrno>

#include <unistd.h>

namespace facesearch::cli {

StdoutBuffer::StdoutBuffer(int fd) : fd_(fd), line_buffered_(isatty(fd) == 1) {
  // A terminal gets no put area: every character comes through overflow(), which ends lines.
  if (!line_buffered_) setp(block_.data(), block_.data() + block_.size());
}

StdoutBuffer::~StdoutBuffer() { drain(); }

int StdoutBuffer::finish() {
  drain();
  return error_;
}

StdoutBuffer::int_type StdoutBuffer::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return drain() ? traits_type::not_eof(ch) : traits_type::eof();
  if (line_buffered_) {
    line_.push_back(traits_type::to_char_type(ch));
    if (ch == '\n' || line_.size() >= block_.size()) {
      if (!drain()) return traits_type::eof();
    }
    return ch;
  }
  if (!drain()) return traits_type::eof();
  *pptr() = traits_type::to_char_type(ch);
  pbump(1);
  return ch;
}

int StdoutBuffer::sync() { return drain() ? 0 : -1; }

bool StdoutBuffer::drain() {
  bool ok = true;
  if (pptr() > pbase()) {
    ok = write_all(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(block_.data(), block_.data() + block_.size());
  }
  if (!line_.empty()) {
    ok = write_all(line_.data(), line_.size()) && ok;
    line_.clear();
  }
  return ok;
}

bool StdoutBuffer::write_all(const char* data, size_t size) {
  if (error_ != 0) return false;  // the output is already incomplete: drop the rest
  while (size > 0) {
    const ssize_t written = ::write(fd_, data, size);
    if (written < 0 && errno == EINTR) continue;  // a signal handler ran (Ctrl-C): the write goes on
    if (written <= 0) {
      error_ = written < 0 ? errno : EIO;
      return false;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

}  // namespace facesearch::cli
