#include "store/vector_files.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "store/side_files.h"

namespace facesearch {

namespace {

// Names of the side files' records in the catalog (Catalog::derived_file_record).
constexpr const char* kVectorsRecord = "vectors";
constexpr const char* kApproxRecord = "hnsw";

// Whether a side file's header describes the open catalog as it is now. The file must carry this
// library's id (another library's file, or this path's file after the catalog was deleted and made
// again, never passes: item 1 of issue 10), the model fingerprint and dimension, and the catalog's
// generation; and its face count and checksums must equal the record that the catalog keeps of the
// side file it last wrote. That record was computed from the catalog's own rows at that generation,
// so a matching record means the face count and the ids checksum match the catalog without a SQLite
// scan on each search (a count(*) and a checksum of every id would cost tens of ms at 1M faces); a
// .db copied over this one brings its own record, which names other contents (a copy of this same
// library that went its own way included). Every change of faces bumps the generation.
enum class Currency { kCurrent, kStale, kForeign };
Currency compare_to_catalog(const SideFileHeader& h, const Catalog& catalog, int dim, const char* record_name) {
  const std::string library_id = catalog.library_id();
  if (library_id.empty()) return Currency::kStale;  // an older library not yet given an id: nothing is trusted
  if (h.library_id != library_id) return Currency::kForeign;
  if (h.model_fingerprint != catalog.model_fingerprint() || h.dim != dim || h.generation != catalog.generation())
    return Currency::kStale;
  if (h.record() != catalog.derived_file_record(record_name)) return Currency::kStale;
  return Currency::kCurrent;
}

void warn(std::vector<SideFileWarning>* warnings, const std::filesystem::path& path, std::string problem) {
  if (warnings) warnings->push_back({path, std::move(problem)});
}

// Reads the first bytes of `path` and checks its header against the catalog: true when it is worth
// reading the whole file. A missing file or one from an older facesearch or an earlier state of this
// library is a silent miss; a damaged one or another library's is also reported in `warnings`.
bool header_is_current(const std::filesystem::path& path, SideFileKind kind, const Catalog& catalog, int dim,
                       const char* record_name, std::vector<SideFileWarning>* warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<std::byte> bytes(kMaxSideFileHeaderBytes);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  SideFileHeader header;
  std::string problem;
  switch (read_side_file_header(bytes, kind, header, problem)) {
    case SideFileFault::kNone: break;
    case SideFileFault::kOtherVersion: return false;
    case SideFileFault::kDamaged: warn(warnings, path, "is damaged (" + problem + ")"); return false;
  }
  switch (compare_to_catalog(header, catalog, dim, record_name)) {
    case Currency::kCurrent: return true;
    case Currency::kStale: return false;
    case Currency::kForeign: warn(warnings, path, "belongs to another library"); return false;
  }
  return false;
}

// Writes `path` through a temporary name and a rename, so a crash never leaves a half-written file.
template <typename WritePayload>
void write_file_atomically(const std::filesystem::path& path, WritePayload&& write_payload) {
  std::error_code ec;
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kIo, "cannot write " + tmp.string());
    write_payload(out);
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(tmp, ec);
      throw Error(ErrorCode::kIo, "cannot write " + tmp.string() + " (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot save " + path.string() + ": " + ec.message());
}

// The header fields that bind a side file to the catalog as it is at `generation`.
SideFileHeader header_for(SideFileKind kind, const Catalog& catalog, std::int64_t generation, int dim,
                          std::span<const std::int64_t> ids) {
  SideFileHeader h;
  h.kind = kind;
  h.model_fingerprint = catalog.model_fingerprint();
  h.library_id = catalog.library_id();
  h.generation = generation;
  h.dim = dim;
  h.faces = ids.size();
  h.ids_checksum = ids_checksum(ids);
  return h;
}

void read_catalog_embeddings(const Catalog& catalog, std::vector<std::int64_t>& ids, std::vector<float>& vectors) {
  ids.clear(), vectors.clear();
  catalog.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    ids.push_back(id);
    vectors.insert(vectors.end(), v.begin(), v.end());
  });
}

// Every face's id and embedding: from the saved vectors file when it is current (one sequential read),
// else from the catalog (a SQLite scan, several times slower).
void load_all_embeddings(const Catalog& catalog, int dim, bool try_vectors_file, std::vector<std::int64_t>& ids,
                         std::vector<float>& vectors, std::vector<SideFileWarning>* warnings) {
  if (try_vectors_file && load_current_vectors(catalog, dim, ids, vectors, warnings)) return;
  read_catalog_embeddings(catalog, ids, vectors);
}

std::unique_ptr<VectorIndex> build_in_memory(const Catalog& catalog, IndexKind kind, int dim, bool try_vectors_file,
                                             std::vector<SideFileWarning>* warnings) {
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  load_all_embeddings(catalog, dim, try_vectors_file, ids, vectors, warnings);
  auto index = kind == IndexKind::kApprox ? make_approx_index(dim) : make_exact_index(dim);
  if (!ids.empty()) index->add(ids, vectors);
  return index;
}

}  // namespace

std::filesystem::path approx_index_path(const Catalog& catalog) { return catalog.path().string() + ".hnsw"; }
std::filesystem::path vectors_file_path(const Catalog& catalog) { return catalog.path().string() + ".vectors"; }

namespace {

// A read-only private mapping of a whole file, populated up front: on this project's machines that is
// ~7x faster than reading the same bytes into fresh heap memory (page faults dominate; see
// docs/PERFORMANCE.md). The saved files are replaced by rename, never rewritten in place, so a mapping
// stays valid while the index lives.
class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st {};
    std::shared_ptr<MappedFile> file;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* base = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (base != MAP_FAILED) file.reset(new MappedFile(base, static_cast<size_t>(st.st_size)));
    }
    ::close(fd);
    return file;
  }
  ~MappedFile() { ::munmap(base_, size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(base_), size_}; }

 private:
  MappedFile(void* base, size_t size) : base_(base), size_(size) {}
  void* base_;
  size_t size_;
};

// The vectors file mapped and checked whole (sizes and checksums, ~memory speed), when its header is
// current; nullptr otherwise. `view` points into the mapping.
std::shared_ptr<const MappedFile> map_current_vectors(const Catalog& catalog, int dim, VectorsFileView& view,
                                                      std::vector<SideFileWarning>* warnings) {
  const auto path = vectors_file_path(catalog);
  if (!header_is_current(path, SideFileKind::kVectors, catalog, dim, kVectorsRecord, warnings)) return nullptr;
  auto file = MappedFile::open(path);
  if (!file) return nullptr;
  view = parse_vectors_file(file->bytes());
  if (view.fault == SideFileFault::kDamaged) warn(warnings, path, "is damaged (" + view.problem + ")");
  // Checked again on the mapped bytes: the file may have been replaced since its header was read.
  if (view.fault != SideFileFault::kNone ||
      compare_to_catalog(view.header, catalog, dim, kVectorsRecord) != Currency::kCurrent)
    return nullptr;
  return file;
}

// The exact index over the mapped vectors file when it is current and whole; nullptr otherwise.
std::unique_ptr<VectorIndex> map_current_exact_index(const Catalog& catalog, int dim,
                                                     std::vector<SideFileWarning>* warnings) {
  VectorsFileView view;
  auto file = map_current_vectors(catalog, dim, view, warnings);
  if (!file) return nullptr;
  return make_exact_index_over(dim, view.ids, view.rows, std::move(file));
}

// The approximate index file mapped, when its header is current, and checked whole (checksum) without
// parsing the graph; nullptr otherwise.
std::shared_ptr<const MappedFile> map_current_approx_index(const Catalog& catalog, int dim,
                                                           std::vector<SideFileWarning>* warnings) {
  const auto path = approx_index_path(catalog);
  if (!header_is_current(path, SideFileKind::kApproxIndex, catalog, dim, kApproxRecord, warnings)) return nullptr;
  return MappedFile::open(path);
}

// The graph saved for an earlier state of this library (this library's id, model and dimension, any
// generation up to the catalog's), parsed and checked whole; nullptr when there is none or it cannot be
// used. What it holds is checked face by face against the catalog before it is extended.
std::unique_ptr<VectorIndex> load_earlier_approx_index(const Catalog& catalog, int dim) {
  const std::string library_id = catalog.library_id();
  if (library_id.empty()) return nullptr;
  const auto file = MappedFile::open(approx_index_path(catalog));
  if (!file) return nullptr;
  auto parsed = parse_approx_index_file(file->bytes());
  if (parsed.fault != SideFileFault::kNone || parsed.header.library_id != library_id ||
      parsed.header.model_fingerprint != catalog.model_fingerprint() || parsed.header.dim != dim ||
      parsed.header.generation > catalog.generation())
    return nullptr;
  return std::move(parsed.index);
}

}  // namespace

bool load_current_vectors(const Catalog& catalog, int dim, std::vector<std::int64_t>& ids, std::vector<float>& vectors,
                          std::vector<SideFileWarning>* warnings) {
  VectorsFileView view;
  const auto file = map_current_vectors(catalog, dim, view, warnings);
  if (!file) return false;
  ids.assign(view.ids.begin(), view.ids.end());
  vectors.assign(view.rows.begin(), view.rows.end());
  return true;
}

bool update_vectors_file(Catalog& catalog, int dim) {
  if (catalog.in_database()) return false;  // a PostgreSQL library has no files next to it
  const auto path = vectors_file_path(catalog);
  std::error_code ec;
  if (catalog.status().faces == 0) {
    std::filesystem::remove(path, ec);
    return false;
  }
  {
    VectorsFileView view;
    if (map_current_vectors(catalog, dim, view, nullptr)) return true;  // current and whole (checksums verified)
  }
  // The generation is read before the rows: if an indexing run commits in between, the file is labelled
  // older than the catalog and is never used.
  const std::int64_t generation = catalog.generation();
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  read_catalog_embeddings(catalog, ids, vectors);
  SideFileHeader header = header_for(SideFileKind::kVectors, catalog, generation, dim, ids);
  write_file_atomically(path, [&](std::ostream& out) {
    write_side_file(out, header, [&](std::ostream& payload) {
      payload.write(reinterpret_cast<const char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(std::int64_t)));
      payload.write(reinterpret_cast<const char*>(vectors.data()), static_cast<std::streamsize>(vectors.size() * sizeof(float)));
    });
  });
  // Recorded after the rename: a search in between finds the record of the old file and reads the catalog.
  catalog.set_derived_file_record(kVectorsRecord, header.record());
  return true;
}

std::unique_ptr<VectorIndex> load_current_approx_index(const Catalog& catalog, int dim,
                                                       std::vector<SideFileWarning>* warnings) {
  const auto file = map_current_approx_index(catalog, dim, warnings);
  if (!file) return nullptr;
  // Checksum first, then every array of the graph: a damaged graph is only a cache, the caller falls back.
  auto parsed = parse_approx_index_file(file->bytes());
  if (parsed.fault == SideFileFault::kDamaged) warn(warnings, approx_index_path(catalog), "is damaged (" + parsed.problem + ")");
  if (parsed.fault != SideFileFault::kNone ||
      compare_to_catalog(parsed.header, catalog, dim, kApproxRecord) != Currency::kCurrent)
    return nullptr;
  return std::move(parsed.index);
}

bool update_approx_index_file(Catalog& catalog, int dim, size_t min_faces, ApproxIndexUpdate* how) {
  if (how) *how = ApproxIndexUpdate::kNone;
  if (catalog.in_database()) return false;  // pgvector keeps its HNSW index up to date itself
  const auto path = approx_index_path(catalog);
  std::error_code ec;
  const auto faces = static_cast<size_t>(catalog.status().faces);
  if (faces < min_faces || faces == 0) {
    std::filesystem::remove(path, ec);
    return false;
  }
  // Already current and whole: the checksum says the bytes are the ones written, without parsing the graph
  // (about a second per million faces).
  if (const auto file = map_current_approx_index(catalog, dim, nullptr)) {
    SideFileHeader header;
    std::string problem;
    std::span<const std::byte> bytes = file->bytes();
    if (read_side_file_header(bytes, SideFileKind::kApproxIndex, header, problem) == SideFileFault::kNone &&
        compare_to_catalog(header, catalog, dim, kApproxRecord) == Currency::kCurrent &&
        bytes.size() >= header.payload_offset && bytes.size() - header.payload_offset == header.payload_bytes &&
        side_file_checksum(bytes.subspan(header.payload_offset)) == header.payload_checksum) {
      if (how) *how = ApproxIndexUpdate::kCurrent;
      return true;
    }
  }
  const std::int64_t generation = catalog.generation();
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  load_all_embeddings(catalog, dim, true, ids, vectors, nullptr);
  // The graph of an earlier state of this library, extended with the faces added since; a whole new
  // graph when there is none or a face it holds is gone or changed.
  auto index = load_earlier_approx_index(catalog, dim);
  ApproxIndexUpdate done = ApproxIndexUpdate::kExtended;
  if (!index || !extend_approx_index(*index, ids, vectors)) {
    index = make_approx_index(dim);
    if (!ids.empty()) index->add(ids, vectors);
    done = ApproxIndexUpdate::kBuilt;
  }
  ids = {}, vectors = {};
  SideFileHeader header = header_for(SideFileKind::kApproxIndex, catalog, generation, dim, approx_index_ids(*index));
  write_file_atomically(path, [&](std::ostream& out) {
    write_side_file(out, header, [&](std::ostream& payload) { save_approx_index(*index, payload); });
  });
  catalog.set_derived_file_record(kApproxRecord, header.record());
  if (how) *how = done;
  return true;
}

std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim,
                                                std::vector<SideFileWarning>* warnings) {
  if (catalog.in_database()) return catalog.database_vector_index(kind);
  const bool saved_graph = kind == IndexKind::kApprox || kind == IndexKind::kPreferSaved ||
                           (kind == IndexKind::kAuto && static_cast<size_t>(catalog.counts().faces) >= kApproxThreshold);
  if (saved_graph)
    if (auto saved = load_current_approx_index(catalog, dim, warnings)) return saved;
  // Without a saved graph, building one costs minutes at a million faces: kAuto stays exact
  // (about 20 ms per query at 1M faces, docs/PERFORMANCE.md), over the mapped vectors file when current.
  if (kind != IndexKind::kApprox) {
    if (auto mapped = map_current_exact_index(catalog, dim, warnings)) return mapped;
    return build_in_memory(catalog, IndexKind::kExact, dim, false, warnings);  // the vectors file was just tried
  }
  return build_in_memory(catalog, IndexKind::kApprox, dim, true, warnings);
}

}  // namespace facesearch
