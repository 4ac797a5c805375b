#include "search/index_search.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace facesearch {

namespace {

// Both files saved next to the catalog share one header: a magic line naming the file kind, a format
// version, the model fingerprint, the catalog generation the payload was made from, and the dimension.
// A file is used only when all of them match the open catalog; anything else is a cache miss.
constexpr char kApproxMagic[16] = {'F', 'A', 'C', 'E', 'S', 'E', 'A', 'R', 'C', 'H', '-', 'H', 'N', 'S', 'W', '\n'};
constexpr std::uint32_t kApproxFormatVersion = 1;
constexpr char kVectorsMagic[16] = {'F', 'A', 'C', 'E', 'S', 'E', 'A', 'R', 'C', 'H', '-', 'V', 'E', 'C', 'S', '\n'};
constexpr std::uint32_t kVectorsFormatVersion = 1;
// LIBRARY.vectors: header, zeros to a multiple of kPayloadAlign bytes, u64 n, n int64 ids, n rows of dim floats.
constexpr std::uint64_t kPayloadAlign = 64;

template <typename T>
void write_pod(std::ostream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
bool read_pod(std::istream& in, T& v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof v));
}

void write_header(std::ostream& out, const char (&magic)[16], std::uint32_t version, const Catalog& catalog,
                  std::int64_t generation, int dim) {
  const std::string fingerprint = catalog.model_fingerprint();
  out.write(magic, sizeof magic);
  write_pod(out, version);
  write_pod(out, static_cast<std::uint32_t>(fingerprint.size()));
  out.write(fingerprint.data(), static_cast<std::streamsize>(fingerprint.size()));
  write_pod(out, generation);
  write_pod(out, static_cast<std::int32_t>(dim));
}

// Opens `path` and reads its header; true (stream at the payload) when it matches the catalog.
bool open_current_file(const std::filesystem::path& path, const char (&magic)[16], std::uint32_t version,
                       const Catalog& catalog, int dim, std::ifstream& in) {
  in.open(path, std::ios::binary);
  if (!in) return false;
  char file_magic[sizeof magic];
  std::uint32_t file_version = 0, fp_len = 0;
  std::int64_t generation = -1;
  std::int32_t file_dim = 0;
  if (!in.read(file_magic, sizeof file_magic) || std::memcmp(file_magic, magic, sizeof magic) != 0) return false;
  if (!read_pod(in, file_version) || file_version != version) return false;
  if (!read_pod(in, fp_len) || fp_len > 4096) return false;
  std::string fingerprint(fp_len, '\0');
  in.read(fingerprint.data(), fp_len);
  read_pod(in, generation);
  read_pod(in, file_dim);
  return in && fingerprint == catalog.model_fingerprint() && generation == catalog.generation() && file_dim == dim;
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

// Every face's id and embedding: from the saved vectors file when it is current (one sequential read),
// else from the catalog (a SQLite scan, several times slower).
void load_all_embeddings(const Catalog& catalog, int dim, std::vector<std::int64_t>& ids, std::vector<float>& vectors) {
  if (load_current_vectors(catalog, dim, ids, vectors)) return;
  ids.clear(), vectors.clear();
  catalog.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    ids.push_back(id);
    vectors.insert(vectors.end(), v.begin(), v.end());
  });
}

std::unique_ptr<VectorIndex> build_in_memory(const Catalog& catalog, IndexKind kind, int dim) {
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  load_all_embeddings(catalog, dim, ids, vectors);
  auto index = kind == IndexKind::kApprox ? make_approx_index(dim) : make_exact_index(dim);
  if (!ids.empty()) index->add(ids, vectors);
  return index;
}

}  // namespace

std::filesystem::path approx_index_path(const Catalog& catalog) { return catalog.path().string() + ".hnsw"; }
std::filesystem::path vectors_file_path(const Catalog& catalog) { return catalog.path().string() + ".vectors"; }

namespace {

// Opens the vectors file when it is current and its size is exactly what its header announces; leaves
// the stream at the ids and sets n and the ids' byte offset.
bool open_current_vectors(const Catalog& catalog, int dim, std::ifstream& in, std::uint64_t& n, std::uint64_t& ids_offset) {
  if (!open_current_file(vectors_file_path(catalog), kVectorsMagic, kVectorsFormatVersion, catalog, dim, in)) return false;
  const auto header_end = in.tellg();
  if (header_end < 0) return false;
  const auto n_offset = (static_cast<std::uint64_t>(header_end) + kPayloadAlign - 1) / kPayloadAlign * kPayloadAlign;
  in.seekg(static_cast<std::streamoff>(n_offset));
  if (!read_pod(in, n) || n > (std::uint64_t{1} << 40) / (static_cast<std::uint64_t>(dim) * sizeof(float))) return false;
  ids_offset = n_offset + sizeof n;
  in.seekg(0, std::ios::end);
  const auto file_end = in.tellg();
  const std::uint64_t want = n * (sizeof(std::int64_t) + static_cast<std::uint64_t>(dim) * sizeof(float));
  if (file_end < 0 || static_cast<std::uint64_t>(file_end) != ids_offset + want) return false;
  in.seekg(static_cast<std::streamoff>(ids_offset));
  return static_cast<bool>(in);
}

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
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* base = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (base != MAP_FAILED) file.reset(new MappedFile(base, static_cast<size_t>(st.st_size)));
    }
    ::close(fd);
    return file;
  }
  ~MappedFile() { ::munmap(base_, size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::byte* data() const { return static_cast<const std::byte*>(base_); }
  size_t size() const { return size_; }

 private:
  MappedFile(void* base, size_t size) : base_(base), size_(size) {}
  void* base_;
  size_t size_;
};

// The exact index over the mapped vectors file when it is current and whole; nullptr otherwise.
std::unique_ptr<VectorIndex> map_current_exact_index(const Catalog& catalog, int dim) {
  std::uint64_t n = 0, ids_offset = 0;
  {
    std::ifstream in;
    if (!open_current_vectors(catalog, dim, in, n, ids_offset)) return nullptr;
  }
  const auto file = MappedFile::open(vectors_file_path(catalog));
  const std::uint64_t rows_offset = ids_offset + n * sizeof(std::int64_t);
  if (!file || file->size() != rows_offset + n * static_cast<std::uint64_t>(dim) * sizeof(float)) return nullptr;
  const auto* ids = reinterpret_cast<const std::int64_t*>(file->data() + ids_offset);
  const auto* rows = reinterpret_cast<const float*>(file->data() + rows_offset);
  return make_exact_index_over(dim, std::span(ids, n), std::span(rows, n * static_cast<size_t>(dim)), file);
}

}  // namespace

bool load_current_vectors(const Catalog& catalog, int dim, std::vector<std::int64_t>& ids, std::vector<float>& vectors) {
  std::ifstream in;
  std::uint64_t n = 0, ids_offset = 0;
  if (!open_current_vectors(catalog, dim, in, n, ids_offset)) return false;
  ids.resize(n);
  vectors.resize(n * static_cast<size_t>(dim));
  if (!in.read(reinterpret_cast<char*>(ids.data()), static_cast<std::streamsize>(n * sizeof(std::int64_t))) ||
      !in.read(reinterpret_cast<char*>(vectors.data()), static_cast<std::streamsize>(vectors.size() * sizeof(float)))) {
    ids.clear(), vectors.clear();
    return false;
  }
  return true;
}

bool update_vectors_file(const Catalog& catalog, int dim) {
  const auto path = vectors_file_path(catalog);
  std::error_code ec;
  if (catalog.status().faces == 0) {
    std::filesystem::remove(path, ec);
    return false;
  }
  {
    std::ifstream in;
    std::uint64_t n = 0, ids_offset = 0;
    if (open_current_vectors(catalog, dim, in, n, ids_offset)) return true;  // current and whole
  }
  // The generation is read before the rows: if an indexing run commits in between, the file is labelled
  // older than the catalog and is never used.
  const std::int64_t generation = catalog.generation();
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  catalog.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    ids.push_back(id);
    vectors.insert(vectors.end(), v.begin(), v.end());
  });
  write_file_atomically(path, [&](std::ostream& out) {
    write_header(out, kVectorsMagic, kVectorsFormatVersion, catalog, generation, dim);
    // Zeros up to a 64-byte boundary, so that a mapped file's ids and rows are aligned.
    const auto at = static_cast<std::uint64_t>(out.tellp());
    const std::string padding((kPayloadAlign - at % kPayloadAlign) % kPayloadAlign, '\0');
    out.write(padding.data(), static_cast<std::streamsize>(padding.size()));
    write_pod(out, static_cast<std::uint64_t>(ids.size()));
    out.write(reinterpret_cast<const char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(std::int64_t)));
    out.write(reinterpret_cast<const char*>(vectors.data()), static_cast<std::streamsize>(vectors.size() * sizeof(float)));
  });
  return true;
}

std::unique_ptr<VectorIndex> load_current_approx_index(const Catalog& catalog, int dim) {
  std::ifstream in;
  if (!open_current_file(approx_index_path(catalog), kApproxMagic, kApproxFormatVersion, catalog, dim, in)) return nullptr;
  try {
    return load_approx_index(in, dim);
  } catch (const Error&) {
    return nullptr;  // damaged: a cache only, the caller falls back to the exact index
  }
}

bool update_approx_index_file(const Catalog& catalog, int dim, size_t min_faces) {
  const auto path = approx_index_path(catalog);
  std::error_code ec;
  const auto faces = static_cast<size_t>(catalog.status().faces);
  if (faces < min_faces || faces == 0) {
    std::filesystem::remove(path, ec);
    return false;
  }
  // Already current and whole (a damaged file is rebuilt; reading it costs about a second per million faces).
  if (load_current_approx_index(catalog, dim)) return true;
  const std::int64_t generation = catalog.generation();
  const auto index = build_in_memory(catalog, IndexKind::kApprox, dim);
  write_file_atomically(path, [&](std::ostream& out) {
    write_header(out, kApproxMagic, kApproxFormatVersion, catalog, generation, dim);
    save_approx_index(*index, out);
  });
  return true;
}

std::unique_ptr<VectorIndex> build_vector_index(const Catalog& catalog, IndexKind kind, int dim) {
  if (kind != IndexKind::kExact)
    if (auto saved = load_current_approx_index(catalog, dim)) return saved;
  // Without a saved graph, building one costs minutes at a million faces: kAuto stays exact
  // (about 20 ms per query at 1M faces, docs/PERFORMANCE.md), over the mapped vectors file when current.
  if (kind != IndexKind::kApprox)
    if (auto mapped = map_current_exact_index(catalog, dim)) return mapped;
  return build_in_memory(catalog, kind == IndexKind::kApprox ? IndexKind::kApprox : IndexKind::kExact, dim);
}

void keep_best_match_per_image(std::vector<Match>& matches) {
  std::map<std::pair<std::filesystem::path, int>, size_t> best;
  std::vector<Match> kept;
  for (const auto& m : matches) {
    const auto key = std::make_pair(m.path, m.query_face);
    const auto it = best.find(key);
    if (it == best.end()) {
      best[key] = kept.size();
      kept.push_back(m);
    } else if (m.similarity > kept[it->second].similarity) {
      kept[it->second] = m;
    }
  }
  matches = std::move(kept);
}

namespace {

SearchReport run_queries(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                         std::vector<QueryFace> query_faces, std::optional<std::int64_t> exclude_image,
                         const IndexSearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SearchReport report;
  report.query_faces = std::move(query_faces);
  report.model = pack.name;
  report.metric = metric_name(pack.metric);
  report.threshold = options.threshold >= 0 ? options.threshold : pack.threshold;

  std::map<std::int64_t, std::optional<ImageRow>> images;
  for (const auto& q : report.query_faces) {
    // Every neighbour over the threshold: ask for more until the list ends below it (grouping by image
    // and top-k happen afterwards, so they must not cut the candidates).
    size_t k = std::min(index.size(), std::max<size_t>(options.top_k * 8, 1000));
    std::vector<Neighbor> found;
    while (true) {
      found = std::move(index.search(q.embedding, k, report.threshold).front());
      if (found.size() < k || k >= index.size()) break;
      k = std::min(index.size(), k * 4);
    }
    for (const auto& n : found) {
      const auto face = catalog.face_by_id(n.id);
      if (!face) continue;  // deleted since the index was built
      if (exclude_image && face->image_id == *exclude_image) continue;
      auto& image = images[face->image_id];
      if (!image) image = catalog.image_by_id(face->image_id);
      if (!image) continue;
      report.matches.push_back({image->path, face->face_index, face->face.box, n.score, face->face.score, q.index});
    }
  }
  if (!options.all_faces) keep_best_match_per_image(report.matches);
  std::sort(report.matches.begin(), report.matches.end(), [](const Match& a, const Match& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.path != b.path ? a.path < b.path : a.face_index < b.face_index;
  });
  if (options.top_k > 0 && report.matches.size() > options.top_k) report.matches.resize(options.top_k);
  const auto st = catalog.status();
  report.stats.images = static_cast<size_t>(st.images);
  report.stats.images_analysed = static_cast<size_t>(st.images_ok);
  report.stats.faces = index.size();
  report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace

SearchReport search_index(const Catalog& catalog, const VectorIndex& index, const FacePipeline& pipeline,
                          const std::filesystem::path& query, const IndexSearchOptions& options) {
  SearchOptions so;
  so.min_face_px = options.min_face_px;
  so.smallest_face_px = options.smallest_face_px;
  so.detector_input_px = options.detector_input_px;
  auto faces = embed_query(pipeline, query, options.query_face, so);
  std::optional<std::int64_t> exclude;
  if (!options.include_query_file) {
    std::error_code ec;
    if (const auto row = catalog.image_by_path(std::filesystem::weakly_canonical(std::filesystem::absolute(query), ec)))
      exclude = row->id;
  }
  auto report = run_queries(catalog, index, pipeline.pack(), std::move(faces), exclude, options);
  report.query = query;
  return report;
}

SearchReport search_index_by_face(const Catalog& catalog, const VectorIndex& index, const ModelPack& pack,
                                  std::int64_t face_id, const IndexSearchOptions& options) {
  const auto face = catalog.face_by_id(face_id);
  if (!face)
    throw Error(ErrorCode::kNotFound, "face " + std::to_string(face_id) + " is not in library " +
                                          catalog.path().string() + "; `facesearch faces PHOTO` lists face ids");
  const auto image = catalog.image_by_id(face->image_id);
  QueryFace q;
  q.index = face->face_index;
  q.face = face->face;
  q.embedding = face->embedding;
  auto report = run_queries(catalog, index, pack, {q}, face->image_id, options);
  if (image) report.query = image->path;
  return report;
}

}  // namespace facesearch
