// The library's catalog: one SQLite database (WAL mode) holding the indexed folders, every image
// (path, size, mtime, content hash, size in pixels, status and error) and every face (box, landmarks,
// detector score, embedding). The database describes itself: a format name, a schema version and the
// fingerprint of the model pack whose embeddings it holds; opening checks all three.
//
// Thread-safety: one Catalog per thread. Several processes may open the same library: WAL lets a
// search read while an indexer writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/types.h"
#include "models/model_pack.h"

namespace facesearch {

inline constexpr int kCatalogSchemaVersion = 1;

struct ImageRow {
  std::int64_t id = 0;
  std::filesystem::path path;  // absolute
  std::int64_t size = 0;       // bytes
  std::int64_t mtime_ns = 0;
  std::string hash;            // content_hash() of the bytes; empty when the file could not be read
  int width = 0, height = 0;   // upright full-resolution pixels
  std::string status;          // "ok" or "error"
  std::string error;           // why, when status is "error"
  std::int64_t indexed_at = 0;  // unix seconds
};

struct FaceRow {
  std::int64_t id = 0;
  std::int64_t image_id = 0;
  int face_index = 0;  // order within the image (left to right)
  Face face;           // box, landmarks, detector score, which detector found it
  std::vector<float> embedding;
};

// A folder (or root) that an `index` run could not list: what is in it is unknown, so its photos
// stay in the library as they were instead of being taken for deleted.
struct UnreadableFolderRow {
  std::filesystem::path path;
  std::string reason;            // "Permission denied", "does not exist", ...
  std::int64_t photos_kept = 0;  // photos of the library under it, kept
};

// An `index --rebuild` that started and has not completed yet (still running, or interrupted): the
// library holds only the photos re-read so far, so searches in it are partial.
struct RebuildProgress {
  std::int64_t images_done = 0;    // photos in the library now
  std::int64_t images_before = 0;  // photos it held when the rebuild started (0: unknown)
};

// "the library is being rebuilt (N of M photos so far): results are partial". What to do about it is
// Hint{Remedy::kFinishRebuild} (core/error.h), which each front end words.
std::string rebuild_warning(const RebuildProgress& rebuild);

struct CatalogStatus {
  std::filesystem::path path;
  std::int64_t images = 0, images_ok = 0, images_error = 0, faces = 0;
  std::int64_t file_bytes = 0;  // database + WAL on disk
  std::string model_name, model_fingerprint;
  int schema_version = 0;
  int embedding_dim = 0;
  std::int64_t created_at = 0, updated_at = 0;  // unix seconds
  std::vector<std::filesystem::path> roots;
  std::optional<RebuildProgress> rebuild;  // set while an `index --rebuild` has not completed
  std::vector<UnreadableFolderRow> unreadable_folders;  // as unreadable_folders() gives them
};

class Catalog {
 public:
  // kOpenOrCreate, kOpenExisting: for writing (index). kReadOnly: an existing library for reading
  // only (search): nothing is ever written into it or next to it, see inspect().
  enum class Mode { kOpenOrCreate, kOpenExisting, kReadOnly };

  // Opens the library at `db_path`. kOpenOrCreate creates it (and its folder) when missing.
  // `rebuild` drops every image and face first and rebinds the library to `pack` (keeps the roots);
  // a damaged library is rebuilt into a fresh file that keeps only its description and folders.
  // The writing modes run check_integrity() first on an existing library (writing into a damaged
  // b-tree spreads the damage), unless `rebuild`.
  // Throws Error{kCatalog} for a foreign, damaged or empty (kReadOnly) file, a newer schema, or a
  // library made with another model pack (the message says to use --rebuild); Error{kIo} when it
  // cannot be created or written; Error{kNotFound} for a missing library in kOpenExisting/kReadOnly mode.
  static Catalog open(const std::filesystem::path& db_path, const ModelPack& pack, Mode mode, bool rebuild = false);

  // Opens an existing library for reading only, checking its format and schema but not its model pack:
  // for `status` and `faces`, which must work whichever models are installed. Never creates or changes
  // a file: where the library or its folder is not writable by us (another user's library, read-only
  // media) it is opened with SQLite's immutable=1 (or mode=ro while a writer's -wal is there), so no
  // -wal/-shm is left behind. A missing file is Error{kNotFound}, a 0-byte one Error{kCatalog}.
  static Catalog inspect(const std::filesystem::path& db_path);
  // Throws Error{kCatalog} (remedy: the library's pack, or a rebuild) unless the library holds
  // embeddings of `pack`: what open() checks, for a catalog opened with inspect().
  void check_pack(const ModelPack& pack) const;

  ~Catalog();
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;

  const std::filesystem::path& path() const;

  // RAII write transaction (BEGIN IMMEDIATE ... COMMIT; rolled back if not committed). A commit that
  // changed images or faces bumps the generation in the same transaction.
  class Transaction {
   public:
    explicit Transaction(Catalog& catalog);
    ~Transaction();
    void commit();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

   private:
    Catalog* catalog_;
    bool done_ = false;
  };

  // Folders (or files) indexed before: `index` with no path re-scans them.
  std::vector<std::filesystem::path> roots() const;
  void add_root(const std::filesystem::path& root);
  // Forgets `folder` (absolute): every photo at or under it and its faces, the roots at or under it, and
  // what was remembered about it being unreadable. Files on disk are not touched. Returns the number of
  // photos forgotten. Call inside a Transaction.
  std::int64_t forget_folder(const std::filesystem::path& folder);

  // Folders that `index` could not read (their photos were kept as they were), as the last runs left
  // them: `index` replaces the entries under the roots it scanned. Kept in the meta table (JSON).
  std::vector<UnreadableFolderRow> unreadable_folders() const;
  void set_unreadable_folders(std::span<const UnreadableFolderRow> folders);

  std::vector<ImageRow> images() const;
  std::optional<ImageRow> image_by_path(const std::filesystem::path& path) const;
  // The ids of the photos whose content_hash() is `hash` (copies of one photo), by the hash's index.
  std::vector<std::int64_t> images_with_hash(const std::string& hash) const;
  std::optional<ImageRow> image_by_id(std::int64_t id) const;

  // Inserts or replaces the image row at row.path (its faces are kept unless replaced) and returns its id.
  std::int64_t put_image(const ImageRow& row);
  // Replaces every face of an image.
  void replace_faces(std::int64_t image_id, std::span<const FaceRow> faces);
  // A moved or renamed photo keeps its id and faces.
  void move_image(std::int64_t image_id, const std::filesystem::path& new_path, std::int64_t size,
                  std::int64_t mtime_ns);
  void delete_image(std::int64_t image_id);  // and its faces

  std::vector<FaceRow> faces_of_image(std::int64_t image_id) const;
  std::optional<FaceRow> face_by_id(std::int64_t face_id) const;
  // Every face's id and embedding, in id order, without landmarks (for building the vector index).
  void for_each_embedding(const std::function<void(std::int64_t face_id, std::span<const float>)>& fn) const;

  CatalogStatus status() const;
  // PRAGMA quick_check (its first findings): Error{kCatalog} naming what is damaged and the remedy
  // (`index --rebuild`, or a new library when its description is lost). Reads the whole file once:
  // docs/PERFORMANCE.md has the cost.
  void check_integrity() const;
  // Set from the start of `index --rebuild` until an index run completes over every folder.
  std::optional<RebuildProgress> rebuild_progress() const;
  void end_rebuild();  // that run has completed
  // Bumped, with "last update", by every committed change of images or faces, whichever method made it
  // (Transaction::commit, or at once outside a transaction): files derived from the catalog (the side
  // files of store/vector_files.h) record it and are stale when it moved on.
  std::int64_t generation() const;
  // How many photos (all, read without error, unreadable) and faces the library holds: status()'s
  // counts, without the rest. Counted again only when the generation moved since the last count on this
  // connection (a search reports them at every query; counting 100k photos took ~10 ms).
  struct Counts {
    std::int64_t images = 0, images_ok = 0, images_error = 0, faces = 0;
  };
  Counts counts() const;
  std::string model_fingerprint() const;
  std::string model_name() const;  // the pack the library was built with (its meta row: no table scan)
  // A random 128-bit id (32 hex digits) made with the catalog and kept by --rebuild: files derived from
  // the catalog record it, so that another library's files (or this file replaced by another library's)
  // are never taken for this one's. "" for an older library opened where it could not be given one.
  std::string library_id() const;
  // A short text record of a file derived from the catalog (LIBRARY.vectors, LIBRARY.hnsw), written
  // with that file and kept in the meta table under `name`, so that the file can be matched to this
  // catalog's contents without scanning them. "" when none was written.
  std::string derived_file_record(const std::string& name) const;
  void set_derived_file_record(const std::string& name, const std::string& record);

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ${FACESEARCH_DB} or ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db
std::filesystem::path default_catalog_path();

}  // namespace facesearch
