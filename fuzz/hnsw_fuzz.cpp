// Fuzzes the LIBRARY.hnsw reader (parse_approx_index_file, src/store/side_files.h) on arbitrary bytes,
// with the payload checksum off so that mutations reach the graph checks: a graph it accepts must be
// safe to search with both walks (facesearch's own and faiss's), whatever its links say. Anything
// thrown, a result that is not one of the graph's ids, or a sanitizer report is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "index/hnsw_index.h"
#include "store/side_files.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::int64_t> storage((size + 7) / 8);
  if (size) std::memcpy(storage.data(), data, size);
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(storage.data()), size);
  facesearch::ApproxIndexFile file = facesearch::parse_approx_index_file(bytes, /*verify_checksum=*/false);
  if (file.fault != facesearch::SideFileFault::kNone) return 0;
  if (!file.index || file.header.dim <= 0) std::abort();
  if (file.header.dim > 4096) return 0;
  auto* hnsw = dynamic_cast<facesearch::index_detail::HnswIndex*>(file.index.get());
  std::vector<float> query(static_cast<std::size_t>(file.header.dim), 0.f);
  query[0] = 1.f;
  for (const bool own_walk : {true, false}) {
    if (hnsw) hnsw->set_own_graph_walk(own_walk);
    const auto results = file.index->search(query, 5, -1.f);
    if (results.size() != 1 || results[0].size() > 5) std::abort();
    if (!hnsw) break;
  }
  return 0;
}
