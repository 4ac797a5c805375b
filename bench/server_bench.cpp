// `facesearch serve` under load (part of `make bench`): searches by face id and by upload at 1, 8 and 32
// concurrent clients over a library of 100,000 synthetic faces (bench/synthetic_faces.h, the default
// pack's dimension), once with the exact index (what such a library uses today) and once with a saved
// HNSW graph; then face crops and downscaled photos, uncached and from the disk cache, over a library
// of real photos (the phone-size set `make bench` writes, else testdata); and the CLI's
// per-process search on the same library for comparison. Clients keep their connection open and send
// without delay (TCP_NODELAY), as browsers do, and each sends its next request when the last is answered.
//
// For work on the graph search: --db PATH keeps the synthetic library (and its saved graph) at PATH and
// reuses it when it is there; --face-id-only runs only the face-id rows with the graph; --clients picks
// the client counts; --in-process N first times N face-id searches in the process (exact index against
// the saved graph: the library search's CPU milliseconds, the graph walks alone, and the recall of the
// exact search's matches over the threshold).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench/synthetic_faces.h"
#include "index/hnsw_index.h"
#include "library/library.h"
#include "search/library_search.h"
#include "server/server.h"
#include "store/vector_files.h"
#include "core/process_memory.h"

namespace fs = std::filesystem;
using namespace facesearch;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU seconds of the whole process (server and clients): unlike wall time, not inflated when other
// programs share the cores.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// CPU milliseconds of the calling thread.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return 1e3 * double(ts.tv_sec) + 1e-6 * double(ts.tv_nsec);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A server over `db` on a thread, until destroyed.
struct Running {
  explicit Running(server::ServeOptions o) : server(std::move(o)) {
    port = server.bind();
    thread = std::thread([this] { server.run(); });
  }
  ~Running() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);  // as browsers do: a POST's body is not held back for the headers' ACK
    c.set_read_timeout(120);
    return c;
  }
  server::Server server;
  int port = 0;
  std::thread thread;
};

struct LoadResult {
  double per_second = 0, p50 = 0, p99 = 0, cpu_ms = 0;  // cpu_ms: the process's CPU time per answer
  size_t answered = 0, busy = 0, failed = 0;
};

// `clients` threads, each sending `request(client, n)` back to back for `seconds`.
template <class Request>
LoadResult load(const Running& s, int clients, double seconds, Request request) {
  std::mutex m;
  std::vector<double> latencies;
  std::atomic<size_t> busy{0}, failed{0};
  const auto start = Clock::now();
  const double cpu0 = process_cpu_seconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      auto c = s.client();
      std::vector<double> mine;
      for (size_t n = static_cast<size_t>(t) * 7919; ms_since(start) < seconds * 1000; ++n) {
        const auto t0 = Clock::now();
        const httplib::Result r = request(c, n);
        const double ms = ms_since(t0);
        if (r && r->status == 200) mine.push_back(ms);
        else if (r && r->status == 503) ++busy, std::this_thread::sleep_for(std::chrono::milliseconds(20));
        else ++failed;
      }
      std::lock_guard lock(m);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  LoadResult r;
  r.cpu_ms = latencies.empty() ? 0 : (process_cpu_seconds() - cpu0) * 1000 / double(latencies.size());
  r.answered = latencies.size();
  r.busy = busy;
  r.failed = failed;
  r.per_second = latencies.size() / (ms_since(start) / 1000);
  r.p50 = percentile(latencies, 0.5);
  r.p99 = percentile(latencies, 0.99);
  return r;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (char* end = nullptr;; s = end + 1) {
    out.push_back(static_cast<int>(std::strtol(s, &end, 10)));
    if (*end != ',') break;
  }
  return out;
}

// `queries` face-id searches in this process, with the exact index and with the saved graph: the
// library search's time (both walks with query expansion, the catalog look-ups, ranking), the graph
// walks alone (the two index look-ups a search with expansion makes), and the recall of the exact
// search's matches (face ids over the threshold).
// Passes searches to another index, adding up the calling thread's CPU time spent in them.
class TimedIndex final : public VectorIndex {
 public:
  explicit TimedIndex(const VectorIndex& inner) : inner_(inner) {}
  int dim() const override { return inner_.dim(); }
  size_t size() const override { return inner_.size(); }
  std::string kind() const override { return inner_.kind(); }
  void add(std::span<const std::int64_t>, std::span<const float>) override {}
  std::vector<std::vector<Neighbor>> search(std::span<const float> queries, size_t k, float min_score) const override {
    const double t0 = thread_cpu_ms();
    auto out = inner_.search(queries, k, min_score);
    ms += thread_cpu_ms() - t0;
    ++calls;
    return out;
  }
  std::vector<Neighbor> search_beam(std::span<const float> query, size_t k, float min_score, size_t beam) const override {
    const double t0 = thread_cpu_ms();
    auto out = inner_.search_beam(query, k, min_score, beam);
    ms += thread_cpu_ms() - t0;
    ++calls;
    return out;
  }
  mutable double ms = 0;
  mutable size_t calls = 0;

 private:
  const VectorIndex& inner_;
};

void in_process(const fs::path& db, const ModelPack& pack, size_t faces, size_t queries) {
  const Catalog catalog = Catalog::open(db, pack, Catalog::Mode::kOpenExisting);
  const int dim = pack.embedder.dim;
  const auto exact = build_vector_index(catalog, IndexKind::kExact, dim);
  const auto graph = load_current_approx_index(catalog, dim);
  auto* hnsw = dynamic_cast<index_detail::HnswIndex*>(graph.get());
  if (!hnsw) {
    std::printf("in-process: no current saved graph\n");
    return;
  }
  const SearchOptions options;
  std::vector<std::vector<std::int64_t>> truth(queries);
  std::vector<double> exact_ms;
  for (size_t q = 0; q < queries; ++q) {
    const std::int64_t face_id = 1 + static_cast<std::int64_t>((q * 7919u + 13) % faces);
    const auto t0 = Clock::now();  // wall time: the exact scan splits over the cores
    const SearchReport a = search_index_by_face(catalog, *exact, pack, face_id, options);
    exact_ms.push_back(ms_since(t0));
    for (const auto& m : a.matches) truth[q].push_back(m.face_id);
    std::sort(truth[q].begin(), truth[q].end());
  }
  std::printf("in-process, %zu face-id searches over %zu faces, exact index: p50 %.2f / p99 %.2f ms (wall time; the graph's below are the thread's CPU time)\n\n", queries, faces,
              percentile(exact_ms, 0.5), percentile(exact_ms, 0.99));
  std::printf("| graph walk | search p50 / p99 ms | its walks (mean ms, walks per search) | 2 walks alone p50 / p99 ms | recall of exact matches | extra |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  const float at_least = pack.query_expansion ? pack.query_expansion->at_least : 0.5f;
  const size_t top = pack.query_expansion ? static_cast<size_t>(pack.query_expansion->top) : 3;
  for (const bool half : {false, true}) {
    if (hnsw->set_half_precision_walk(half) != half) continue;
    std::vector<double> graph_ms, walk_ms;
    size_t wanted = 0, found = 0, extra = 0;
    TimedIndex timed(*graph);
    for (int pass = 0; pass < 2; ++pass)  // the first pass warms the caches
      for (size_t q = 0; q < queries; ++q) {
        const std::int64_t face_id = 1 + static_cast<std::int64_t>((q * 7919u + 13) % faces);
        double t0 = thread_cpu_ms();
        if (pass == 1 && q == 0) timed.ms = 0, timed.calls = 0;
        const SearchReport b = search_index_by_face(catalog, timed, pack, face_id, options);
        const double search_ms = thread_cpu_ms() - t0;
        // The walks alone: the expansion's look-up and the look-up of every match, with the library
        // search's beams (here with the query face itself, as a search that found nothing to expand
        // with makes; the caches are warm from the search just made).
        const auto face = catalog.face_by_id(face_id);
        t0 = thread_cpu_ms();
        (void)graph->search_beam(face->embedding, top + 32, at_least, top + 32);
        (void)graph->search_beam(face->embedding, 64, pack.threshold, 64);
        const double walks_ms = thread_cpu_ms() - t0;
        if (pass == 0) continue;
        graph_ms.push_back(search_ms), walk_ms.push_back(walks_ms);
        std::vector<std::int64_t> ids;
        for (const auto& m : b.matches) ids.push_back(m.face_id);
        std::sort(ids.begin(), ids.end());
        std::vector<std::int64_t> both;
        std::set_intersection(truth[q].begin(), truth[q].end(), ids.begin(), ids.end(), std::back_inserter(both));
        wanted += truth[q].size(), found += both.size(), extra += ids.size() - both.size();
      }
    std::printf("| %s | %.2f / %.2f | %.2f, %.2f | %.2f / %.2f | %.5f (%zu of %zu) | %zu |\n", half ? "half-precision rows" : "float rows",
                percentile(graph_ms, 0.5), percentile(graph_ms, 0.99), timed.ms / double(queries), double(timed.calls) / double(queries),
                percentile(walk_ms, 0.5), percentile(walk_ms, 0.99),
                wanted ? double(found) / double(wanted) : 1.0, found, wanted, extra);
  }
  std::printf("\n");
  std::fflush(stdout);
}

void print_row(const char* what, int clients, const LoadResult& r) {
  std::printf("| %s | %d | %.1f | %.1f | %.1f | %zu | %zu | %.2f |\n", what, clients, r.per_second, r.p50, r.p99, r.busy,
              r.failed, r.cpu_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  facesearch::tune_process_memory(argv);  // as the facesearch command runs
  size_t faces = 100000;
  double seconds = 5;
  fs::path photos = "build/phone-photos/photos";
  fs::path cli = "build/facesearch";
  fs::path upload = "../shared/testdata/faces/people/biden/fr_biden.jpg";
  bool graph_too = true, face_id_only = false;
  fs::path keep;
  size_t in_process_queries = 0;
  std::vector<int> client_counts = {1, 8, 32};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--faces") && i + 1 < argc) faces = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--photos") && i + 1 < argc) photos = argv[++i];
    else if (!std::strcmp(argv[i], "--cli") && i + 1 < argc) cli = argv[++i];
    else if (!std::strcmp(argv[i], "--no-graph")) graph_too = false;
    else if (!std::strcmp(argv[i], "--face-id-only")) face_id_only = true;
    else if (!std::strcmp(argv[i], "--db") && i + 1 < argc) keep = argv[++i];
    else if (!std::strcmp(argv[i], "--in-process") && i + 1 < argc) in_process_queries = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--clients") && i + 1 < argc) client_counts = parse_list(argv[++i]);
    else {
      std::fprintf(stderr, "usage: facesearch_server_bench [--faces N] [--seconds S] [--photos DIR] [--cli PATH] [--no-graph]\n"
                           "                               [--db PATH] [--face-id-only] [--clients 1,8,32] [--in-process N]\n");
      return 2;
    }
  }
  if (!fs::is_directory(photos)) photos = "../shared/testdata/faces";
  std::string tmpl = (fs::temp_directory_path() / "facesearch-server-bench-XXXXXX").string();
  const fs::path tmp = mkdtemp(tmpl.data());
  const ModelPack pack = choose_model_pack({});

  // ---- searches over a large synthetic library ----
  const fs::path big = keep.empty() ? tmp / "big.db" : keep;
  if (keep.empty() || !fs::exists(keep)) {
    Catalog catalog = Catalog::open(big, pack, Catalog::Mode::kOpenOrCreate);
    bench::add_synthetic_faces(catalog, pack.embedder.dim, faces);
    update_vectors_file(catalog, pack.embedder.dim);
  }
  if (!keep.empty()) faces = static_cast<size_t>(Catalog::open(big, pack, Catalog::Mode::kOpenExisting).counts().faces);
  if (face_id_only) graph_too = true;
  const std::string photo = file_bytes(upload);
  auto by_face = [&](httplib::Client& c, size_t n) {
    return c.Post("/api/v1/search", nlohmann::json{{"face_id", 1 + static_cast<std::int64_t>(n % faces)}}.dump(),
                  "application/json");
  };
  auto by_upload = [&](httplib::Client& c, size_t) {
    return c.Post("/api/v1/search", httplib::MultipartFormDataItems{{"photo", photo, "photo.jpg", "image/jpeg"}});
  };
  server::ServeOptions options;
  options.db = big;
  options.port = 0;
  options.cache_dir = tmp / "cache";
  std::printf("## facesearch serve under load: %zu synthetic %d-d faces (%s), %u cores, %.0f s per row\n\n", faces,
              pack.embedder.dim, pack.name.c_str(), std::thread::hardware_concurrency(), seconds);
  std::printf("server: %d workers, %d waiting at most; busy = answered 503 (the client waits 20 ms and retries)\n\n",
              options.workers, options.queue);
  std::printf("CPU ms: the bench process's CPU time (server and clients) per answer\n\n");
  std::printf("| request | clients | requests/s | p50 ms | p99 ms | busy | failed | CPU ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const bool graph : {false, true}) {
    if (graph && !graph_too) break;
    if (!graph && face_id_only) continue;
    if (graph) {
      Catalog catalog = Catalog::open(big, pack, Catalog::Mode::kOpenExisting);
      const auto t0 = Clock::now();
      update_approx_index_file(catalog, pack.embedder.dim, 0);  // kept when current
      std::printf("| (HNSW graph of %zu faces built and saved, or found current, in %.1f s) | | | | | | | |\n", faces,
                  ms_since(t0) / 1000);
      if (in_process_queries) in_process(big, pack, faces, in_process_queries);
    }
    Running s(options);
    const std::string kind = s.server.library().search_context().index_kind;
    for (const int clients : client_counts)
      print_row(("face id, " + kind).c_str(), clients, load(s, clients, seconds, by_face));
    if (face_id_only) continue;
    for (const int clients : client_counts)
      print_row(("upload, " + kind).c_str(), clients, load(s, clients, seconds, by_upload));
  }
  if (face_id_only) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    return 0;
  }

  // The CLI on the same library: one process per search (it loads the library every time).
  if (fs::exists(cli)) {
    std::vector<double> ms;
    for (int i = 0; i < 10; ++i) {
      const std::string command = cli.string() + " search --db " + big.string() + " --face-id " +
                                  std::to_string(1 + (i * 7919) % faces) + " --format json > /dev/null";
      const auto t0 = Clock::now();
      if (std::system(command.c_str()) != 0) std::fprintf(stderr, "failed: %s\n", command.c_str());
      ms.push_back(ms_since(t0));
    }
    std::printf("\nCLI `facesearch search --db ... --face-id N` (one process per search, same library, %s): p50 %.0f ms, "
                "p99 %.0f ms over 10\n",
                graph_too ? "HNSW graph" : "exact", percentile(ms, 0.5), percentile(ms, 0.99));
  }

  // ---- crops and downscaled photos of real photos, uncached and cached ----
  const fs::path real = tmp / "real.db";
  {
    IndexRequest request;
    std::optional<Library> library = Library::open_for_indexing(real, request, /*create=*/true);
    const fs::path roots[] = {photos};
    const IndexReport r = library->index(roots, {});
    std::printf("\n## face crops and photos from %s (%zu photos, %zu faces)\n\n", photos.c_str(), r.files, r.faces);
  }
  options.db = real;
  Running s(options);
  auto c = s.client();
  const auto status = nlohmann::json::parse(c.Get("/api/v1/status")->body);
  const std::int64_t real_faces = status["faces"].get<std::int64_t>(), real_photos = status["photos"].get<std::int64_t>();
  std::printf("| request | uncached p50 / p99 ms | cached p50 / p99 ms | bytes (median) |\n|---|---:|---:|---:|\n");
  auto measure = [&](const char* what, std::int64_t count, const std::string& prefix, const std::string& suffix) {
    std::vector<double> cold, warm, bytes;
    for (int pass = 0; pass < 2; ++pass)
      for (std::int64_t id = 1; id <= count; ++id) {
        const auto t0 = Clock::now();
        const auto r = c.Get(prefix + std::to_string(id) + suffix);
        const double ms = ms_since(t0);
        if (!r || r->status != 200) continue;
        const bool hit = r->get_header_value("X-Cache") == "hit";
        (hit ? warm : cold).push_back(ms);
        if (!hit) bytes.push_back(static_cast<double>(r->body.size()));
      }
    std::printf("| %s | %.1f / %.1f | %.2f / %.2f | %.0f |\n", what, percentile(cold, 0.5), percentile(cold, 0.99),
                percentile(warm, 0.5), percentile(warm, 0.99), percentile(bytes, 0.5));
  };
  measure("face crop, 160 px", real_faces, "/api/v1/faces/", "/crop?size=160");
  measure("photo, 1600 px", real_photos, "/api/v1/photos/", "/image?max=1600");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
