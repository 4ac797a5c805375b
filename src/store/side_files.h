// The files saved next to a library's catalog ("side files"): LIBRARY.vectors (every face's id and
// embedding in one flat file) and LIBRARY.hnsw (the approximate index's graph). Their binary format,
// and readers over raw bytes that check every size and checksum before anything is used; they never
// crash on any input and are the entry points for fuzzing (fuzz/).
//
// Both files start with one header (host byte order):
//   16-byte magic naming the kind, u32 format version, u32 length + model fingerprint, u32 length +
//   library id (Catalog::library_id), i64 catalog generation, i32 dimension, u64 face count,
//   u64 XXH3-64 of the face ids (in catalog order), u64 payload size, u64 XXH3-64 of the payload;
//   zeros up to a 64-byte boundary; then the payload, which ends the file:
//   .vectors: n int64 ids, then n rows of dim floats (64-byte aligned, so a mapped file is used in place);
//   .hnsw: the graph as save_approx_index writes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>

#include "index/vector_index.h"

namespace facesearch {

enum class SideFileKind { kVectors, kApproxIndex };

struct SideFileHeader {
  SideFileKind kind = SideFileKind::kVectors;
  std::string model_fingerprint;
  std::string library_id;
  std::int64_t generation = 0;
  int dim = 0;
  std::uint64_t faces = 0;
  std::uint64_t ids_checksum = 0;      // XXH3-64 of the faces' ids, int64 each, in catalog (id) order
  std::uint64_t payload_bytes = 0;
  std::uint64_t payload_checksum = 0;  // XXH3-64 of the payload
  std::uint64_t payload_offset = 0;    // where the payload starts (set by reading or writing)

  // What the catalog keeps about the side file it last wrote (Catalog::derived_file_record): the
  // generation, face count and both checksums. A file is current only when its header gives the same text.
  std::string record() const;
};

// What reading a side file found.
enum class SideFileFault {
  kNone,          // whole: the header parses, the sizes add up, the checksums match
  kOtherVersion,  // the right kind of file in another format version (an older facesearch wrote it)
  kDamaged,       // anything else; `problem` says what
};

// The header alone, from the first bytes of a file (kMaxSideFileHeaderBytes are enough).
// Checks the magic, version and field sizes, not the payload.
inline constexpr size_t kMaxSideFileHeaderBytes = 16384;
SideFileFault read_side_file_header(std::span<const std::byte> bytes, SideFileKind kind, SideFileHeader& header,
                                    std::string& problem);

// XXH3-64 of `bytes`, the payload checksum. Memory speed (tens of ms for a 1M x 128 vectors file).
std::uint64_t side_file_checksum(std::span<const std::byte> bytes);
std::uint64_t ids_checksum(std::span<const std::int64_t> ids);

// LIBRARY.vectors from its whole bytes: header, exact size, and both checksums are checked; ids and rows
// view `bytes` (which must be 8-byte aligned, as a mapping or an allocation is).
struct VectorsFileView {
  SideFileFault fault = SideFileFault::kDamaged;
  std::string problem;  // for kDamaged
  SideFileHeader header;
  std::span<const std::int64_t> ids;
  std::span<const float> rows;  // ids.size() rows of header.dim floats
};
VectorsFileView parse_vectors_file(std::span<const std::byte> bytes);

// LIBRARY.hnsw from its whole bytes: header, exact size and payload checksum, then every array of the
// graph (load_approx_index). `verify_checksum` = false skips the checksum (a fuzzer's way to reach the
// graph checks; the graph checks alone already make any input safe to search).
struct ApproxIndexFile {
  SideFileFault fault = SideFileFault::kDamaged;
  std::string problem;  // for kDamaged
  SideFileHeader header;
  std::unique_ptr<VectorIndex> index;
};
ApproxIndexFile parse_approx_index_file(std::span<const std::byte> bytes, bool verify_checksum = true);

// Writes a side file to `out` (seekable: the payload's size and checksum are filled in after it is
// written). `header` gives everything but the payload fields, which are set on return.
void write_side_file(std::ostream& out, SideFileHeader& header, const std::function<void(std::ostream&)>& write_payload);

}  // namespace facesearch
