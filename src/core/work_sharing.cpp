#include "core/work_sharing.h"

#include <algorithm>
#include <exception>

namespace facesearch {

struct WorkSharing::Job {
  const std::function<void(size_t)>* part;
  size_t parts;
  size_t next = 0;  // the first part nobody took
  size_t done = 0;
  std::exception_ptr error;
  std::condition_variable finished;
};

void WorkSharing::run_part(Job& job, size_t index) {
  std::exception_ptr error;
  try {
    (*job.part)(index);
  } catch (...) {
    error = std::current_exception();
  }
  std::lock_guard lock(mu_);
  if (error && !job.error) job.error = error;
  if (++job.done == job.parts) job.finished.notify_all();
}

void WorkSharing::run(size_t n, const std::function<void(size_t)>& part) {
  if (n == 0) return;
  if (n == 1) return part(0);
  Job job{&part, n, 0, 0, nullptr, {}};
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(&job);
  }
  work_.notify_all();
  while (true) {
    size_t index;
    {
      std::lock_guard lock(mu_);
      if (job.next == n) break;
      index = job.next++;
      if (job.next == n) jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
    }
    run_part(job, index);
  }
  std::unique_lock lock(mu_);
  job.finished.wait(lock, [&] { return job.done == job.parts; });
  if (job.error) std::rethrow_exception(job.error);
}

void WorkSharing::help() {
  while (true) {
    Job* job;
    size_t index;
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // closed
      job = jobs_.front();
      index = job->next++;
      if (job->next == job->parts) jobs_.pop_front();
    }
    run_part(*job, index);
  }
}

void WorkSharing::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  work_.notify_all();
}

void run_parts(WorkSharing* sharing, size_t n, const std::function<void(size_t)>& part) {
  if (sharing) return sharing->run(n, part);
  for (size_t i = 0; i < n; ++i) part(i);
}

}  // namespace facesearch
