#include "interrupt.h"

namespace facesearch::cli {
namespace {

// A signal handler can reach nothing but a global, and only a lock-free atomic is safe to touch there.
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_first_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signal_number);
  g_interrupted.store(true);
}

bool install(int signal_number, struct sigaction& previous) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: a second signal kills the process, for when stopping cleanly takes too long.
  action.sa_flags = SA_RESETHAND;
  return sigaction(signal_number, &action, &previous) == 0;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted.store(false);
  g_first_signal.store(0);
  installed_int_ = install(SIGINT, previous_int_);
  installed_term_ = install(SIGTERM, previous_term_);
}

InterruptGuard::~InterruptGuard() {
  if (installed_int_) sigaction(SIGINT, &previous_int_, nullptr);
  if (installed_term_) sigaction(SIGTERM, &previous_term_, nullptr);
}

const std::atomic<bool>* InterruptGuard::flag() const { return &g_interrupted; }

int InterruptGuard::exit_status() const {
  return g_first_signal.load() == SIGTERM ? kExitTerminated : kExitInterrupted;
}

}  // namespace facesearch::cli
