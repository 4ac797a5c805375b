// Writes the side files of a small library for vectors_fuzz and hnsw_fuzz: LIBRARY.vectors as every
// index run does, and LIBRARY.hnsw, which `index` only builds from 200,000 faces, from its few faces.
// Not a test: fuzz/make_seeds.sh runs it.   fuzz_seed_side_files LIBRARY.db MODELS_DIR
#include <cstdio>

#include "core/error.h"
#include "models/model_pack.h"
#include "search/library_search.h"
#include "store/vector_files.h"
#include "store/catalog.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seed_side_files LIBRARY.db MODELS_DIR\n");
    return 2;
  }
  try {
    const facesearch::ModelPack pack = facesearch::load_model_pack(argv[2]);
    facesearch::Catalog catalog = facesearch::Catalog::open(argv[1], pack, facesearch::Catalog::Mode::kOpenExisting);
    const bool vectors = facesearch::update_vectors_file(catalog, pack.embedder.dim);
    const bool graph = facesearch::update_approx_index_file(catalog, pack.embedder.dim, /*min_faces=*/1);
    if (!vectors || !graph) {
      std::fprintf(stderr, "fuzz_seed_side_files: %s: no faces to save\n", argv[1]);
      return 1;
    }
  } catch (const facesearch::Error& e) {
    std::fprintf(stderr, "fuzz_seed_side_files: %s\n", e.what());
    return 1;
  }
  return 0;
}
