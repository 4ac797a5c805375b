// Ctrl-C for the commands that run long (search over folders, index): the first Ctrl-C asks the core
// to stop cleanly through an atomic flag, a second one kills the process the usual way.
#pragma once

#include <atomic>
#include <csignal>

namespace facesearch::cli {

constexpr int kExitInterrupted = 130;  // 128 + SIGINT, what shells report for a Ctrl-C'd command

// Installs the Ctrl-C handler for its lifetime and clears the flag. One at a time: the command's run
// function makes it before the slow work starts.
class SigintGuard {
 public:
  SigintGuard();
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

  // For SearchOptions::cancel and IndexOptions::cancel: becomes true at the first Ctrl-C.
  const std::atomic<bool>* flag() const;
  bool interrupted() const { return flag()->load(); }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

}  // namespace facesearch::cli
