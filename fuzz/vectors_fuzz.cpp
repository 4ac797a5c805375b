// Fuzzes the LIBRARY.vectors reader (parse_vectors_file, src/store/side_files.h) on arbitrary bytes, as
// a search maps them: it must say kNone only for a whole file (sizes that add up, both checksums) and
// then give views inside the bytes, or report the damage; an exact search over a file it accepts must
// run. Anything thrown, a view outside the input, or a sanitizer report is a finding.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "index/vector_index.h"
#include "store/side_files.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A mapping is page-aligned: hand the parser the bytes at an 8-byte-aligned address, as it requires.
  const auto storage = std::make_shared<std::vector<std::int64_t>>((size + 7) / 8);
  if (size) std::memcpy(storage->data(), data, size);
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(storage->data()), size);
  const facesearch::VectorsFileView view = facesearch::parse_vectors_file(bytes);
  if (view.fault != facesearch::SideFileFault::kNone) return 0;

  const auto inside = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    return n == 0 || (b >= bytes.data() && b + n <= bytes.data() + bytes.size());
  };
  const auto& h = view.header;
  if (h.dim <= 0 || view.ids.size() != h.faces || view.rows.size() != h.faces * static_cast<std::uint64_t>(h.dim) ||
      !inside(view.ids.data(), view.ids.size_bytes()) || !inside(view.rows.data(), view.rows.size_bytes()))
    std::abort();
  if (h.dim > 4096 || view.ids.empty()) return 0;
  const auto index = facesearch::make_exact_index_over(h.dim, view.ids, view.rows, storage);
  const std::vector<float> query(view.rows.begin(), view.rows.begin() + h.dim);
  const auto results = index->search(query, 5, -1.f);
  if (results.size() != 1 || results[0].size() > std::min<std::size_t>(5, view.ids.size())) std::abort();
  return 0;
}
