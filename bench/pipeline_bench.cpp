// `make bench`: folder-search throughput over a folder of photos (default ../shared/testdata/faces),
// pipelined across threads and serialised on one thread, and the SSD-only pipeline, side by side. Each configuration runs in
// its own child process so that its peak memory (max RSS) is its own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "core/process_memory.h"

namespace {

using namespace facesearch;

struct RunResult {
  double seconds = 0;
  size_t images = 0, analysed = 0, faces = 0, skipped = 0;
  StageTimes stage_ms;
  int jobs = 0;
  double load_s = 0;
};

RunResult run_once(const std::filesystem::path& target, bool pipelined, int jobs, DetectionStrategy detection) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelPack pack = load_model_pack(resolve_models_dir(std::nullopt));
  const FacePipeline pipeline(pack, {}, detection);
  RunResult r;
  r.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::filesystem::path targets[] = {target};
  const auto files = collect_images(targets);
  ScanOptions options;
  options.pipelined = pipelined;
  options.jobs = jobs;
  const auto summary = scan_images(pipeline, files, options, [](ScannedImage&&) {}, [&](ScanFailure&&) { ++r.skipped; });
  r.seconds = summary.seconds;
  r.images = summary.images;
  r.analysed = summary.images_analysed;
  r.faces = summary.faces;
  r.stage_ms = summary.stage_ms;
  r.jobs = summary.jobs;
  return r;
}

// Runs one configuration in a child process; returns its result and peak resident memory (KiB).
std::pair<RunResult, long> run_in_child(const std::filesystem::path& target, bool pipelined, int jobs,
                                        DetectionStrategy detection = DetectionStrategy::kAuto) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    RunResult r = run_once(target, pipelined, jobs, detection);
    if (write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  RunResult r;
  const bool ok = read(fds[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "benchmark run failed (is the model pack built? run `make setup`)\n");
    std::exit(1);
  }
  return {r, usage.ru_maxrss};
}

void print_row(const char* name, const RunResult& r, long rss_kib) {
  const double n = static_cast<double>(std::max<size_t>(r.analysed, 1));
  std::printf("| %-26s | %5d | %7.2f | %8.1f | %8.1f | %6.1f | %6.1f | %6.1f | %6.1f | %6.1f | %7.0f |\n", name, r.jobs,
              r.seconds, r.analysed / r.seconds, r.faces / r.seconds, r.stage_ms.decode_ms / n,
              r.stage_ms.detect_ms / n, r.stage_ms.landmarks_ms / n, r.stage_ms.align_ms / n,
              r.stage_ms.embed_ms / n, rss_kib / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  facesearch::tune_process_memory(argv);  // as the facesearch command runs
  std::filesystem::path target = "../shared/testdata/faces";
  int jobs = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
    else if (!std::strcmp(argv[i], "--jobs") && i + 1 < argc) jobs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: facesearch_bench [--target DIR] [--jobs N]\n");
      return 2;
    }
  }
  std::printf("facesearch folder-search benchmark: %s, %u hardware threads\n", target.c_str(),
              std::thread::hardware_concurrency());
  const auto [serial, serial_rss] = run_in_child(target, false, 1);
  const auto [piped, piped_rss] = run_in_child(target, true, jobs);
  const auto [ssd, ssd_rss] = run_in_child(target, true, jobs, DetectionStrategy::kSsd);
  std::printf("%zu image files, %zu analysed, %zu skipped, %zu faces (model load %.2f s, not counted)\n\n",
              piped.images, piped.analysed, piped.skipped, piped.faces, piped.load_s);
  std::printf("| %-26s | %5s | %7s | %8s | %8s | %6s | %6s | %6s | %6s | %6s | %7s |\n", "run", "jobs", "wall s",
              "images/s", "faces/s", "decode", "detect", "landm.", "align", "embed", "peak MB");
  std::printf("|%s|\n", std::string(132, '-').c_str());
  print_row("serial (one thread)", serial, serial_rss);
  print_row("pipelined", piped, piped_rss);
  print_row("pipelined, --detector ssd", ssd, ssd_rss);
  std::printf("\nstage columns: milliseconds per analysed image, summed over threads (CPU time spent in the stage)\n");
  std::printf("pipelining speed-up: %.2fx\n", serial.seconds / piped.seconds);
  std::printf("default detection against the SSD-only pipeline: %.2fx the images/s, "
              "%zu against %zu faces\n", (piped.analysed / piped.seconds) / (ssd.analysed / ssd.seconds), piped.faces,
              ssd.faces);
  return 0;
}
