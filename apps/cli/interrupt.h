// Ctrl-C (SIGINT) and SIGTERM (`kill`, a service manager, `timeout`) for the commands that run long
// (search over folders, index): the first signal asks the core to stop cleanly through an atomic flag,
// so the batch in hand is finished, saved and summarised; a second one of the same kind kills the
// process the usual way.
#pragma once

#include <atomic>
#include <csignal>

namespace facesearch::cli {

// What shells report for a command a signal stopped: 128 + the signal's number.
constexpr int kExitInterrupted = 128 + SIGINT;   // 130, Ctrl-C
constexpr int kExitTerminated = 128 + SIGTERM;   // 143, SIGTERM

// Installs the SIGINT and SIGTERM handlers for its lifetime and clears the flag. One at a time: the
// command's run function makes it before the slow work starts.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // For SearchOptions::cancel and IndexOptions::cancel: becomes true at the first SIGINT or SIGTERM.
  const std::atomic<bool>* flag() const;
  bool interrupted() const { return flag()->load(); }
  // The status to exit with once stopped: kExitInterrupted after Ctrl-C, kExitTerminated after SIGTERM
  // (the first signal received).
  int exit_status() const;

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  bool installed_int_ = false;
  bool installed_term_ = false;
};

}  // namespace facesearch::cli
