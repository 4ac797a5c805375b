// Lets a thread busy with one large job (the tiles of a crowd photo, the landmarks and embeddings of
// its hundred faces) hand parts of it to threads that would otherwise wait: the scan's workers once
// every file is taken. On 46 phone photos, the last crowd photo ran alone on one of two cores for a
// quarter of the run (docs/PERFORMANCE.md). The caller works on its own parts too, so a job never
// waits for help: with nobody idle it runs as it would alone, in the same order of parts.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace facesearch {

class WorkSharing {
 public:
  WorkSharing() = default;
  WorkSharing(const WorkSharing&) = delete;
  WorkSharing& operator=(const WorkSharing&) = delete;

  // Runs part(0) .. part(n - 1), each once, on this thread and on threads in help(); returns when all
  // have finished. Parts must not depend on each other's order. The first exception a part throws is
  // rethrown here, after the others have finished. Thread-safe; parts may call run() themselves.
  void run(size_t n, const std::function<void(size_t)>& part);

  // For a thread with nothing else to do: runs parts of other threads' jobs until close() (then
  // returns once no job is waiting for help).
  void help();
  // Ends help() in every thread. run() still works after it, on the calling thread alone.
  void close();

 private:
  struct Job;
  void run_part(Job& job, size_t index);

  std::mutex mu_;
  std::condition_variable work_;  // a job was posted, or close()
  std::deque<Job*> jobs_;         // jobs with parts nobody took yet
  bool closed_ = false;
};

// sharing->run(n, part), or part(0) .. part(n - 1) in order on this thread where sharing is null.
void run_parts(WorkSharing* sharing, size_t n, const std::function<void(size_t)>& part);

}  // namespace facesearch
