// Fuzzes opening a damaged library: the bytes become LIBRARY.db in a scratch folder, then everything
// `status`, `faces` and a search read from it: Catalog::inspect, status(), roots(), images(), the faces
// of each image, every embedding; and Catalog::open(kOpenExisting) with a pack whose fingerprint and
// size are the ones the file claims (so that the fuzzer gets past the model check). SQLite parses the
// pages; what facesearch does with what SQLite returns (meta rows, blobs, columns) is what is tested.
// Anything but facesearch::Error escaping, an embedding of the wrong size, or a sanitizer report is a finding.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/error.h"
#include "fuzz_support.h"
#include "store/catalog.h"

namespace {

void read_everything(const facesearch::Catalog& catalog, int dim) {
  (void)catalog.status();
  (void)catalog.roots();
  (void)catalog.generation();
  (void)catalog.model_fingerprint();
  int images = 0;
  for (const auto& image : catalog.images()) {
    if (++images > 64) break;
    for (const auto& face : catalog.faces_of_image(image.id)) (void)catalog.face_by_id(face.id);
  }
  catalog.for_each_embedding([dim](std::int64_t, std::span<const float> v) {
    if (static_cast<int>(v.size()) != dim) std::abort();  // promised: damaged sizes are an Error
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& scratch = facesearch::fuzz::scratch();
  const auto db = scratch.path() / "library.db";
  facesearch::fuzz::write_file(db, data, size);
  facesearch::ModelPack pack;
  try {
    const facesearch::Catalog catalog = facesearch::Catalog::inspect(db);
    const facesearch::CatalogStatus status = catalog.status();
    pack.name = status.model_name;
    pack.fingerprint = status.model_fingerprint;
    pack.embedder.dim = status.embedding_dim;
    read_everything(catalog, status.embedding_dim);
  } catch (const facesearch::Error&) {
  }
  try {
    const facesearch::Catalog catalog = facesearch::Catalog::open(db, pack, facesearch::Catalog::Mode::kOpenExisting);
    read_everything(catalog, pack.embedder.dim);
  } catch (const facesearch::Error&) {
  }
  scratch.clear();
  return 0;
}
