// A library in PostgreSQL + pgvector (issue 16), measured on this machine against facesearch's own
// indexes: binary-COPY ingest and the product's row-by-row write path (faces/s), pgvector's HNSW build
// time and size, query p50/p99, recall@10 and the recall of the top 10's matches (faces over the
// pack's threshold) for pgvector HNSW (ef_search 40 to 800) and exact scan (--exact-queries: on the
// first N queries only; a million-face scan takes seconds; --own-hnsw-max: our own graph is built only
// up to that many faces, 200,000 by default: ~40 minutes at a million 512-d faces on 2 cores;
// --real-spread: strangers spread like real faces, bench/synthetic_faces.h)
// against facesearch's own HNSW and exact index on the same vectors; then indexing photos/s with 1 and
// 2 workers (`facesearch index` processes) when --cli and --photos are given. Synthetic faces shaped like
// the default pack's (bench/synthetic_faces.h). The server is a throwaway cluster (tests/pg_cluster.sh)
// with 1 GB of shared buffers, fsync on.
// Usage: facesearch_pg_bench [--sizes 100000] [--queries 200] [--exact-queries N] [--own-hnsw-max N] [--real-spread] [--m 16] [--ef-construction 64]
//                            [--cli build/facesearch --photos DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/synthetic_faces.h"
#include "index/vector_index.h"
#include "models/pack_registry.h"
#include "store/catalog.h"
#include "store/pg_connection.h"

namespace fs = std::filesystem;
using namespace facesearch;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * double(v.size())))];
}

std::string run(const std::string& command) {
  std::string out;
  if (FILE* f = popen(command.c_str(), "r")) {
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

struct Cluster {
  fs::path dir;
  std::string admin;  // socket URI of database facesearch
  ~Cluster() {
    if (!dir.empty()) run("bash tests/pg_cluster.sh stop '" + dir.string() + "' 2>&1");
  }
  std::string database(const std::string& name) {
    sql::PgConnection c(admin);
    c.exec("DROP DATABASE IF EXISTS " + name);
    c.exec("CREATE DATABASE " + name);
    std::string uri = admin;
    uri.replace(uri.find("/facesearch?"), std::string("/facesearch?").size(), "/" + name + "?");
    return uri;
  }
};

struct Latency {
  double p50 = 0, p99 = 0, recall = 0;
  double match_recall = 1;  // of the top 10's faces over the pack's threshold (the matches a search shows)
};

// The matches among each query's true top 10: the ids scoring at least the threshold.
std::vector<std::vector<std::int64_t>> g_matches;

// Recall@10 of `found` against `truth` (ids), averaged over queries.
double recall_at_10(const std::vector<std::vector<std::int64_t>>& found, const std::vector<std::vector<std::int64_t>>& truth) {
  double sum = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    size_t hit = 0;
    for (const auto id : truth[q]) hit += std::find(found[q].begin(), found[q].end(), id) != found[q].end();
    sum += truth[q].empty() ? 1.0 : double(hit) / double(truth[q].size());
  }
  return truth.empty() ? 0 : sum / double(truth.size());
}

Latency pg_queries(sql::PgConnection& c, const std::vector<std::vector<float>>& queries,
                   const std::vector<std::vector<std::int64_t>>& truth, const std::string& setup) {
  c.exec(setup);
  std::vector<double> ms;
  std::vector<std::vector<std::int64_t>> found;
  for (const auto& q : queries) {
    const auto t = Clock::now();
    sql::Statement s(c, "SELECT id FROM faces ORDER BY embedding <=> ?1 LIMIT 10");
    s.bind_vector(1, q);
    std::vector<std::int64_t> ids;
    while (s.step()) ids.push_back(s.i64(0));
    ms.push_back(seconds_since(t) * 1000);
    found.push_back(std::move(ids));
  }
  return {percentile(ms, 0.5), percentile(ms, 0.99), recall_at_10(found, std::vector(truth.begin(), truth.begin() + found.size())),
          recall_at_10(found, g_matches)};
}

Latency own_queries(const VectorIndex& index, const std::vector<std::vector<float>>& queries,
                    const std::vector<std::vector<std::int64_t>>& truth) {
  std::vector<double> ms;
  std::vector<std::vector<std::int64_t>> found;
  for (const auto& q : queries) {
    const auto t = Clock::now();
    const auto n = index.search_beam(q, 10, -1.f, 0);
    ms.push_back(seconds_since(t) * 1000);
    std::vector<std::int64_t> ids;
    for (const auto& x : n) ids.push_back(x.id);
    found.push_back(std::move(ids));
  }
  return {percentile(ms, 0.5), percentile(ms, 0.99), recall_at_10(found, truth), recall_at_10(found, g_matches)};
}

double g_people_tau = 0;  // --real-spread: bench::kRealisticPeopleTau
size_t g_own_hnsw_max = 200000;  // --own-hnsw-max: facesearch's own graph is built up to this many faces
size_t g_exact_queries = 0;  // --exact-queries: how many queries pgvector's exact scan answers (0: all)
size_t pg_exact_count(size_t queries) { return g_exact_queries ? std::min(g_exact_queries, queries) : queries; }
int g_m = 16, g_ef_construction = 64;  // --m, --ef-construction: the HNSW index's build parameters

void bench_size(Cluster& cluster, const ModelPack& pack, size_t n, size_t query_count) {
  const int dim = pack.embedder.dim;
  std::printf("\n## %zu faces (%d-d, synthetic: people of 5-20 faces, strangers %s)\n\n", n, dim,
              g_people_tau > 0 ? "spread like real ones (--real-spread)" : "random directions");
  const std::vector<float> vectors = bench::synthetic_embeddings(dim, n, 5, g_people_tau);
  const std::string uri = cluster.database("bench_" + std::to_string(n));
  { Catalog::open(uri, pack, Catalog::Mode::kOpenOrCreate); }  // the library's schema
  sql::PgConnection c(uri);

  // Ingest by binary COPY, without the vector index (built after, as for a bulk load).
  c.exec("DROP INDEX faces_embedding");
  auto t = Clock::now();
  {
    sql::CopyRows images, faces;
    const std::string landmarks(10 * sizeof(float), '\0');
    for (size_t i = 0; i < n; ++i) {
      const auto id = static_cast<std::int64_t>(i + 1);
      images.begin_row(10);
      images.add(id);
      images.add("/synthetic/" + std::to_string(i) + ".jpg");
      images.add(std::int64_t{1}), images.add(std::int64_t{1});
      images.add(std::to_string(i));
      images.add_int(4032), images.add_int(3024);
      images.add(std::string_view("ok")), images.add(std::string_view(""));
      images.add(std::int64_t{1});
      faces.begin_row(12);
      faces.add(id), faces.add(id), faces.add_int(0);
      faces.add(100.0), faces.add(100.0), faces.add(200.0), faces.add(220.0), faces.add(0.99);
      faces.add(std::string_view("synthetic"));
      faces.add(std::string_view(landmarks));
      faces.add_vector(std::span(vectors).subspan(i * dim, dim));
      faces.add_int(1);
    }
    c.exec("BEGIN");
    c.copy_in("COPY images(id, path, size, mtime_ns, hash, width, height, status, error, indexed_at) FROM STDIN (FORMAT binary)",
              images.data());
    c.copy_in("COPY faces(id, image_id, face_index, x1, y1, x2, y2, score, detector, landmarks, embedding, people_seen) "
              "FROM STDIN (FORMAT binary)",
              faces.data());
    c.exec("SELECT setval(pg_get_serial_sequence('images', 'id'), " + std::to_string(n) + ")");
    c.exec("SELECT setval(pg_get_serial_sequence('faces', 'id'), " + std::to_string(n) + ")");
    c.exec("COMMIT");
  }
  const double copy_s = seconds_since(t);
  t = Clock::now();
  // The graph must fit in maintenance_work_mem, or pgvector builds it on disk, far more slowly: ~2.7 GB
  // per million 512-d faces.
  c.exec(std::string("SET maintenance_work_mem = '") + (n > 500000 ? "6GB" : "2GB") + "'; SET max_parallel_maintenance_workers = 1");
  c.exec("CREATE INDEX faces_embedding ON faces USING hnsw (embedding vector_cosine_ops) WITH (m = " + std::to_string(g_m) +
         ", ef_construction = " + std::to_string(g_ef_construction) + ")");
  const double build_s = seconds_since(t);
  c.exec("VACUUM ANALYZE faces");
  double index_mb = 0, table_mb = 0;
  {
    sql::Statement s(c, "SELECT pg_relation_size('faces_embedding'), pg_total_relation_size('faces') - pg_relation_size('faces_embedding')");
    if (s.step()) index_mb = double(s.i64(0)) / 1048576.0, table_mb = double(s.i64(1)) / 1048576.0;
  }
  // The product's write path, as `index` takes it: Catalog::put_image per photo and
  // replace_faces_of_images per batch of 32 photos (their faces in one binary COPY), the index present;
  // and the row-by-row path it replaced (replace_faces per photo: one INSERT per face).
  const size_t rows = std::min<size_t>(2000, n);
  auto write_path = [&](bool batched, const std::string& prefix) {
    Catalog catalog = Catalog::open(uri, pack, Catalog::Mode::kOpenExisting);
    const auto t0 = Clock::now();
    for (size_t i = 0; i < rows;) {
      Catalog::Transaction tx(catalog);
      std::vector<std::pair<std::int64_t, FaceRow>> batch;
      for (size_t k = 0; k < 32 && i < rows; ++k, ++i) {
        ImageRow row;
        row.path = "/" + prefix + "/" + std::to_string(i) + ".jpg";
        row.size = 1, row.mtime_ns = 1, row.hash = prefix + std::to_string(i), row.status = "ok";
        FaceRow f;
        f.embedding.assign(vectors.begin() + (i % n) * dim, vectors.begin() + (i % n + 1) * dim);
        f.face.detector = "synthetic";
        const std::int64_t id = catalog.put_image(row);
        if (batched) batch.emplace_back(id, std::move(f));
        else catalog.replace_faces(id, std::span<const FaceRow>(&f, 1));
      }
      std::vector<Catalog::ImageFaces> images;
      for (const auto& [id, f] : batch) images.push_back({id, std::span<const FaceRow>(&f, 1)});
      catalog.replace_faces_of_images(images);
      tx.commit();
    }
    return seconds_since(t0);
  };
  const double row_s = write_path(true, "batched");
  const double row_by_row_s = write_path(false, "row-by-row");
  // The same number of faces by binary COPY with the HNSW index present (what an index run could send per
  // batch instead): 32 photos per COPY and transaction.
  double copy_indexed_s = 0;
  {
    const std::string landmarks(10 * sizeof(float), '\0');
    std::int64_t next_image = static_cast<std::int64_t>(n) + 1000000;
    t = Clock::now();
    for (size_t i = 0; i < rows;) {
      sql::CopyRows images, faces;
      for (size_t k = 0; k < 32 && i < rows; ++k, ++i) {
        const std::int64_t id = next_image++;
        images.begin_row(10);
        images.add(id);
        images.add("/copied/" + std::to_string(i) + ".jpg");
        images.add(std::int64_t{1}), images.add(std::int64_t{1});
        images.add("c" + std::to_string(i));
        images.add_int(4032), images.add_int(3024);
        images.add(std::string_view("ok")), images.add(std::string_view(""));
        images.add(std::int64_t{1});
        faces.begin_row(11);
        faces.add(id), faces.add_int(0);
        faces.add(100.0), faces.add(100.0), faces.add(200.0), faces.add(220.0), faces.add(0.99);
        faces.add(std::string_view("synthetic"));
        faces.add(std::string_view(landmarks));
        faces.add_vector(std::span(vectors).subspan((i % n) * dim, dim));
        faces.add_int(0);
      }
      c.exec("BEGIN");
      c.copy_in("COPY images(id, path, size, mtime_ns, hash, width, height, status, error, indexed_at) FROM STDIN (FORMAT binary)",
                images.data());
      c.copy_in("COPY faces(image_id, face_index, x1, y1, x2, y2, score, detector, landmarks, embedding, people_seen) "
                "FROM STDIN (FORMAT binary)",
                faces.data());
      c.exec("COMMIT");
    }
    copy_indexed_s = seconds_since(t);
  }
  // Those rows repeat vectors of the first faces: out again before the searches.
  c.exec("DELETE FROM images WHERE id > " + std::to_string(n));
  c.exec("VACUUM ANALYZE faces");
  std::printf("| ingest | faces/s | seconds |\n|---|---:|---:|\n");
  std::printf("| binary COPY (images + faces, no vector index) | %.0f | %.1f |\n", double(n) / copy_s, copy_s);
  std::printf("| pgvector HNSW build (m %d, ef_construction %d, 2 cores) | %.0f | %.1f |\n", g_m, g_ef_construction,
              double(n) / build_s, build_s);
  std::printf("| the indexer's path (32 photos per transaction, their faces by binary COPY, HNSW present) | %.0f | %.1f (%zu faces) |\n",
              double(rows) / row_s, row_s, rows);
  std::printf("| the row-by-row path before it (one INSERT per face) | %.0f | %.1f (%zu faces) |\n",
              double(rows) / row_by_row_s, row_by_row_s, rows);
  std::printf("| binary COPY of 32 photos per transaction, HNSW present | %.0f | %.1f (%zu faces) |\n",
              double(rows) / copy_indexed_s, copy_indexed_s, rows);
  std::printf("\nHNSW index %.0f MB, table + other indexes %.0f MB (%.2f GB per million faces in all)\n\n", index_mb,
              table_mb, (index_mb + table_mb) / 1024.0 * 1e6 / double(n));

  // Queries: other photos of known people (a face's vector with noise), truth by the exact index.
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<std::vector<float>> queries;
  for (size_t q = 0; q < query_count; ++q) {
    const size_t i = pick(rng);
    std::vector<float> v(vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
    std::vector<float> r(dim);
    for (auto& x : r) x = noise(rng);
    l2_normalize(r);
    for (int k = 0; k < dim; ++k) v[k] += 0.5f * r[k];
    l2_normalize(v);
    queries.push_back(std::move(v));
  }
  std::vector<std::int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<std::int64_t>(i + 1);
  auto exact = make_exact_index(dim);
  exact->add(ids, vectors);
  std::vector<std::vector<std::int64_t>> truth;
  g_matches.clear();
  size_t match_count = 0;
  for (const auto& q : queries) {
    std::vector<std::int64_t> best, matches;
    for (const auto& x : exact->search_beam(q, 10, -1.f, 0)) {
      best.push_back(x.id);
      if (x.score >= pack.threshold) matches.push_back(x.id);
    }
    match_count += matches.size();
    truth.push_back(std::move(best));
    g_matches.push_back(std::move(matches));
  }
  // pgvector's own exact ranking is the truth for its index: it computes distances in single precision,
  // so near-ties at rank 10 may order differently from ours (the first line says how often).
  std::vector<std::vector<std::int64_t>> pg_truth;
  Latency pg_exact;
  {
    c.exec("SET enable_indexscan = off; SET enable_bitmapscan = off");
    std::vector<double> ms;
    const size_t exact_count = g_exact_queries ? std::min(g_exact_queries, queries.size()) : queries.size();
    for (size_t qi = 0; qi < exact_count; ++qi) {
      const auto& q = queries[qi];
      const auto t0 = Clock::now();
      // Its own statement text: a prepared statement keeps the plan it was first given, whatever SET says
      // later (the HNSW queries below must not inherit this sequential scan, nor this one their index scan).
      sql::Statement s(c, "SELECT id FROM faces ORDER BY embedding <=> ?1 LIMIT 10 -- exact");
      s.bind_vector(1, q);
      std::vector<std::int64_t> best;
      while (s.step()) best.push_back(s.i64(0));
      ms.push_back(seconds_since(t0) * 1000);
      pg_truth.push_back(std::move(best));
    }
    c.exec("RESET enable_indexscan; RESET enable_bitmapscan");
    pg_exact = {percentile(ms, 0.5), percentile(ms, 0.99),
                recall_at_10(pg_truth, std::vector(truth.begin(), truth.begin() + static_cast<std::ptrdiff_t>(exact_count)))};
    // Where pgvector's exact scan answered every query it is the truth for its index; else ours is
    // (they agree but for near-ties at rank 10: the first line says how often).
    if (exact_count < queries.size()) pg_truth = truth;
  }
  std::printf("%zu queries; %zu of their true top-10 faces score over the threshold %.2f (the matches a search shows)\n\n",
              queries.size(), match_count, pack.threshold);
  std::printf("| search (top 10) | p50 ms | p99 ms | recall@10 | recall of the matches |\n|---|---:|---:|---:|---:|\n");
  std::printf("| pgvector exact scan (%zu queries) | %.2f | %.2f | 1 (against ours: %.4f) | 1 |\n",
              pg_exact_count(queries.size()), pg_exact.p50, pg_exact.p99, pg_exact.recall);
  for (const int ef : {40, 100, 200, 400, 800}) {
    const Latency l = pg_queries(c, queries, pg_truth, "SET hnsw.ef_search = " + std::to_string(ef));
    std::printf("| pgvector HNSW, ef_search %d | %.2f | %.2f | %.4f | %.4f |\n", ef, l.p50, l.p99, l.recall, l.match_recall);
    std::fflush(stdout);
  }
  {
    const Latency l = own_queries(*exact, queries, truth);
    std::printf("| facesearch exact (in process) | %.2f | %.2f | %.4f | %.4f |\n", l.p50, l.p99, l.recall, l.match_recall);
  }
  if (n <= g_own_hnsw_max) {
    t = Clock::now();
    auto own = make_approx_index(dim);
    own->add(ids, vectors);
    const double own_build = seconds_since(t);
    const Latency l = own_queries(*own, queries, truth);
    std::printf("| facesearch HNSW (in process, efSearch 128; built in %.0f s) | %.2f | %.2f | %.4f | %.4f |\n", own_build, l.p50,
                l.p99, l.recall, l.match_recall);
  } else {
    std::printf("| facesearch HNSW (in process) | not built above --own-hnsw-max %zu faces | | | |\n", g_own_hnsw_max);
  }
}

// `facesearch index` over `photos` into a new database library: one process with two threads, then two
// processes with one thread each at once.
void bench_workers(Cluster& cluster, const std::string& cli, const fs::path& photos) {
  size_t count = 0;
  for (const auto& e : fs::recursive_directory_iterator(photos)) count += e.is_regular_file();
  std::printf("\n## Indexing %zu photos of %s into a PostgreSQL library\n\n| run | wall s | photos/s |\n|---|---:|---:|\n",
              count, photos.c_str());
  for (const int workers : {1, 2}) {
    const std::string uri = cluster.database("workers_" + std::to_string(workers));
    const std::string one = "'" + cli + "' index --db '" + uri + "' --jobs " + std::to_string(2 / workers) + " '" +
                            photos.string() + "' >/dev/null 2>&1";
    std::string command = one;
    for (int w = 1; w < workers; ++w) command = one + " & " + command + "; wait";
    const auto t = Clock::now();
    run("bash -c \"" + command + "\"");
    const double s = seconds_since(t);
    std::printf("| %d worker%s (%d thread%s each) | %.1f | %.1f |\n", workers, workers > 1 ? "s" : "", 2 / workers,
                workers > 1 ? "" : "s", s, double(count) / s);
  }
  const fs::path db = fs::temp_directory_path() / ("facesearch-pg-bench-" + std::to_string(getpid()) + ".db");
  const auto t = Clock::now();
  run("'" + cli + "' index --db '" + db.string() + "' --jobs 2 '" + photos.string() + "' >/dev/null 2>&1");
  const double s = seconds_since(t);
  std::printf("| the same into an SQLite library (1 process, 2 threads) | %.1f | %.1f |\n", s, double(count) / s);
  for (const char* suffix : {"", "-wal", "-shm", ".vectors", ".hnsw"}) fs::remove(db.string() + suffix);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {100000};
  size_t queries = 200;
  std::string cli;
  fs::path photos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sizes") {
      sizes.clear();
      std::string list = next();
      for (size_t at = 0; at <= list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        sizes.push_back(std::stoul(list.substr(at, comma - at)));
        at = comma + 1;
      }
    } else if (a == "--m") {
      g_m = std::stoi(next());
    } else if (a == "--ef-construction") {
      g_ef_construction = std::stoi(next());
    } else if (a == "--real-spread") {
      g_people_tau = bench::kRealisticPeopleTau;
    } else if (a == "--own-hnsw-max") {
      g_own_hnsw_max = std::stoul(next());
    } else if (a == "--exact-queries") {
      g_exact_queries = std::stoul(next());
    } else if (a == "--queries") {
      queries = std::stoul(next());
    } else if (a == "--cli") {
      cli = next();
    } else if (a == "--photos") {
      photos = next();
    } else {
      std::fprintf(stderr, "usage: facesearch_pg_bench [--sizes 100000,...] [--queries 200] [--exact-queries N] [--own-hnsw-max N] [--real-spread] [--m 16] [--ef-construction 64] "
                   "[--cli FACESEARCH --photos DIR]\n");
      return 2;
    }
  }
  Cluster cluster;
  char dir_template[] = "/tmp/facesearch-pg-bench-XXXXXX";
  if (!mkdtemp(dir_template)) return 1;
  fs::permissions(dir_template, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);  // postgres walks in
  cluster.dir = fs::path(dir_template) / "cluster";
  cluster.admin = run("PG_CLUSTER_CONF='shared_buffers = 1GB\nfsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
                      "max_wal_size = 4GB' bash tests/pg_cluster.sh start '" + cluster.dir.string() + "' 2>&1 | tail -n 1");
  if (cluster.admin.rfind("postgresql://", 0) != 0) {
    std::fprintf(stderr, "cannot start PostgreSQL (run make setup): %s\n", cluster.admin.c_str());
    return 1;
  }
  std::printf("# PostgreSQL 15 + pgvector against facesearch's own indexes (%ld cores; shared_buffers 1 GB, fsync on)\n",
              sysconf(_SC_NPROCESSORS_ONLN));
  const ModelPack pack = load_named_pack(kDefaultPackName);
  try {
    for (const size_t n : sizes) bench_size(cluster, pack, n, queries);
    if (!cli.empty() && !photos.empty()) bench_workers(cluster, cli, photos);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facesearch_pg_bench: %s\n", e.what());
    return 1;
  }
  run("bash tests/pg_cluster.sh stop '" + cluster.dir.string() + "' 2>&1");
  cluster.dir.clear();
  fs::remove_all(dir_template);
  return 0;
}
