#include "interrupt.h"

namespace facesearch::cli {
namespace {

// A signal handler can reach nothing but a global, and only a lock-free atomic is safe to touch there.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { g_interrupted.store(true); }

}  // namespace

SigintGuard::SigintGuard() {
  g_interrupted.store(false);
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: a second Ctrl-C kills the process, for when stopping cleanly takes too long.
  action.sa_flags = SA_RESETHAND;
  installed_ = sigaction(SIGINT, &action, &previous_) == 0;
}

SigintGuard::~SigintGuard() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
}

const std::atomic<bool>* SigintGuard::flag() const { return &g_interrupted; }

}  // namespace facesearch::cli
