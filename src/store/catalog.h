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

struct CatalogStatus {
  std::filesystem::path path;
  std::int64_t images = 0, images_ok = 0, images_error = 0, faces = 0;
  std::int64_t file_bytes = 0;  // database + WAL on disk
  std::string model_name, model_fingerprint;
  int schema_version = 0;
  int embedding_dim = 0;
  std::int64_t created_at = 0, updated_at = 0;  // unix seconds
  std::vector<std::filesystem::path> roots;
};

class Catalog {
 public:
  enum class Mode { kOpenOrCreate, kOpenExisting };

  // Opens the library at `db_path`. kOpenOrCreate creates it (and its folder) when missing.
  // `rebuild` drops every image and face first and rebinds the library to `pack` (keeps the roots).
  // Throws Error{kCatalog} for a foreign or corrupted file, a newer schema, or a library made with
  // another model pack (the message says to use --rebuild); Error{kIo} when it cannot be created or
  // written; Error{kNotFound} for a missing library in kOpenExisting mode.
  static Catalog open(const std::filesystem::path& db_path, const ModelPack& pack, Mode mode, bool rebuild = false);

  // Opens an existing library read-only, checking its format and schema but not its model pack:
  // for `status` and `faces`, which must work whichever models are installed.
  static Catalog inspect(const std::filesystem::path& db_path);

  ~Catalog();
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;

  const std::filesystem::path& path() const;

  // RAII write transaction (BEGIN IMMEDIATE ... COMMIT; rolled back if not committed).
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

  std::vector<ImageRow> images() const;
  std::optional<ImageRow> image_by_path(const std::filesystem::path& path) const;
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
  void touch_updated();  // records "last update" = now and bumps the generation
  // Bumped by every committed change of images or faces: files derived from the catalog (the saved
  // approximate index) record it and are stale when it moved on.
  std::int64_t generation() const;
  std::string model_fingerprint() const;

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ${FACESEARCH_DB} or ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db
std::filesystem::path default_catalog_path();

}  // namespace facesearch
