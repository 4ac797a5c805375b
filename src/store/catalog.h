// The library's catalog: one SQLite database (WAL mode), or a PostgreSQL database with pgvector
// (issue 16: `db_path` is then its address, postgresql://USER@HOST/DB; docs/SCALING.md), holding the indexed folders, every image
// (path, size, mtime, content hash, size in pixels, status and error), every face (box, landmarks,
// detector score, embedding), and the people the faces are grouped into (schema 2: names, hidden
// flags, cover faces, which face is whose and who set it, and the "not this person" rejections). The database describes itself: a format name, a schema version and the
// fingerprint of the model pack whose embeddings it holds; opening checks all three.
//
// Thread-safety: one Catalog per thread. Several processes may open the same library: WAL lets a
// search read while an indexer writes; a PostgreSQL library takes several writers at once.
// The logic is written once over store/sql.h; what only a file has (integrity checks, rebuilding a
// damaged file, read-only media) is the SQLite back end's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/types.h"
#include "models/model_pack.h"

namespace facesearch {

class VectorIndex;
enum class IndexKind;

// 1: folders, images, faces. 2: people, face_people, rejections, remembered_faces (issue 15); a
// library of schema 1 is upgraded in place when it is first opened for writing, and read as one with
// no people until then.
inline constexpr int kCatalogSchemaVersion = 2;

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

// A person: a group of faces, named by the user or not yet.
struct PersonRow {
  std::int64_t id = 0;
  std::string name;                // "" until the user names the person
  bool hidden = false;             // left out of people lists unless asked for
  std::int64_t cover_face_id = 0;  // the face the user chose to show the person by; 0: none chosen
  std::int64_t faces = 0, photos = 0;
  std::int64_t created_at = 0;     // unix seconds
  // The face to show the person by (the cover face, else the first), and its photo; 0 and "" when none.
  std::int64_t sample_face_id = 0;
  std::filesystem::path sample_path;
};

// Which person a face is, and whether the user said so (a face the user placed is never moved by
// clustering) or clustering did.
struct FacePersonRow {
  std::int64_t face_id = 0;
  std::int64_t image_id = 0;
  std::int64_t person_id = 0;
  bool by_user = false;
};

// "This face is not that person", as the user said it: no later run or re-cluster assigns it there.
struct RejectionRow {
  std::int64_t face_id = 0;
  std::int64_t person_id = 0;
};

// What one people pass (people/people.h) changed.
struct PeopleUpdate {
  size_t faces_checked = 0;        // faces the pass looked at
  size_t joined = 0;               // of them, joined an existing person
  size_t new_people = 0;           // people made by the pass (a re-cluster: or given back to an old id by overlap)
  size_t faces_in_new_people = 0;
  size_t waiting = 0;              // faces the pass looked at that are still unassigned
  size_t people_removed = 0;       // unnamed people left with no face
  double seconds = 0;
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
  std::optional<RebuildProgress> rebuild;  // set while an `index --rebuild` has not completed
  std::vector<UnreadableFolderRow> unreadable_folders;  // as unreadable_folders() gives them
  std::int64_t people = 0, named_people = 0, faces_with_person = 0;
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
  // Another connection to the same library, for reading only (inspect() of its file or of its
  // PostgreSQL address, password and all).
  Catalog another_reader() const;

  ~Catalog();
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;

  // The library's file, or a PostgreSQL library's address without its password.
  const std::filesystem::path& path() const;
  // A PostgreSQL library (issue 16): no files next to it; its vector index is the database's.
  bool in_database() const;
  // A PostgreSQL library's vector index (store/pg_vector_index.cpp): pgvector's HNSW index, or an exact
  // scan for kExact, and for kAuto/kPreferSaved under kSavedGraphThreshold faces. Searches run in the
  // database over a connection of the index's own (one search at a time). std::logic_error for a file.
  std::unique_ptr<VectorIndex> database_vector_index(IndexKind kind) const;

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
  // replace_faces for several photos at once (an index batch): a PostgreSQL library sends the new faces
  // of every photo that has nothing to give back (no person or rejection of an earlier analysis) in one
  // binary COPY; the others, and an SQLite library's, go row by row.
  struct ImageFaces {
    std::int64_t image_id = 0;
    std::span<const FaceRow> faces;
  };
  void replace_faces_of_images(std::span<const ImageFaces> images);
  // A moved or renamed photo keeps its id and faces.
  void move_image(std::int64_t image_id, const std::filesystem::path& new_path, std::int64_t size,
                  std::int64_t mtime_ns);
  void delete_image(std::int64_t image_id);  // and its faces

  std::vector<FaceRow> faces_of_image(std::int64_t image_id) const;
  std::optional<FaceRow> face_by_id(std::int64_t face_id) const;
  // Every face's id and its photo's id, in face id order.
  std::vector<std::pair<std::int64_t, std::int64_t>> face_images() const;
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

  // People (schema 2; store/people_store.cpp). A library of schema 1 opened for reading has no people
  // tables yet: the reads give nothing and has_people() is false. Writes need a library opened for
  // writing (which upgrades it) and are best made inside a Transaction. People changes do not move the
  // generation (no file derived from the catalog depends on them). Ids that do not exist are
  // Error{kNotFound}; checks of what the user may do (merging two named people, ...) are the caller's.
  bool has_people() const;
  std::vector<PersonRow> people() const;  // with their counts, by id
  std::optional<PersonRow> person(std::int64_t person_id) const;
  std::optional<PersonRow> person_by_name(const std::string& name) const;  // case-insensitive
  std::int64_t add_person(const std::string& name = {});
  // Error{kInvalidArgument} when another person has the name (names are unique, case-insensitive).
  void set_person_name(std::int64_t person_id, const std::string& name);
  void set_person_hidden(std::int64_t person_id, bool hidden);
  void set_person_cover(std::int64_t person_id, std::int64_t face_id);  // 0: none chosen
  // Every face's person, by face id; the faces of one person; one face's person.
  std::vector<FacePersonRow> face_people() const;
  std::vector<FacePersonRow> faces_of_person(std::int64_t person_id) const;
  std::optional<FacePersonRow> person_of_face(std::int64_t face_id) const;
  // The faces that are nobody's, newest first (at most `limit`; 0: all).
  std::vector<std::int64_t> unassigned_face_ids(size_t limit = 0) const;
  void assign_face(std::int64_t face_id, std::int64_t person_id, bool by_user);
  void unassign_face(std::int64_t face_id);
  // Unassigns every face that clustering placed (by_user = false) in people with no name, and returns
  // them as they were (a re-cluster matches its new groups to these old people by overlap).
  std::vector<FacePersonRow> unassign_unnamed_auto();
  std::vector<RejectionRow> rejections() const;
  void add_rejection(std::int64_t face_id, std::int64_t person_id);
  void remove_rejection(std::int64_t face_id, std::int64_t person_id);
  // Moves every face and rejection of `from` to `into` and deletes `from`. A face of `from` that is
  // rejected from `into`, or whose photo has a face of `into`, is left unassigned instead: returns how
  // many were.
  std::int64_t merge_people(std::int64_t into, std::int64_t from);
  void delete_person(std::int64_t person_id);  // its faces become unassigned, its rejections go
  // Deletes the people with no name and no face (nor a face remembered through a rebuild); returns how many.
  std::int64_t remove_empty_people();
  // The faces no people pass has looked at yet (new since the last one), by id; whether there are any.
  // Kept per face (faces.people_seen), not as a high-water mark of ids: SQLite gives a new face the id
  // of a deleted last one.
  std::vector<std::int64_t> unseen_face_ids() const;
  bool has_unseen_faces() const;
  // Marks faces as looked at by a people pass (does not move the generation).
  void mark_faces_seen(std::span<const std::int64_t> face_ids);

  // Indexing on many machines (a PostgreSQL library; docs/SCALING.md): every `index` process registers
  // the files it finds to analyse in one shared queue, then claims batches (SELECT ... FOR UPDATE SKIP
  // LOCKED) for a while; a file leaves the queue in the transaction that stores it. A worker that dies
  // loses its claims when they expire, and the others take the files. std::logic_error for a file library.
  struct QueuedFile {
    std::filesystem::path path;
    std::int64_t size = 0, mtime_ns = 0;
  };
  // Registers files unless the library holds them at that size and time, or they are registered
  // already; returns how many were new.
  size_t queue_files(std::span<const QueuedFile> files);
  // Claims up to `n` files that no live claim holds, for `seconds` (the server's clock), by path.
  std::vector<QueuedFile> claim_files(const std::string& worker, size_t n, int seconds);
  void finish_queued_file(const std::filesystem::path& path);  // inside the transaction that stores it
  void release_claims(const std::string& worker);  // what the worker did not finish goes back at once
  // Extends the worker's live claims by `seconds` from now, over a connection of its own: the batch's
  // transaction on this one may be open (its finished files, locked by it, are skipped). A worker
  // calls it while it works, so that its claims expire only when it stops.
  void renew_claims(const std::string& worker, int seconds);
  // Held while a people pass (people/people.h) decides and writes: two workers that finish their index
  // runs together must not both group the same new faces. A PostgreSQL advisory lock (waits for the
  // other); nothing for a file library, whose write transactions already take turns.
  class PeoplePassLock {
   public:
    explicit PeoplePassLock(Catalog& catalog);
    ~PeoplePassLock();
    PeoplePassLock(const PeoplePassLock&) = delete;
    PeoplePassLock& operator=(const PeoplePassLock&) = delete;

   private:
    Catalog* catalog_;
  };
  struct QueueState {
    std::int64_t files = 0;    // still to analyse
    std::int64_t claimed = 0;  // of them, under a live claim
  };
  QueueState queue_state() const;

  // The connection and schema version, for the catalog's own files (store/catalog_internal.h).
  struct Raw;

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  Raw raw() const;
  static Catalog read_description(std::unique_ptr<Impl> impl);
  static Catalog open_postgres(const std::string& address, const ModelPack& pack, Mode mode, bool rebuild);
  static Catalog finish_open(Catalog catalog, const ModelPack& pack, bool rebuild, std::int64_t images_before);
  // Empties the library for a rebuild with `pack`, remembering what is known about each face; inside
  // the caller's transaction.
  static void rebuild_from_scratch(Impl& c, const ModelPack& pack, std::int64_t images_before);
  std::unique_ptr<Impl> impl_;
};

// ${FACESEARCH_DB} or ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db
std::filesystem::path default_catalog_path();

// postgresql://... or postgres://...: a PostgreSQL library's address, not a file (issue 16).
bool is_database_address(const std::filesystem::path& db);

}  // namespace facesearch
