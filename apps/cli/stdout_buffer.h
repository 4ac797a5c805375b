// std::cout's buffer for the CLI: writes to a file descriptor and remembers the first write that
// failed (its errno), so `facesearch search ... > /dev/full` can say "No space left on device" and
// exit 1 instead of 0. stdio's own buffer only keeps an error flag, and its errno is long gone by the
// time the command ends. After a failure the rest of the output is dropped (std::cout goes bad), so a
// long output stops writing early; signals interrupting a write (Ctrl-C, SIGTERM) do not lose output.
#pragma once

#include <array>
#include <streambuf>
#include <string>

namespace facesearch::cli {

class StdoutBuffer : public std::streambuf {
 public:
  // `fd` is not owned. On a terminal each line is written when it ends, as stdio does; elsewhere in
  // blocks of 64 KiB.
  explicit StdoutBuffer(int fd);
  ~StdoutBuffer() override;  // writes what is left; a failure there is only seen through finish()
  StdoutBuffer(const StdoutBuffer&) = delete;
  StdoutBuffer& operator=(const StdoutBuffer&) = delete;

  // Writes what is buffered. 0 when everything reached the file, else the errno of the first failure.
  int finish();

 protected:
  int_type overflow(int_type ch) override;
  int sync() override;

 private:
  bool write_all(const char* data, size_t size);  // false (error_ set) on failure
  bool drain();                                   // writes the block or the line held so far

  int fd_;
  bool line_buffered_;
  int error_ = 0;
  std::string line_;               // the line being written, on a terminal
  std::array<char, 65536> block_;  // the put area, elsewhere
};

}  // namespace facesearch::cli
