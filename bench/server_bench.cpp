// `facesearch serve` under load (part of `make bench`): searches by face id and by upload at 1, 8 and 32
// concurrent clients over a library of 100,000 synthetic faces (bench/synthetic_faces.h, the default
// pack's dimension), once with the exact index (what such a library uses today) and once with a saved
// HNSW graph; then face crops and downscaled photos, uncached and from the disk cache, over a library
// of real photos (the phone-size set `make bench` writes, else testdata); and the CLI's
// per-process search on the same library for comparison. Clients keep their connection open and send
// without delay (TCP_NODELAY), as browsers do, and each sends its next request when the last is answered.
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
#include "library/library.h"
#include "server/server.h"
#include "store/vector_files.h"

namespace fs = std::filesystem;
using namespace facesearch;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

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
  double per_second = 0, p50 = 0, p99 = 0;
  size_t answered = 0, busy = 0, failed = 0;
};

// `clients` threads, each sending `request(client, n)` back to back for `seconds`.
template <class Request>
LoadResult load(const Running& s, int clients, double seconds, Request request) {
  std::mutex m;
  std::vector<double> latencies;
  std::atomic<size_t> busy{0}, failed{0};
  const auto start = Clock::now();
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
  r.answered = latencies.size();
  r.busy = busy;
  r.failed = failed;
  r.per_second = latencies.size() / (ms_since(start) / 1000);
  r.p50 = percentile(latencies, 0.5);
  r.p99 = percentile(latencies, 0.99);
  return r;
}

void print_row(const char* what, int clients, const LoadResult& r) {
  std::printf("| %s | %d | %.1f | %.1f | %.1f | %zu | %zu |\n", what, clients, r.per_second, r.p50, r.p99, r.busy,
              r.failed);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  size_t faces = 100000;
  double seconds = 5;
  fs::path photos = "build/phone-photos/photos";
  fs::path cli = "build/facesearch";
  fs::path upload = "../shared/testdata/faces/people/biden/fr_biden.jpg";
  bool graph_too = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--faces") && i + 1 < argc) faces = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--photos") && i + 1 < argc) photos = argv[++i];
    else if (!std::strcmp(argv[i], "--cli") && i + 1 < argc) cli = argv[++i];
    else if (!std::strcmp(argv[i], "--no-graph")) graph_too = false;
    else {
      std::fprintf(stderr, "usage: facesearch_server_bench [--faces N] [--seconds S] [--photos DIR] [--cli PATH] [--no-graph]\n");
      return 2;
    }
  }
  if (!fs::is_directory(photos)) photos = "../shared/testdata/faces";
  std::string tmpl = (fs::temp_directory_path() / "facesearch-server-bench-XXXXXX").string();
  const fs::path tmp = mkdtemp(tmpl.data());
  const ModelPack pack = choose_model_pack({});

  // ---- searches over a large synthetic library ----
  const fs::path big = tmp / "big.db";
  {
    Catalog catalog = Catalog::open(big, pack, Catalog::Mode::kOpenOrCreate);
    bench::add_synthetic_faces(catalog, pack.embedder.dim, faces);
    update_vectors_file(catalog, pack.embedder.dim);
  }
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
  std::printf("| request | clients | requests/s | p50 ms | p99 ms | busy | failed |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const bool graph : {false, true}) {
    if (graph && !graph_too) break;
    if (graph) {
      Catalog catalog = Catalog::open(big, pack, Catalog::Mode::kOpenExisting);
      const auto t0 = Clock::now();
      update_approx_index_file(catalog, pack.embedder.dim, 0);
      std::printf("| (HNSW graph of %zu faces built and saved in %.1f s) | | | | | | |\n", faces, ms_since(t0) / 1000);
    }
    Running s(options);
    const std::string kind = s.server.library().search_context().index_kind;
    for (const int clients : {1, 8, 32})
      print_row(("face id, " + kind).c_str(), clients, load(s, clients, seconds, by_face));
    for (const int clients : {1, 8, 32})
      print_row(("upload, " + kind).c_str(), clients, load(s, clients, seconds, by_upload));
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
