// Library benchmarks (part of `make bench`): indexing throughput on the test photos, and the time to
// re-scan an unchanged library of 10,000 files (stat only: nothing is read or decoded).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "store/indexer.h"

namespace fs = std::filesystem;
using namespace facesearch;

namespace {

std::int64_t mtime_ns(const fs::path& p) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(fs::last_write_time(p).time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  fs::path photos = "../shared/testdata/faces";
  size_t files = 10000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--target") && i + 1 < argc) photos = argv[++i];
    else if (!std::strcmp(argv[i], "--files") && i + 1 < argc) files = std::strtoul(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: facesearch_library_bench [--target DIR] [--files N]\n");
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
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
