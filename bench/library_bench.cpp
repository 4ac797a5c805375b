// Library benchmarks (part of `make bench`): indexing throughput on the test photos, the time to
// re-scan an unchanged library of 10,000 files (stat only: nothing is read or decoded), and the time a
// search spends loading a large library's vectors (SQLite rows against the saved flat file).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <random>

#include "bench/synthetic_faces.h"
#include "search/library_search.h"
#include "store/vector_files.h"
#include "store/indexer.h"
#include "core/process_memory.h"

namespace fs = std::filesystem;
using namespace facesearch;

namespace {

std::int64_t mtime_ns(const fs::path& p) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(fs::last_write_time(p).time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  facesearch::tune_process_memory(argv);  // as the facesearch command runs
  fs::path photos = "../shared/testdata/faces";
  size_t files = 10000;
  size_t faces = 200000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--target") && i + 1 < argc) photos = argv[++i];
    else if (!std::strcmp(argv[i], "--files") && i + 1 < argc) files = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--faces") && i + 1 < argc) faces = std::strtoul(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: facesearch_library_bench [--target DIR] [--files N] [--faces N]\n");
      return 2;
    }
  }
  std::string tmpl = (fs::temp_directory_path() / "facesearch-bench-XXXXXX").string();
  const fs::path tmp = mkdtemp(tmpl.data());
  const ModelPack pack = load_model_pack(resolve_models_dir(std::nullopt));
  const FacePipeline pipeline(pack, {});

  std::printf("## library benchmarks\n\n");
  {
    Catalog catalog = Catalog::open(tmp / "index.db", pack, Catalog::Mode::kOpenOrCreate);
    const fs::path roots[] = {photos};
    const auto r = index_library(catalog, pipeline, roots, {});
    std::printf("indexing %s: %zu files (%zu faces, %zu errors) in %.2f s = %.1f images/s, %.1f faces/s\n",
                photos.c_str(), r.files, r.faces, r.errors, r.seconds, r.files / r.seconds, r.faces / r.seconds);
    const auto again = index_library(catalog, pipeline, roots, {});
    std::printf("re-index unchanged: %zu files in %.1f ms\n", again.unchanged, again.seconds * 1000);
  }
  {
    // N files known to the catalog with their current size and mtime: the re-scan only stats them.
    const fs::path dir = tmp / "many";
    fs::create_directories(dir);
    const fs::path sample = photos / "people" / "Elon" / "deepface_img18.jpg";
    Catalog catalog = Catalog::open(tmp / "many.db", pack, Catalog::Mode::kOpenOrCreate);
    {
      Catalog::Transaction t(catalog);
      catalog.add_root(fs::weakly_canonical(dir));
      for (size_t i = 0; i < files; ++i) {
        const fs::path p = dir / ("photo_" + std::to_string(i) + ".jpg");
        fs::create_hard_link(sample, p);
        ImageRow row;
        row.path = fs::weakly_canonical(p);
        row.size = static_cast<std::int64_t>(fs::file_size(p));
        row.mtime_ns = mtime_ns(p);
        row.hash = "x";
        row.status = "ok";
        catalog.put_image(row);
      }
      t.commit();
    }
    const fs::path roots[] = {dir};
    const auto r = index_library(catalog, pipeline, roots, {});
    std::printf("re-scan of an unchanged library of %zu files: %.1f ms (%zu unchanged, %zu analysed)\n", r.files,
                r.seconds * 1000, r.unchanged, r.added + r.updated);
  }
  {
    // A library of N synthetic faces at the pack's dimension (synthetic_faces.h); the exact index built
    // from the catalog's rows, then from the vectors file that `index` saves next to it; then a search
    // with and without query expansion.
    Catalog catalog = Catalog::open(tmp / "big.db", pack, Catalog::Mode::kOpenOrCreate);
    const int dim = pipeline.embedding_dim();
    bench::add_synthetic_faces(catalog, dim, faces);
    std::mt19937 rng(6);
    std::normal_distribution<float> noise(0.f, 1.f);
    std::vector<float> query(dim);
    for (auto& x : query) x = noise(rng);
    l2_normalize(query);
    auto time_build = [&] {
      double best = 1e30;
      for (int r = 0; r < 3; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto index = build_vector_index(catalog, IndexKind::kExact, dim);
        (void)index->search(query, 10, 0.9f);  // a mapped file's pages are read here
        best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      return best;
    };
    const double from_rows = time_build();
    auto t0 = std::chrono::steady_clock::now();
    update_vectors_file(catalog, dim);
    const double write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double from_file = time_build();
    std::printf("exact index of a %zu-face library (%d-d) + its first query: %.0f ms from SQLite rows, %.0f ms from the vectors file "
                "(%.1fx; writing the file took %.0f ms)\n",
                faces, dim, from_rows, from_file, from_rows / from_file, write_ms);

    // "More photos of this face" for 20 faces, median time, plain and with the pack's query expansion.
    const auto index = build_vector_index(catalog, IndexKind::kExact, dim);
    if (pack.query_expansion) {  // the compact rows of the expansion's candidate lookup, made on first use
      const std::vector<float> probe(static_cast<size_t>(dim), 0.f);
      const auto t_compact = std::chrono::steady_clock::now();
      (void)index->search_confident(probe, 1, 0.99f);
      std::printf("exact index's compact (int8) rows for query expansion, made on first use: %.0f ms\n",
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_compact).count());
    }
    std::vector<double> plain_ms, expanded_ms;
    size_t expanded_queries = 0;
    for (int q = 0; q < 20; ++q) {
      const std::int64_t face_id = 1 + static_cast<std::int64_t>((q * 7919u) % faces);
      for (const bool expand : {false, true}) {
        SearchOptions options;
        options.expand = expand;
        const auto t0 = std::chrono::steady_clock::now();
        const SearchReport r = search_index_by_face(catalog, *index, pack, face_id, options);
        (expand ? expanded_ms : plain_ms).push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        expanded_queries += expand && !r.expanded_with.empty();
      }
    }
    std::sort(plain_ms.begin(), plain_ms.end());
    std::sort(expanded_ms.begin(), expanded_ms.end());
    std::printf("search by face id, exact index, %zu faces, median of 20: plain %.1f ms, with query expansion %.1f ms "
                "(%.2fx; %zu of 20 queries expanded%s)\n",
                faces, plain_ms[10], expanded_ms[10], expanded_ms[10] / plain_ms[10], expanded_queries,
                pack.query_expansion ? "" : ": the pack has no query expansion");
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
