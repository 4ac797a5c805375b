#include "store/catalog.h"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/file_io.h"

namespace facesearch {
namespace {

constexpr const char* kFormatName = "facesearch-catalog";

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One prepared statement; finalised on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::filesystem::path& where) : db_(db), where_(where) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, int v) { return check(sqlite3_bind_int(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Statement& bind_blob(int i, const void* data, size_t bytes) {
    // An empty vector's data() may be null, which SQLite would store as NULL: bind an empty blob.
    if (bytes == 0) return check(sqlite3_bind_zeroblob(stmt_, i, 0));
    return check(sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes), SQLITE_TRANSIENT));
  }
  // True while rows come; false at the end.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
  }
  void run() {
    while (step()) {
    }
    sqlite3_reset(stmt_);
  }
  std::int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double f64(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c)) : std::string();
  }
  std::vector<float> floats(int c) const {
    const auto* p = static_cast<const float*>(sqlite3_column_blob(stmt_, c));
    const int bytes = sqlite3_column_bytes(stmt_, c);
    return p ? std::vector<float>(p, p + bytes / sizeof(float)) : std::vector<float>();
  }
  std::span<const float> float_view(int c) const {
    const auto* p = static_cast<const float*>(sqlite3_column_blob(stmt_, c));
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c)) / sizeof(float)};
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::filesystem::path where_;
};

[[noreturn]] void throw_sqlite(sqlite3* db, const std::filesystem::path& where, const std::string& what) {
  const int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
  const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
  const std::string prefix = "library " + where.string() + ": ";
  // A full disk (or quota, or file-size limit) often reaches SQLite as a plain I/O error: the
  // operating system's errno says what it really was.
  const int sys = db ? sqlite3_system_errno(db) : 0;
  if ((code & 0xff) == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT || sys == EFBIG)
    throw Error(ErrorCode::kIo, prefix + "disk full while writing (" + (sys ? std::strerror(sys) : msg) +
                                    "); free some space and run again: nothing already stored was lost");
  // A failed or short write: SQLite does not always keep errno, but the batch was rolled back.
  if (code == SQLITE_IOERR_WRITE || code == SQLITE_IOERR_FSYNC || code == SQLITE_IOERR_TRUNCATE)
    throw Error(ErrorCode::kIo, prefix + "could not write to disk (" + msg +
                                    "; full, over a quota or a file-size limit?); free some space and run "
                                    "again: nothing already stored was lost");
  switch (code & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      throw Error(ErrorCode::kCatalog, prefix + "is not a facesearch library or is corrupted (" + msg +
                                           "); move it away, or index into a new --db");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      throw Error(ErrorCode::kIo, prefix + "cannot write or open (" + msg + "); check the path and its permissions");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error(ErrorCode::kIo, prefix + "is busy (another facesearch is writing it); try again");
    default: throw Error(ErrorCode::kCatalog, prefix + what + " failed: " + msg);
  }
}

void Statement::fail(const char* what) const { throw_sqlite(db_, where_, what); }

}  // namespace

struct Catalog::Impl {
  std::filesystem::path path;
  sqlite3* db = nullptr;
  int dim = 0;
  ~Impl() {
    if (db) sqlite3_close_v2(db);
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : "";
      sqlite3_free(err);
      throw_sqlite(db, path, std::string("statement (") + msg + ")");
    }
  }
  std::optional<std::string> meta(const std::string& key) {
    Statement s(db, "SELECT value FROM meta WHERE key = ?", path);
    s.bind(1, key);
    if (s.step()) return s.text(0);
    return std::nullopt;
  }
  void set_meta(const std::string& key, const std::string& value) {
    Statement s(db, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                path);
    s.bind(1, key).bind(2, value).run();
  }
};

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::~Catalog() = default;
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
const std::filesystem::path& Catalog::path() const { return impl_->path; }

std::filesystem::path default_catalog_path() {
  if (const char* env = std::getenv("FACESEARCH_DB"); env && *env) return env;
  return facesearch_data_home() / "library.db";
}

Catalog Catalog::inspect(const std::filesystem::path& db_path) {
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  impl->path = std::filesystem::absolute(db_path, ec);
  const std::string where = "library " + impl->path.string();
  if (!std::filesystem::exists(impl->path, ec))
    throw Error(ErrorCode::kNotFound, where + " does not exist; build it with `facesearch index FOLDER`");
  if (std::filesystem::is_directory(impl->path, ec))
    throw Error(ErrorCode::kInvalidArgument, where + " is a folder; --db names a file");
  if (sqlite3_open_v2(impl->path.c_str(), &impl->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    throw_sqlite(impl->db, impl->path, "open");
  sqlite3_busy_timeout(impl->db, 10000);
  {
    Statement s(impl->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", impl->path);
    if (!(s.step() && s.i64(0) == 1))
      throw Error(ErrorCode::kCatalog, where + " is not a facesearch library; choose another --db");
  }
  if (impl->meta("format").value_or("") != kFormatName)
    throw Error(ErrorCode::kCatalog, where + " is not a facesearch library; choose another --db");
  const int version = std::atoi(impl->meta("schema_version").value_or("0").c_str());
  if (version > kCatalogSchemaVersion)
    throw Error(ErrorCode::kCatalog, where + " was written by a newer facesearch (schema " + std::to_string(version) +
                                         "); upgrade facesearch");
  impl->dim = std::atoi(impl->meta("embedding_dim").value_or("0").c_str());
  return Catalog(std::move(impl));
}

Catalog Catalog::open(const std::filesystem::path& db_path, const ModelPack& pack, Mode mode, bool rebuild) {
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  impl->path = std::filesystem::absolute(db_path, ec);
  const bool exists = std::filesystem::exists(impl->path, ec);
  if (!exists && mode == Mode::kOpenExisting)
    throw Error(ErrorCode::kNotFound, "library " + impl->path.string() +
                                          " does not exist; build it with `facesearch index FOLDER`");
  if (exists && std::filesystem::is_directory(impl->path, ec))
    throw Error(ErrorCode::kInvalidArgument, "library " + impl->path.string() + " is a folder; --db names a file");
  if (!exists) {
    std::filesystem::create_directories(impl->path.parent_path(), ec);
    if (ec)
      throw Error(ErrorCode::kIo, "library " + impl->path.string() + ": cannot create its folder (" + ec.message() + ")");
  }
  const int flags = SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(impl->path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK)
    throw_sqlite(impl->db, impl->path, "open");
  sqlite3_busy_timeout(impl->db, 10000);
  sqlite3_extended_result_codes(impl->db, 1);

  // A foreign SQLite file or garbage shows itself on the first read.
  bool has_meta = false;
  {
    Statement s(impl->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", impl->path);
    has_meta = s.step() && s.i64(0) == 1;
  }
  bool empty = false;
  {
    Statement s(impl->db, "SELECT count(*) FROM sqlite_master", impl->path);
    empty = s.step() && s.i64(0) == 0;
  }
  if (!has_meta && !empty)
    throw Error(ErrorCode::kCatalog, "library " + impl->path.string() +
                                         " is an SQLite database but not a facesearch library; choose another --db");
  impl->exec("PRAGMA journal_mode = WAL");
  impl->exec("PRAGMA synchronous = NORMAL");
  impl->exec("PRAGMA foreign_keys = ON");

  Catalog catalog(std::move(impl));
  Impl& c = *catalog.impl_;
  const std::string where = "library " + c.path.string();
  if (empty) {
    Transaction t(catalog);
    c.exec(R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE roots(path TEXT PRIMARY KEY, added_at INTEGER NOT NULL);
      CREATE TABLE images(
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash TEXT NOT NULL,
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK(status IN ('ok', 'error')),
        error TEXT NOT NULL DEFAULT '',
        indexed_at INTEGER NOT NULL);
      CREATE INDEX images_hash ON images(hash);
      CREATE TABLE faces(
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        face_index INTEGER NOT NULL,
        x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
        score REAL NOT NULL,
        detector TEXT NOT NULL,
        landmarks BLOB NOT NULL,
        embedding BLOB NOT NULL,
        UNIQUE(image_id, face_index));
    )sql");
    c.set_meta("format", kFormatName);
    c.set_meta("schema_version", std::to_string(kCatalogSchemaVersion));
    c.set_meta("model_name", pack.name);
    c.set_meta("model_fingerprint", pack.fingerprint);
    c.set_meta("embedding_dim", std::to_string(pack.embedder.dim));
    c.set_meta("metric", metric_name(pack.metric));
    c.set_meta("created_at", std::to_string(now_s()));
    c.set_meta("updated_at", std::to_string(now_s()));
    t.commit();
  }
  if (c.meta("format").value_or("") != kFormatName)
    throw Error(ErrorCode::kCatalog, where + " is not a facesearch library; choose another --db");
  const int version = std::atoi(c.meta("schema_version").value_or("0").c_str());
  if (version > kCatalogSchemaVersion)
    throw Error(ErrorCode::kCatalog, where + " was written by a newer facesearch (schema " + std::to_string(version) +
                                         ", this one reads " + std::to_string(kCatalogSchemaVersion) +
                                         "); upgrade facesearch, or use --rebuild to re-index it with this version");
  if (version < 1) throw Error(ErrorCode::kCatalog, where + " has no valid schema version; it is damaged");
  if (rebuild) {
    Transaction t(catalog);
    c.exec("DELETE FROM faces; DELETE FROM images;");
    catalog.touch_updated();
    c.set_meta("model_name", pack.name);
    c.set_meta("model_fingerprint", pack.fingerprint);
    c.set_meta("embedding_dim", std::to_string(pack.embedder.dim));
    c.set_meta("metric", metric_name(pack.metric));
    c.set_meta("schema_version", std::to_string(kCatalogSchemaVersion));
    t.commit();
  }
  const std::string fingerprint = c.meta("model_fingerprint").value_or("");
  if (fingerprint != pack.fingerprint)
    throw Error(ErrorCode::kCatalog, where + " holds faces of model pack " + c.meta("model_name").value_or("?") + " (" +
                                         fingerprint + "), not of pack " + pack.name + " (" + pack.fingerprint +
                                         "): a library is bound to one pack; use the pack it was built with (`--model " +
                                         c.meta("model_name").value_or("?") + "`, or the --models DIR it came from), or re-index it with " +
                                         pack.name + ": `facesearch index --rebuild --model " + pack.name + "`");
  c.dim = std::atoi(c.meta("embedding_dim").value_or("0").c_str());
  if (c.dim != pack.embedder.dim) throw Error(ErrorCode::kCatalog, where + ": embedding size does not match the pack");
  return catalog;
}

Catalog::Transaction::Transaction(Catalog& catalog) : catalog_(&catalog) { catalog_->impl_->exec("BEGIN IMMEDIATE"); }
Catalog::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(catalog_->impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
}
void Catalog::Transaction::commit() {
  catalog_->impl_->exec("COMMIT");
  done_ = true;
}

std::vector<std::filesystem::path> Catalog::roots() const {
  Statement s(impl_->db, "SELECT path FROM roots ORDER BY path", impl_->path);
  std::vector<std::filesystem::path> out;
  while (s.step()) out.emplace_back(s.text(0));
  return out;
}

void Catalog::add_root(const std::filesystem::path& root) {
  Statement s(impl_->db, "INSERT OR IGNORE INTO roots(path, added_at) VALUES(?, ?)", impl_->path);
  s.bind(1, root.string()).bind(2, now_s()).run();
}

namespace {
constexpr const char* kImageColumns = "id, path, size, mtime_ns, hash, width, height, status, error, indexed_at";
ImageRow read_image(const Statement& s) {
  ImageRow r;
  r.id = s.i64(0);
  r.path = s.text(1);
  r.size = s.i64(2);
  r.mtime_ns = s.i64(3);
  r.hash = s.text(4);
  r.width = static_cast<int>(s.i64(5));
  r.height = static_cast<int>(s.i64(6));
  r.status = s.text(7);
  r.error = s.text(8);
  r.indexed_at = s.i64(9);
  return r;
}
constexpr const char* kFaceColumns = "id, image_id, face_index, x1, y1, x2, y2, score, detector, landmarks, embedding";
FaceRow read_face(const Statement& s) {
  FaceRow f;
  f.id = s.i64(0);
  f.image_id = s.i64(1);
  f.face_index = static_cast<int>(s.i64(2));
  f.face.box = {static_cast<float>(s.f64(3)), static_cast<float>(s.f64(4)), static_cast<float>(s.f64(5)),
                static_cast<float>(s.f64(6))};
  f.face.score = static_cast<float>(s.f64(7));
  f.face.detector = s.text(8);
  const auto pts = s.floats(9);
  for (size_t i = 0; i + 1 < pts.size(); i += 2) f.face.landmarks.push_back({pts[i], pts[i + 1]});
  f.embedding = s.floats(10);
  return f;
}
}  // namespace

std::vector<ImageRow> Catalog::images() const {
  Statement s(impl_->db, (std::string("SELECT ") + kImageColumns + " FROM images ORDER BY path").c_str(), impl_->path);
  std::vector<ImageRow> out;
  while (s.step()) out.push_back(read_image(s));
  return out;
}

std::optional<ImageRow> Catalog::image_by_path(const std::filesystem::path& path) const {
  Statement s(impl_->db, (std::string("SELECT ") + kImageColumns + " FROM images WHERE path = ?").c_str(), impl_->path);
  s.bind(1, path.string());
  if (s.step()) return read_image(s);
  return std::nullopt;
}

std::optional<ImageRow> Catalog::image_by_id(std::int64_t id) const {
  Statement s(impl_->db, (std::string("SELECT ") + kImageColumns + " FROM images WHERE id = ?").c_str(), impl_->path);
  s.bind(1, id);
  if (s.step()) return read_image(s);
  return std::nullopt;
}

std::int64_t Catalog::put_image(const ImageRow& r) {
  Statement s(impl_->db,
              "INSERT INTO images(path, size, mtime_ns, hash, width, height, status, error, indexed_at) "
              "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET size = excluded.size, "
              "mtime_ns = excluded.mtime_ns, hash = excluded.hash, width = excluded.width, height = excluded.height, "
              "status = excluded.status, error = excluded.error, indexed_at = excluded.indexed_at RETURNING id",
              impl_->path);
  s.bind(1, r.path.string()).bind(2, r.size).bind(3, r.mtime_ns).bind(4, r.hash).bind(5, r.width).bind(6, r.height);
  s.bind(7, r.status).bind(8, r.error).bind(9, r.indexed_at ? r.indexed_at : now_s());
  if (!s.step()) throw_sqlite(impl_->db, impl_->path, "insert image");
  const std::int64_t id = s.i64(0);
  while (s.step()) {
  }
  return id;
}

void Catalog::replace_faces(std::int64_t image_id, std::span<const FaceRow> faces) {
  Statement del(impl_->db, "DELETE FROM faces WHERE image_id = ?", impl_->path);
  del.bind(1, image_id).run();
  Statement ins(impl_->db,
                "INSERT INTO faces(image_id, face_index, x1, y1, x2, y2, score, detector, landmarks, embedding) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                impl_->path);
  for (const auto& f : faces) {
    if (static_cast<int>(f.embedding.size()) != impl_->dim)
      throw Error(ErrorCode::kInvalidArgument, "replace_faces: embedding size does not match the library");
    std::vector<float> pts;
    for (const auto& p : f.face.landmarks) pts.insert(pts.end(), {p.x, p.y});
    ins.bind(1, image_id).bind(2, f.face_index).bind(3, double(f.face.box.x1)).bind(4, double(f.face.box.y1));
    ins.bind(5, double(f.face.box.x2)).bind(6, double(f.face.box.y2)).bind(7, double(f.face.score)).bind(8, f.face.detector);
    ins.bind_blob(9, pts.data(), pts.size() * sizeof(float));
    ins.bind_blob(10, f.embedding.data(), f.embedding.size() * sizeof(float));
    ins.run();
  }
}

void Catalog::move_image(std::int64_t image_id, const std::filesystem::path& new_path, std::int64_t size,
                         std::int64_t mtime_ns) {
  Statement s(impl_->db, "UPDATE images SET path = ?, size = ?, mtime_ns = ? WHERE id = ?", impl_->path);
  s.bind(1, new_path.string()).bind(2, size).bind(3, mtime_ns).bind(4, image_id).run();
}

void Catalog::delete_image(std::int64_t image_id) {
  Statement s(impl_->db, "DELETE FROM images WHERE id = ?", impl_->path);
  s.bind(1, image_id).run();
}

std::vector<FaceRow> Catalog::faces_of_image(std::int64_t image_id) const {
  Statement s(impl_->db,
              (std::string("SELECT ") + kFaceColumns + " FROM faces WHERE image_id = ? ORDER BY face_index").c_str(),
              impl_->path);
  s.bind(1, image_id);
  std::vector<FaceRow> out;
  while (s.step()) out.push_back(read_face(s));
  return out;
}

std::optional<FaceRow> Catalog::face_by_id(std::int64_t face_id) const {
  Statement s(impl_->db, (std::string("SELECT ") + kFaceColumns + " FROM faces WHERE id = ?").c_str(), impl_->path);
  s.bind(1, face_id);
  if (s.step()) return read_face(s);
  return std::nullopt;
}

void Catalog::for_each_embedding(const std::function<void(std::int64_t, std::span<const float>)>& fn) const {
  Statement s(impl_->db, "SELECT id, embedding FROM faces ORDER BY id", impl_->path);
  while (s.step()) {
    const auto v = s.float_view(1);
    if (static_cast<int>(v.size()) != impl_->dim)
      throw Error(ErrorCode::kCatalog, "library " + impl_->path.string() + ": face " + std::to_string(s.i64(0)) +
                                           " has a damaged embedding; re-index with --rebuild");
    fn(s.i64(0), v);
  }
}

CatalogStatus Catalog::status() const {
  CatalogStatus st;
  st.path = impl_->path;
  {
    Statement s(impl_->db,
                "SELECT count(*), coalesce(sum(status = 'ok'), 0), coalesce(sum(status = 'error'), 0) FROM images",
                impl_->path);
    s.step();
    st.images = s.i64(0), st.images_ok = s.i64(1), st.images_error = s.i64(2);
  }
  {
    Statement s(impl_->db, "SELECT count(*) FROM faces", impl_->path);
    s.step();
    st.faces = s.i64(0);
  }
  st.model_name = impl_->meta("model_name").value_or("");
  st.model_fingerprint = impl_->meta("model_fingerprint").value_or("");
  st.schema_version = std::atoi(impl_->meta("schema_version").value_or("0").c_str());
  st.embedding_dim = impl_->dim;
  st.created_at = std::atoll(impl_->meta("created_at").value_or("0").c_str());
  st.updated_at = std::atoll(impl_->meta("updated_at").value_or("0").c_str());
  st.roots = roots();
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = std::filesystem::file_size(impl_->path.string() + suffix, ec);
    if (!ec) st.file_bytes += static_cast<std::int64_t>(size);
  }
  return st;
}

void Catalog::touch_updated() {
  impl_->set_meta("updated_at", std::to_string(now_s()));
  impl_->set_meta("generation", std::to_string(generation() + 1));
}

std::int64_t Catalog::generation() const { return std::atoll(impl_->meta("generation").value_or("0").c_str()); }

std::string Catalog::model_fingerprint() const { return impl_->meta("model_fingerprint").value_or(""); }

}  // namespace facesearch
