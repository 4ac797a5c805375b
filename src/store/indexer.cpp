#include "store/indexer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "pipeline/image_scanner.h"
#include "pipeline/photo_files.h"

namespace facesearch {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t mtime_ns_of(const std::filesystem::path& p, std::error_code& ec) {
  const auto t = std::filesystem::last_write_time(p, ec);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool is_under(const std::filesystem::path& path, const std::filesystem::path& root) {
  const std::string p = path.string(), r = root.string();
  if (p == r) return true;
  return p.size() > r.size() && p.compare(0, r.size(), r) == 0 && (r.back() == '/' || p[r.size()] == '/');
}

// Groups writes into transactions of a bounded size and age.
class BatchWriter {
 public:
  BatchWriter(Catalog& catalog, const IndexOptions& options) : catalog_(catalog), options_(options) {
    if (const char* n = std::getenv("FACESEARCH_TEST_PAUSE_AFTER_BATCHES"); n && *n) pause_after_batches_ = std::atol(n);
  }
  ~BatchWriter() = default;  // an uncommitted batch rolls back with its Transaction
  Catalog& begin() {
    if (!tx_) {
      tx_.emplace(catalog_);
      started_ = Clock::now();
      pending_ = 0;
    }
    return catalog_;
  }
  void done_one() {
    ++pending_;
    if (pending_ == 1 && committed_batches_ == pause_after_batches_) pause_for_test();
    if (pending_ >= options_.batch_images ||
        std::chrono::duration<double>(Clock::now() - started_).count() >= options_.batch_seconds)
      commit();
  }
  // The faces of a photo of the batch: an SQLite library stores them at once; a PostgreSQL library's
  // go to the database in one binary COPY when the batch commits (Catalog::replace_faces_of_images).
  void store_faces(std::int64_t image_id, std::vector<FaceRow> faces) {
    if (!catalog_.in_database()) {
      catalog_.replace_faces(image_id, faces);
      return;
    }
    pending_faces_.emplace_back(image_id, std::move(faces));
  }
  // Sends the faces held back so far (before anything that could delete their photo).
  void flush_faces() {
    if (pending_faces_.empty()) return;
    std::vector<Catalog::ImageFaces> images;
    images.reserve(pending_faces_.size());
    for (const auto& [id, faces] : pending_faces_) images.push_back({id, faces});
    catalog_.replace_faces_of_images(images);
    pending_faces_.clear();
  }
  void commit() {
    if (!tx_) return;
    flush_faces();
    tx_->commit();
    tx_.reset();
    ++committed_batches_;
  }

 private:
  // Test-only, for tests that stop a run at a known point on any machine (the kill -9 test in
  // tests/library_test.cpp, the Ctrl-C test in tests/cli_library_smoke.sh): with
  // FACESEARCH_TEST_PAUSE_AFTER_BATCHES=N, once N batches are committed and one more photo is written
  // into the next batch (not committed), the run says so on stderr and waits until it is cancelled
  // (Ctrl-C, SIGTERM) or killed. Unset, as outside tests, it changes nothing.
  void pause_for_test() const {
    std::fprintf(stderr, "facesearch: test pause after batch %ld\n", pause_after_batches_);
    while (!(options_.cancel && options_.cancel->load())) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  Catalog& catalog_;
  const IndexOptions& options_;
  std::vector<std::pair<std::int64_t, std::vector<FaceRow>>> pending_faces_;  // store_faces, not yet sent
  std::optional<Catalog::Transaction> tx_;
  Clock::time_point started_;
  size_t pending_ = 0;
  long committed_batches_ = 0;
  long pause_after_batches_ = -1;  // FACESEARCH_TEST_PAUSE_AFTER_BATCHES, read once above; -1: unset
};

// IndexOptions::mounts: (folder here, the library's path for it), canonical; identity when empty.
class Mounts {
 public:
  explicit Mounts(const std::vector<std::pair<std::filesystem::path, std::filesystem::path>>& given) {
    for (const auto& [here, library] : given) {
      std::error_code ec;
      pairs_.emplace_back(std::filesystem::weakly_canonical(std::filesystem::absolute(here), ec),
                          std::filesystem::absolute(library).lexically_normal());
    }
  }
  std::filesystem::path to_library(const std::filesystem::path& p) const { return swap(p, true); }
  std::filesystem::path to_local(const std::filesystem::path& p) const { return swap(p, false); }
  std::vector<std::filesystem::path> to_local(std::span<const std::filesystem::path> paths) const {
    std::vector<std::filesystem::path> out;
    out.reserve(paths.size());
    for (const auto& p : paths) out.push_back(to_local(p));
    return out;
  }

 private:
  std::filesystem::path swap(const std::filesystem::path& p, bool to_library) const {
    for (const auto& [here, library] : pairs_) {
      const auto& from = to_library ? here : library;
      const auto& to = to_library ? library : here;
      if (!is_under(p, from)) continue;
      const std::string rest = p.string().substr(std::min(p.string().size(), from.string().size()));
      return std::filesystem::path(to.string() + rest).lexically_normal();
    }
    return p;
  }
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> pairs_;
};

std::string worker_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + ":" + std::to_string(getpid());
}

// How long a worker's claim on a batch lasts without being finished: a worker that died is noticed
// after this long. FACESEARCH_CLAIM_SECONDS overrides it (tests: a few seconds).
int claim_seconds() {
  if (const char* s = std::getenv("FACESEARCH_CLAIM_SECONDS"); s && std::atoi(s) > 0) return std::atoi(s);
  return 60;
}

// Renews a worker's claims every third of their time, from a thread of its own, while it analyses a
// batch: a live worker's claims never expire, however long one photo takes (a 100-megapixel scan, a
// slow network mount), and a dead worker's do within `seconds`. Renewal goes over the catalog's own
// claims connection (Catalog::renew_claims), which only this thread uses; if it fails (the server is
// gone) the claims simply expire, and the worker's own connection reports the failure.
class ClaimKeeper {
 public:
  ClaimKeeper(Catalog& catalog, std::string worker, int seconds)
      : thread_([&catalog, worker = std::move(worker), seconds, this](std::stop_token stop) {
          const auto every = std::chrono::milliseconds(std::max(1, seconds) * 1000 / 3);
          std::unique_lock lock(mu_);
          while (true) {
            wake_.wait_for(lock, stop, every, [] { return false; });
            if (stop.stop_requested()) return;
            try {
              catalog.renew_claims(worker, seconds);
            } catch (const std::exception&) {
              return;
            }
          }
        }) {}
  ~ClaimKeeper() {
    thread_.request_stop();  // wakes the wait; the jthread joins
  }
  ClaimKeeper(const ClaimKeeper&) = delete;
  ClaimKeeper& operator=(const ClaimKeeper&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once the members it uses exist
};

// The shared job of a PostgreSQL library (Catalog::queue_files): registers `to_check`, then claims
// batches until the queue is empty (waiting while other workers hold the rest: a claim of a worker that
// died expires and is taken here). `analyse` scans one batch and commits it; it returns whether the
// run was cancelled. Progress counts the whole job, whoever analyses it. Returns whether cancelled.
template <typename StatMap, typename Analyse>
bool run_shared_job(Catalog& catalog, const std::vector<std::filesystem::path>& to_check, StatMap& stats,
                    const IndexOptions& options, Analyse&& analyse, const ScanOptions& scan) {
  {
    std::vector<Catalog::QueuedFile> queued;
    for (const auto& f : to_check) {
      const auto& st = stats[f.string()];
      queued.push_back({f, st.size, st.mtime_ns});
    }
    constexpr size_t kPerTransaction = 1000;
    for (size_t i = 0; i < queued.size(); i += kPerTransaction) {
      Catalog::Transaction t(catalog);
      catalog.queue_files(std::span(queued).subspan(i, std::min(kPerTransaction, queued.size() - i)));
      t.commit();
    }
  }
  const std::string worker = worker_name();
  const int seconds = claim_seconds();
  const size_t batch_size = std::max<size_t>(1, options.batch_images);
  const auto start = Clock::now();
  size_t total = 0, done = 0;
  bool cancelled = false;
  try {
    while (true) {
      if (options.cancel && options.cancel->load()) {
        cancelled = true;
        break;
      }
      const Catalog::QueueState state = catalog.queue_state();
      total = std::max(total, done + static_cast<size_t>(state.files));
      done = total - static_cast<size_t>(state.files);
      if (state.files == 0) break;
      const std::vector<Catalog::QueuedFile> claimed = catalog.claim_files(worker, batch_size, seconds);
      if (claimed.empty()) {
        // Every file left is another worker's for now.
        if (options.on_progress) {
          Progress p;
          p.total = total, p.done = done;
          p.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
          options.on_progress(p);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        continue;
      }
      std::vector<std::filesystem::path> batch;
      for (const auto& f : claimed) {
        batch.push_back(f.path);
        auto& st = stats[f.path.string()];
        st.size = f.size, st.mtime_ns = f.mtime_ns;
      }
      ScanOptions batch_scan = scan;
      const size_t before = done;
      batch_scan.on_progress = [&, before](const Progress& p) {
        if (!options.on_progress) return;
        Progress whole = p;
        whole.total = total;
        whole.done = before + p.done;
        whole.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
        options.on_progress(whole);
      };
      bool stopped = false;
      {
        const ClaimKeeper keeper(catalog, worker, seconds);
        stopped = analyse(std::span<const std::filesystem::path>(batch), batch_scan);
      }
      if (stopped) {
        cancelled = true;
        break;
      }
    }
  } catch (...) {
    try {
      catalog.release_claims(worker);
    } catch (const Error&) {
      // The connection is gone: the claims expire on their own.
    }
    throw;
  }
  catalog.release_claims(worker);
  return cancelled;
}

}  // namespace

IndexReport index_library(Catalog& catalog, const FacePipeline& pipeline, std::span<const std::filesystem::path> roots_in,
                          const IndexOptions& options) {
  const auto start = Clock::now();
  IndexReport report;

  // A folder of the library mounted at another path on this machine (IndexOptions::mounts): the files
  // are read here, and stored under the library's path.
  const Mounts mounts(options.mounts);
  std::vector<std::filesystem::path> roots;  // the library's paths
  for (const auto& r : roots_in) {
    if (const std::string why = why_missing(r); !why.empty())
      throw Error(ErrorCode::kNotFound, "folder " + r.string() + " " + why);
    std::error_code ec;
    roots.push_back(mounts.to_library(std::filesystem::weakly_canonical(std::filesystem::absolute(r), ec)));
  }
  if (roots.empty()) {
    roots = catalog.roots();
    if (roots.empty())
      throw Error(ErrorCode::kInvalidArgument, "library " + catalog.path().string() + " has no folders yet",
                  Hint{Remedy::kNameFolders});
  } else {
    Catalog::Transaction t(catalog);
    for (const auto& r : roots) catalog.add_root(r);
    t.commit();
  }

  // What is on disk now. A folder that could not be listed, and a root of an earlier run that has
  // disappeared (an unplugged drive), is not empty but unknown: the photos under it are left alone.
  std::vector<std::filesystem::path> local_roots;
  for (const auto& r : roots) local_roots.push_back(mounts.to_local(r));
  PhotoFiles found = find_photo_files(local_roots);
  std::vector<std::filesystem::path> files;  // the library's paths of the files found
  files.reserve(found.files.size());
  for (const auto& f : found.files) files.push_back(mounts.to_library(f));
  report.files = files.size();
  for (UnreadableFolder& folder : found.unreadable)
    report.unreadable.push_back({mounts.to_library(folder.path), std::move(folder.reason), 0});
  const auto unreadable_folder_of = [&](const std::filesystem::path& p) -> UnreadableFolderRow* {
    for (auto& folder : report.unreadable)
      if (is_under(p, folder.path)) return &folder;
    return nullptr;
  };

  // A root that lists nothing at all while the library holds photos from it is taken for a disk that is
  // not mounted (its empty mount point), not for a folder whose photos were all deleted: those are kept
  // too, until the disk is back or the user says `index --forget FOLDER`. A folder emptied on purpose
  // still holds something in practice (subfolders, other files), and then deletions go ahead as usual.
  std::vector<ImageRow> rows = catalog.images();
  for (const auto& r : roots) {
    std::error_code ec;
    const std::filesystem::path here = mounts.to_local(r);
    if (!std::filesystem::is_directory(here, ec) || !std::filesystem::is_empty(here, ec) || ec) continue;
    if (unreadable_folder_of(r)) continue;
    if (std::any_of(rows.begin(), rows.end(), [&](const ImageRow& row) { return is_under(row.path, r); }))
      report.unreadable.push_back({r, "empty, though the library has photos from it: a disk that is not mounted?", 0});
  }

  // What the catalog knows under the roots that could be read.
  std::unordered_map<std::string, ImageRow> known;
  for (auto& row : rows) {
    if (UnreadableFolderRow* folder = unreadable_folder_of(row.path)) {
      ++folder->photos_kept;
      continue;
    }
    for (const auto& r : roots)
      if (is_under(row.path, r)) {
        known.emplace(row.path.string(), std::move(row));
        break;
      }
  }
  // Remembered until a run that scans those roots again.
  {
    std::vector<UnreadableFolderRow> remembered;
    for (auto& earlier : catalog.unreadable_folders())
      if (std::none_of(roots.begin(), roots.end(), [&](const auto& r) { return is_under(earlier.path, r); }))
        remembered.push_back(std::move(earlier));
    remembered.insert(remembered.end(), report.unreadable.begin(), report.unreadable.end());
    Catalog::Transaction t(catalog);
    catalog.set_unreadable_folders(remembered);
    t.commit();
  }

  struct Stat {
    std::int64_t size = 0, mtime_ns = 0;
  };
  std::unordered_map<std::string, Stat> stats;
  std::vector<std::filesystem::path> to_check;
  for (const auto& f : files) {
    std::error_code ec;
    Stat st;
    const std::filesystem::path here = mounts.to_local(f);
    st.size = static_cast<std::int64_t>(std::filesystem::file_size(here, ec));
    st.mtime_ns = mtime_ns_of(here, ec);
    stats[f.string()] = st;
    const auto it = known.find(f.string());
    if (it != known.end() && it->second.size == st.size && it->second.mtime_ns == st.mtime_ns) {
      ++report.unchanged;
      known.erase(it);  // accounted for
      continue;
    }
    to_check.push_back(f);
  }
  // Rows left in `known` whose path is no longer on disk: deleted, or moved (claimed by content hash below).
  std::unordered_map<std::string, std::vector<std::int64_t>> missing_by_hash;
  std::unordered_map<std::int64_t, std::string> missing;
  for (const auto& [path, row] : known) {
    if (stats.count(path)) continue;  // present but changed
    missing[row.id] = path;
    if (!row.hash.empty()) missing_by_hash[row.hash].push_back(row.id);
  }

  // Decisions taken on worker threads, before decoding.
  enum class Decision { kAnalyse, kTouch, kMove };
  struct Verdict {
    Decision decision = Decision::kAnalyse;
    std::int64_t image_id = 0;
  };
  std::mutex mu;
  std::unordered_map<std::string, Verdict> verdicts;
  ScanOptions scan;
  scan.jobs = options.jobs;
  scan.analysis = options.analysis;
  scan.on_progress = options.on_progress;
  scan.cancel = options.cancel;
  scan.should_analyze = [&](const std::filesystem::path& local, const std::string& hash) {
    const std::filesystem::path path = mounts.to_library(local);
    std::lock_guard lock(mu);
    Verdict v;
    if (const auto it = known.find(path.string()); it != known.end() && it->second.hash == hash) {
      v = {Decision::kTouch, it->second.id};
    } else if (auto m = missing_by_hash.find(hash); m != missing_by_hash.end() && !m->second.empty()) {
      v = {Decision::kMove, m->second.back()};
      m->second.pop_back();
      missing.erase(v.image_id);
    }
    verdicts[path.string()] = v;
    return v.decision == Decision::kAnalyse;
  };

  BatchWriter writer(catalog, options);
  auto stat_of = [&](const std::filesystem::path& p) { return stats[p.string()]; };
  // A PostgreSQL library's files to analyse are a job shared by every `index` process on it: each file
  // leaves the queue in the transaction that stores it.
  const bool shared_job = catalog.in_database();

  const auto on_image = [&](ScannedImage&& img) {
        img.path = mounts.to_library(img.path);
        const Stat st = stat_of(img.path);
        Catalog& c = writer.begin();
        if (!img.analysed) {
          Verdict v;
          {
            std::lock_guard lock(mu);
            v = verdicts[img.path.string()];
          }
          if (v.decision == Decision::kMove) {
            // A changed file already at the destination path is replaced by the moved one.
            if (const auto it = known.find(img.path.string()); it != known.end()) {
              writer.flush_faces();
              c.delete_image(it->second.id);
            }
            c.move_image(v.image_id, img.path, st.size, st.mtime_ns);
            ++report.moved;
          } else {
            c.move_image(v.image_id, img.path, st.size, st.mtime_ns);
            ++report.touched;
          }
          if (shared_job) c.finish_queued_file(img.path);
          writer.done_one();
          return;
        }
        if (options.on_warning)
          for (const auto& w : img.warnings) options.on_warning(img.path, w);
        ImageRow row;
        row.path = img.path;
        row.size = st.size;
        row.mtime_ns = st.mtime_ns;
        row.hash = img.hash;
        row.width = img.width;
        row.height = img.height;
        row.status = "ok";
        const bool existed = known.count(img.path.string()) > 0;
        const std::int64_t id = c.put_image(row);
        std::vector<FaceRow> faces(img.faces.size());
        for (size_t i = 0; i < img.faces.size(); ++i) {
          faces[i].face_index = static_cast<int>(i);
          faces[i].face = std::move(img.faces[i].face);
          if (faces[i].face.detector.empty()) faces[i].face.detector = pipeline.pack().detector.kind;
          faces[i].embedding = std::move(img.faces[i].embedding);
        }
        report.faces += faces.size();
        writer.store_faces(id, std::move(faces));
        ++(existed ? report.updated : report.added);
        if (shared_job) c.finish_queued_file(img.path);
        writer.done_one();
      };
  const auto on_failure = [&](ScanFailure&& failure) {
        failure.path = mounts.to_library(failure.path);
        const Stat st = stat_of(failure.path);
        Catalog& c = writer.begin();
        ImageRow row;
        row.path = failure.path;
        row.size = st.size;
        row.mtime_ns = st.mtime_ns;
        row.hash = failure.hash;
        row.status = "error";
        row.error = failure.message;
        const std::int64_t id = c.put_image(row);
        writer.store_faces(id, {});
        ++report.errors;
        if (options.on_failure) options.on_failure(failure);
        if (shared_job) c.finish_queued_file(failure.path);
        report.failures.push_back(std::move(failure));
        writer.done_one();
      };
  if (!shared_job) {
    const auto summary = scan_images(pipeline, mounts.to_local(to_check), scan, on_image, on_failure);
    writer.commit();
    report.cancelled = summary.cancelled;
  } else {
    report.cancelled = run_shared_job(catalog, to_check, stats, options, [&](std::span<const std::filesystem::path> batch,
                                                                              const ScanOptions& batch_scan) {
      const auto summary = scan_images(pipeline, mounts.to_local(batch), batch_scan, on_image, on_failure);
      writer.commit();
      return summary.cancelled;
    }, scan);
  }

  // Deletions last, and only after a complete scan: a photo that moved is claimed above first.
  if (!report.cancelled && !missing.empty()) {
    Catalog::Transaction t(catalog);
    for (const auto& [id, path] : missing) catalog.delete_image(id);
    t.commit();
    report.deleted = missing.size();
  }
  // An `index --rebuild` is over once a complete run has re-read every folder of the library.
  if (!report.cancelled && catalog.rebuild_progress()) {
    bool every_root = report.unreadable.empty();
    for (const auto& root : catalog.roots())
      every_root &= std::find(roots.begin(), roots.end(), root) != roots.end();
    if (every_root) catalog.end_rebuild();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace facesearch
