#include "pipeline/image_scanner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/file_io.h"

namespace facesearch {
namespace {

using Clock = std::chrono::steady_clock;

// What a worker hands to the embedding thread: one image, located but not yet embedded.
struct LocatedImage {
  std::filesystem::path path;
  std::string hash;
  bool analysed = true;
  int width = 0, height = 0;
  std::vector<LocatedFace> faces;
  std::vector<std::string> warnings;
  std::optional<ScanFailure> failure;
};

LocatedImage locate_file(const FacePipeline& pipeline, const std::filesystem::path& path, const ScanOptions& options,
                         StageTimes& times) {
  LocatedImage out;
  out.path = path;
  try {
    const auto t0 = Clock::now();
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    out.hash = content_hash(bytes);
    if (options.should_analyze && !options.should_analyze(path, out.hash)) {
      out.analysed = false;
      return out;
    }
    DecodedImage image = decode_image(bytes, path.string(), pipeline.decode_options(options.analysis.decode));
    times.decode_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    out.width = image.width;
    out.height = image.height;
    out.warnings = std::move(image.warnings);
    out.faces = pipeline.locate(image, options.analysis.detect, &times);
  } catch (const Error& e) {
    out.failure = ScanFailure{path, error_code_name(e.code()), e.what(), out.hash, e.hint()};
  } catch (const cv::Exception& e) {
    out.failure = ScanFailure{path, "decode", path.string() + ": image processing failed: " + e.what(), out.hash, {}};
  } catch (const std::bad_alloc&) {
    out.failure = ScanFailure{path, "memory", path.string() + ": out of memory while processing this image", out.hash, {}};
  }
  return out;
}

// Bounded multi-producer queue; close() wakes the consumer once producers are done.
class LocatedQueue {
 public:
  explicit LocatedQueue(size_t capacity) : capacity_(capacity) {}
  void push(LocatedImage item) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  // Blocks until an item is there or every producer is done; nullopt at the end.
  std::optional<LocatedImage> pop(bool block) {
    std::unique_lock lock(mu_);
    if (block) not_empty_.wait(lock, [&] { return !items_.empty() || producers_ == 0; });
    if (items_.empty()) return std::nullopt;
    LocatedImage item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void set_producers(int n) { std::lock_guard lock(mu_); producers_ = n; }
  void producer_done() {
    std::lock_guard lock(mu_);
    --producers_;
    not_empty_.notify_all();
  }
  bool finished() {
    std::lock_guard lock(mu_);
    return producers_ == 0 && items_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<LocatedImage> items_;
  size_t capacity_;
  int producers_ = 0;
};

}  // namespace

ScanSummary scan_images(const FacePipeline& pipeline, std::span<const std::filesystem::path> files,
                        const ScanOptions& options, const std::function<void(ScannedImage&&)>& on_image,
                        const std::function<void(ScanFailure&&)>& on_failure) {
  const auto start = Clock::now();
  ScanSummary summary;
  summary.images = files.size();
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  summary.jobs = options.pipelined ? (options.jobs > 0 ? options.jobs : hw) : 1;
  const size_t dim = static_cast<size_t>(pipeline.embedding_dim());
  const size_t batch = static_cast<size_t>(std::max(1, pipeline.pack().embedder.batch));
  Progress progress;
  progress.total = files.size();
  auto cancelled = [&] { return options.cancel && options.cancel->load(); };

  // Embeds the chips of the gathered images in one batched call and delivers them.
  std::vector<LocatedImage> gathered;
  size_t gathered_faces = 0;
  StageTimes embed_times;  // this thread's; workers keep their own and merge when they finish
  // Workers with no file left help the others with a crowd photo's parts and the embedding.
  WorkSharing helpers;
  ScanOptions worker_options = options;
  if (options.pipelined) worker_options.analysis.detect.helpers = &helpers;
  auto flush = [&] {
    std::vector<cv::Mat> chips;
    chips.reserve(gathered_faces);
    for (const auto& img : gathered)
      for (const auto& f : img.faces) chips.push_back(f.chip);
    std::vector<float> vectors(chips.size() * dim);
    try {
      pipeline.embed(chips, vectors, &embed_times, options.pipelined ? &helpers : nullptr);
    } catch (const Error& e) {
      for (auto& img : gathered) {
        on_failure(ScanFailure{img.path, error_code_name(e.code()), img.path.string() + ": " + e.what(), img.hash, e.hint()});
        ++progress.done;
      }
      gathered.clear();
      gathered_faces = 0;
      return;
    }
    size_t row = 0;
    for (auto& img : gathered) {
      ScannedImage out;
      out.path = std::move(img.path);
      out.hash = std::move(img.hash);
      out.analysed = img.analysed;
      out.width = img.width;
      out.height = img.height;
      out.warnings = std::move(img.warnings);
      out.faces.resize(img.faces.size());
      for (size_t i = 0; i < img.faces.size(); ++i, ++row) {
        out.faces[i].face = std::move(img.faces[i].face);
        out.faces[i].embedding.assign(vectors.begin() + row * dim, vectors.begin() + (row + 1) * dim);
      }
      summary.faces += out.faces.size();
      summary.images_analysed += out.analysed;
      ++progress.done;
      on_image(std::move(out));
    }
    gathered.clear();
    gathered_faces = 0;
  };
  auto report_progress = [&] {
    progress.faces = summary.faces;
    progress.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    if (options.on_progress) options.on_progress(progress);
  };
  auto accept = [&](LocatedImage&& img) {
    if (img.failure) {
      on_failure(std::move(*img.failure));
      ++progress.done;
      return;
    }
    gathered_faces += img.faces.size();
    gathered.push_back(std::move(img));
  };

  if (!options.pipelined) {
    for (const auto& path : files) {
      if (cancelled()) break;
      accept(locate_file(pipeline, path, options, summary.stage_ms));
      flush();
      report_progress();
    }
  } else {
    LocatedQueue queue(static_cast<size_t>(summary.jobs) * 2 + 2);
    queue.set_producers(summary.jobs);
    std::atomic<size_t> next{0};
    std::atomic<bool> abandoned{false};  // the consumer failed (e.g. the catalog's write): workers stop
    std::mutex times_mu;
    std::vector<std::jthread> workers;
    for (int w = 0; w < summary.jobs; ++w) {
      workers.emplace_back([&] {
        StageTimes local;
        for (size_t i = next++; i < files.size() && !cancelled() && !abandoned; i = next++)
          queue.push(locate_file(pipeline, files[i], worker_options, local));
        {
          std::lock_guard lock(times_mu);
          summary.stage_ms += local;
        }
        queue.producer_done();
        helpers.help();  // until the scan ends
      });
    }
    // The calling thread embeds: take what is ready, embed once a batch is full or nothing else is waiting.
    try {
      while (true) {
        auto item = queue.pop(gathered.empty());
        if (item) {
          accept(std::move(*item));
          if (gathered_faces < batch && !queue.finished()) {
            if (gathered.empty()) report_progress();
            continue;
          }
        }
        if (!gathered.empty()) flush();
        report_progress();
        if (!item && queue.finished()) break;
      }
    } catch (...) {
      // on_image or on_failure threw: stop the workers, take what they still push (a full queue
      // blocks them), join them, and pass the error on.
      abandoned = true;
      helpers.close();
      while (queue.pop(true)) {
      }
      workers.clear();
      throw;
    }
    helpers.close();
    workers.clear();  // joins
  }
  summary.stage_ms += embed_times;
  summary.cancelled = cancelled();
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace facesearch
