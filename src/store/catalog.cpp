#include "store/catalog.h"

#include <sqlite3.h>
#include <unistd.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "store/catalog_internal.h"

namespace facesearch {
namespace {

constexpr const char* kFormatName = "facesearch-catalog";

// 128 random bits as 32 hex digits (getrandom; std::random_device where it is unavailable).
std::string new_library_id() {
  std::uint64_t words[2] = {0, 0};
  if (getrandom(words, sizeof words, 0) != static_cast<ssize_t>(sizeof words)) {
    std::random_device rd;
    for (auto& w : words) w = (std::uint64_t{rd()} << 32) ^ rd();
  }
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(words[0]),
                static_cast<unsigned long long>(words[1]));
  return hex;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

namespace store {

// Declared in store/catalog_internal.h.
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
      throw Error(ErrorCode::kCatalog, prefix + "is not a facesearch library or is corrupted (" + msg + ")",
                  Hint{Remedy::kMoveAwayOrNewLibrary});
    case SQLITE_CORRUPT:
      throw Error(ErrorCode::kCatalog, prefix + "is damaged (" + msg + ")", Hint{Remedy::kRebuildElseNewLibrary});
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

}  // namespace store

using store::Statement;
using store::throw_sqlite;

namespace {

constexpr const char* kSchemaSql = R"sql(
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
)sql";

// Schema 2 (issue 15): people, which face is whose, "not this person", and what a rebuild must give
// back to the faces it finds again. Every face reference cascades: a face that leaves the library takes
// its assignment and rejections with it. The indexes serve those cascades as much as the reads.
constexpr const char* kPeopleSchemaSql = R"sql(
  CREATE TABLE people(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    hidden INTEGER NOT NULL DEFAULT 0,
    cover_face_id INTEGER REFERENCES faces(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL);
  CREATE UNIQUE INDEX people_name ON people(name COLLATE NOCASE) WHERE name <> '';
  CREATE INDEX people_cover ON people(cover_face_id);
  CREATE TABLE face_people(
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    by_user INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX face_people_person ON face_people(person_id);
  CREATE TABLE rejections(
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY(face_id, person_id)) WITHOUT ROWID;
  CREATE INDEX rejections_person ON rejections(person_id);
  CREATE TABLE remembered_faces(
    hash TEXT NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    person_id INTEGER NOT NULL DEFAULT 0,
    by_user INTEGER NOT NULL DEFAULT 0,
    rejected TEXT NOT NULL DEFAULT '');
  CREATE INDEX remembered_faces_hash ON remembered_faces(hash);
  ALTER TABLE faces ADD COLUMN people_seen INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX faces_people_unseen ON faces(id) WHERE people_seen = 0;
)sql";

// Set by `index --rebuild` (to the number of photos before it) and removed when a run completes.
constexpr const char* kRebuildKey = "rebuild_images_before";

// The tables, and what each holds in words a user knows.
constexpr std::pair<const char*, const char*> kTables[] = {
    {"meta", "its own description"}, {"roots", "its list of folders"}, {"images", "its list of photos"},
    {"faces", "its stored faces"}, {"people", "its people"}, {"face_people", "which face is whose"},
    {"rejections", "its \"not this person\" corrections"}};

// "file:/path?QUERY" with every byte but unreserved ones and '/' percent-encoded (SQLite's URI rules).
std::string file_uri(const std::filesystem::path& path, const char* query) {
  std::string uri = "file:";
  for (const unsigned char ch : path.string()) {
    if (std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      uri += static_cast<char>(ch);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", ch);
      uri += hex;
    }
  }
  return uri + "?" + query;
}

std::int64_t size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

}  // namespace

struct Catalog::Impl {
  std::filesystem::path path;
  sqlite3* db = nullptr;
  int dim = 0;
  int schema = 0;             // the schema version the file has now
  store::StatementCache cache;  // this connection's prepared statements (cleared before it closes)
  bool rows_changed = false;  // images or faces changed in the open transaction
  std::optional<std::int64_t> counted_generation;  // counts() as of this generation
  Catalog::Counts counted;
  ~Impl() {
    cache.clear();
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
    Statement s(db, &cache, "SELECT value FROM meta WHERE key = ?", path);
    s.bind(1, key);
    if (s.step()) return s.text(0);
    return std::nullopt;
  }
  // Records "last update" = now and bumps the generation: files derived from the catalog name the
  // generation they were made at, so any change of images or faces makes them stale.
  void bump_generation() {
    set_meta("updated_at", std::to_string(now_s()));
    set_meta("generation", std::to_string(std::atoll(meta("generation").value_or("0").c_str()) + 1));
  }
  // Called by every method that changes images or faces: inside a transaction the bump comes with the
  // commit (Transaction::commit), outside one (each statement its own transaction) at once.
  void changed_rows() {
    if (sqlite3_get_autocommit(db)) {
      bump_generation();
    } else {
      rows_changed = true;
    }
  }
  void set_meta(const std::string& key, const std::string& value) {
    Statement s(db, &cache, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                path);
    s.bind(1, key).bind(2, value).run();
  }

  // The library holds embeddings of `pack`.
  void check_pack(const ModelPack& pack) {
    const std::string where = "library " + path.string();
    const std::string fingerprint = meta("model_fingerprint").value_or("");
    if (fingerprint != pack.fingerprint)
      throw Error(ErrorCode::kCatalog,
                  where + " holds faces of model pack " + meta("model_name").value_or("?") + " (" + fingerprint +
                      "), not of pack " + pack.name + " (" + pack.fingerprint + ")",
                  Hint{Remedy::kUseLibraryPack, meta("model_name").value_or("?"), pack.name});
    dim = std::atoi(meta("embedding_dim").value_or("0").c_str());
    if (dim != pack.embedder.dim) throw Error(ErrorCode::kCatalog, where + ": embedding size does not match the pack");
  }

  // Opens `path` (which exists) without writing into it or next to it. Where we may write both the
  // file and its folder it is opened read-write (no statement of a reader writes): the last connection
  // to close then merges and removes -wal/-shm as usual, which a read-only connection would leave
  // behind. Elsewhere (another user's library, read-only media) SQLite cannot create the -shm that
  // WAL mode needs (https://www.sqlite.org/wal.html, "read-only databases"), and files made there
  // would belong to us: with no writer's -wal the file is read as it is (immutable=1: no -wal/-shm,
  // no locks); while a writer's -wal and -shm are there, they are read (mode=ro) as SQLite allows.
  void open_for_reading() {
    const std::string where = "library " + path.string();
    const std::string wal = path.string() + "-wal";
    const bool can_write = ::access(path.c_str(), W_OK) == 0 && ::access(path.parent_path().c_str(), W_OK) == 0;
    int rc = SQLITE_OK;
    if (can_write) {
      rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    } else if (size_or_zero(wal) == 0) {
      rc = sqlite3_open_v2(file_uri(path, "immutable=1").c_str(), &db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    } else {
      std::error_code ec;
      if (!std::filesystem::exists(path.string() + "-shm", ec))
        throw Error(ErrorCode::kIo, where + " has changes not yet merged into it (" + wal +
                                        ", left by an indexing run that was stopped) and you cannot write there "
                                        "to merge them",
                    Hint{Remedy::kMergeAsOwner});
      rc = sqlite3_open_v2(file_uri(path, "mode=ro").c_str(), &db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    }
    if (rc != SQLITE_OK) throw_sqlite(db, path, "open");
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    // Readers map the file instead of copying each page with a system call (a search reads a few rows
    // at random; `serve` answers hundreds a second). Up to 1 GiB of address space; SQLite reads the
    // rest, and the -wal, as before.
    sqlite3_exec(db, "PRAGMA mmap_size = 1073741824", nullptr, nullptr, nullptr);
  }

  // The first `limit` findings of PRAGMA quick_check (of one table and its indexes when `table` is
  // set); empty when nothing is wrong.
  std::vector<std::string> quick_check(const std::string& table = "", int limit = 10) {
    const std::string sql = table.empty() ? "PRAGMA quick_check(" + std::to_string(limit) + ")"
                                          : "PRAGMA quick_check(\"" + table + "\")";
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) throw_sqlite(db, path, "quick_check");
    std::vector<std::string> findings;
    // On some damage the pragma reports its findings and then fails itself: that is one more finding.
    int rc = SQLITE_ROW;
    while (static_cast<int>(findings.size()) < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      const std::string row = text ? reinterpret_cast<const char*>(text) : "";
      if (row == "ok") continue;
      for (const std::string& line : split_lines(row)) findings.push_back(line);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      if ((rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB) {
        sqlite3_finalize(stmt);
        throw_sqlite(db, path, "quick_check");  // not damage: busy, I/O, ...
      }
      findings.push_back(sqlite3_errmsg(db));
    }
    sqlite3_finalize(stmt);
    return findings;
  }
  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start && text.compare(start, end - start, "*** in database main ***") != 0)
        lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

  // Which tables quick_check's `findings` are in, and what to do.
  [[noreturn]] void throw_damaged(std::vector<std::string> findings) {
    // "Page N is never used" follows from a damaged page that linked to it: name the cause first.
    std::stable_partition(findings.begin(), findings.end(),
                          [](const std::string& f) { return f.find("is never used") == std::string::npos; });
    std::string what;
    bool description_lost = false;
    for (const auto& [table, words] : kTables) {
      bool hit = false;
      try {
        hit = !quick_check(table, 1).empty();
      } catch (const Error&) {
        hit = true;
      }
      if (!hit) continue;
      what += (what.empty() ? "" : ", ") + std::string(words);
      description_lost |= std::string(table) == "meta" || std::string(table) == "roots";
    }
    std::string detail;
    for (size_t i = 0; i < findings.size() && i < 3; ++i) detail += (i ? "; " : "") + findings[i];
    if (findings.size() > 3) detail += "; ...";
    const std::string message = "library " + path.string() + " is damaged" +
                                (what.empty() ? "" : " in " + what) + " (SQLite's quick_check: " + detail + "); ";
    if (description_lost)
      throw Error(ErrorCode::kCatalog, message + "it cannot be repaired", Hint{Remedy::kMoveAwayOrNewLibrary});
    throw Error(ErrorCode::kCatalog, message.substr(0, message.size() - 2), Hint{Remedy::kRebuild});
  }

  // Replaces a damaged catalog by a new file holding its description (meta) and folders, with no
  // photos: a DELETE over a damaged b-tree fails, a new file does not. The damaged file is closed
  // first, which merges and removes its -wal: a -wal left there would be replayed into the new file.
  void recreate_without_photos() {
    const std::string where = "library " + path.string();
    std::vector<std::pair<std::string, std::string>> meta_rows;
    std::vector<std::pair<std::string, std::int64_t>> root_rows;
    try {
      Statement m(db, &cache, "SELECT key, value FROM meta", path);
      while (m.step()) meta_rows.emplace_back(m.text(0), m.text(1));
      Statement r(db, &cache, "SELECT path, added_at FROM roots", path);
      while (r.step()) root_rows.emplace_back(r.text(0), r.i64(1));
    } catch (const Error& e) {
      throw Error(ErrorCode::kCatalog, where + " is damaged beyond a rebuild: its description or list of folders "
                                               "cannot be read back (" + e.what() + ")",
                  Hint{Remedy::kMoveAwayOrNewLibrary});
    }
    const std::filesystem::path fresh_path = path.string() + ".rebuild";
    std::error_code ec;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(fresh_path.string() + suffix, ec);
    {
      Impl fresh;
      fresh.path = fresh_path;
      if (sqlite3_open_v2(fresh_path.c_str(), &fresh.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr) != SQLITE_OK)
        throw_sqlite(fresh.db, fresh_path, "open");
      fresh.exec("BEGIN");
      fresh.exec(kSchemaSql);
      fresh.exec(kPeopleSchemaSql);
      for (const auto& [key, value] : meta_rows) fresh.set_meta(key, value);
      fresh.set_meta("schema_version", std::to_string(kCatalogSchemaVersion));
      // The people's names and flags, where they can be read (their faces are gone with the photos).
      try {
        Statement p(db, &cache, "SELECT id, name, hidden, created_at FROM people", path);
        Statement add_person(fresh.db, "INSERT INTO people(id, name, hidden, created_at) VALUES(?, ?, ?, ?)", fresh_path);
        while (p.step()) add_person.bind(1, p.i64(0)).bind(2, p.text(1)).bind(3, p.i64(2)).bind(4, p.i64(3)).run();
      } catch (const Error&) {
        // A library of schema 1, or a damaged people table: the rebuilt library starts without people.
      }
      Statement add(fresh.db, "INSERT INTO roots(path, added_at) VALUES(?, ?)", fresh_path);
      for (const auto& [root, added_at] : root_rows) add.bind(1, root).bind(2, added_at).run();
      fresh.exec("COMMIT");
    }
    cache.clear();
    sqlite3_close_v2(db);
    db = nullptr;
    if (size_or_zero(path.string() + "-wal") > 0) {
      std::filesystem::remove(fresh_path, ec);
      throw Error(ErrorCode::kIo, where + " is open in another facesearch (its -wal file is in use)",
                  Hint{Remedy::kRebuildWhenAlone});
    }
    for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
    std::filesystem::rename(fresh_path, path, ec);
    if (ec) throw Error(ErrorCode::kIo, where + ": cannot replace it by its rebuilt copy " + fresh_path.string() + " (" +
                                        ec.message() + "); check the folder's permissions");
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
      throw_sqlite(db, path, "open");
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
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
    throw Error(ErrorCode::kNotFound, where + " does not exist", Hint{Remedy::kIndexFirst});
  if (std::filesystem::is_directory(impl->path, ec))
    throw Error(ErrorCode::kInvalidArgument, where + " is a folder, not a library file");
  if (std::filesystem::is_regular_file(impl->path, ec) && std::filesystem::file_size(impl->path, ec) == 0 && !ec)
    throw Error(ErrorCode::kCatalog, where + " is an empty file (0 bytes), not a facesearch library",
                Hint{Remedy::kNewLibrary});
  impl->open_for_reading();
  {
    Statement s(impl->db, &impl->cache, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", impl->path);
    if (!(s.step() && s.i64(0) == 1))
      throw Error(ErrorCode::kCatalog, where + " is not a facesearch library", Hint{Remedy::kNewLibrary});
  }
  if (impl->meta("format").value_or("") != kFormatName)
    throw Error(ErrorCode::kCatalog, where + " is not a facesearch library", Hint{Remedy::kNewLibrary});
  const int version = std::atoi(impl->meta("schema_version").value_or("0").c_str());
  if (version > kCatalogSchemaVersion)
    throw Error(ErrorCode::kCatalog, where + " was written by a newer facesearch (schema " + std::to_string(version) +
                                         "); upgrade facesearch");
  impl->dim = std::atoi(impl->meta("embedding_dim").value_or("0").c_str());
  impl->schema = version;
  return Catalog(std::move(impl));
}

Catalog Catalog::open(const std::filesystem::path& db_path, const ModelPack& pack, Mode mode, bool rebuild) {
  if (mode == Mode::kReadOnly) {
    Catalog catalog = inspect(db_path);
    catalog.check_pack(pack);
    return catalog;
  }
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  impl->path = std::filesystem::absolute(db_path, ec);
  const bool exists = std::filesystem::exists(impl->path, ec);
  if (!exists && mode == Mode::kOpenExisting)
    throw Error(ErrorCode::kNotFound, "library " + impl->path.string() + " does not exist", Hint{Remedy::kIndexFirst});
  if (exists && std::filesystem::is_directory(impl->path, ec))
    throw Error(ErrorCode::kInvalidArgument, "library " + impl->path.string() + " is a folder, not a library file");
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
    Statement s(impl->db, &impl->cache, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", impl->path);
    has_meta = s.step() && s.i64(0) == 1;
  }
  bool empty = false;
  {
    Statement s(impl->db, &impl->cache, "SELECT count(*) FROM sqlite_master", impl->path);
    empty = s.step() && s.i64(0) == 0;
  }
  if (!has_meta && !empty)
    throw Error(ErrorCode::kCatalog, "library " + impl->path.string() +
                                         " is an SQLite database but not a facesearch library",
                Hint{Remedy::kNewLibrary});
  // Checked before anything is written: writing into a damaged b-tree spreads the damage. A rebuild
  // starts from a fresh file instead, as deleting the old rows would walk the damaged pages.
  std::int64_t images_before = 0;
  if (has_meta) {
    try {
      Statement s(impl->db, &impl->cache, "SELECT count(*) FROM images", impl->path);
      if (s.step()) images_before = s.i64(0);
    } catch (const Error&) {
      // Damaged: quick_check below says so.
    }
    if (const auto findings = impl->quick_check(); !findings.empty()) {
      if (!rebuild) impl->throw_damaged(findings);
      impl->recreate_without_photos();
    }
  }
  impl->exec("PRAGMA journal_mode = WAL");
  impl->exec("PRAGMA synchronous = NORMAL");
  impl->exec("PRAGMA foreign_keys = ON");

  Catalog catalog(std::move(impl));
  Impl& c = *catalog.impl_;
  const std::string where = "library " + c.path.string();
  if (empty) {
    Transaction t(catalog);
    c.exec(kSchemaSql);
    c.exec(kPeopleSchemaSql);
    c.set_meta("format", kFormatName);
    c.set_meta("schema_version", std::to_string(kCatalogSchemaVersion));
    c.set_meta("model_name", pack.name);
    c.set_meta("model_fingerprint", pack.fingerprint);
    c.set_meta("embedding_dim", std::to_string(pack.embedder.dim));
    c.set_meta("metric", metric_name(pack.metric));
    c.set_meta("created_at", std::to_string(now_s()));
    c.set_meta("library_id", new_library_id());
    c.set_meta("updated_at", std::to_string(now_s()));
    t.commit();
  }
  if (c.meta("format").value_or("") != kFormatName)
    throw Error(ErrorCode::kCatalog, where + " is not a facesearch library", Hint{Remedy::kNewLibrary});
  const int version = std::atoi(c.meta("schema_version").value_or("0").c_str());
  if (version > kCatalogSchemaVersion)
    throw Error(ErrorCode::kCatalog, where + " was written by a newer facesearch (schema " + std::to_string(version) +
                                         ", this one reads " + std::to_string(kCatalogSchemaVersion) +
                                         ")",
                Hint{Remedy::kUpgrade});
  if (version < 1) throw Error(ErrorCode::kCatalog, where + " has no valid schema version; it is damaged");
  if (version < 2) {
    // Schema 1 (before people): the people tables are added in place, nothing else changes. An older
    // facesearch then refuses the file as written by a newer one, as it refuses any newer schema.
    Transaction t(catalog);
    c.exec(kPeopleSchemaSql);
    c.set_meta("schema_version", "2");
    t.commit();
  }
  c.schema = kCatalogSchemaVersion;
  // A library made before library ids gets one now; where that cannot be written (a read-only file) it
  // stays without one, which only means that its side files are not used.
  if (c.meta("library_id").value_or("").empty()) {
    try {
      c.set_meta("library_id", new_library_id());
    } catch (const Error&) {
    }
  }
  if (rebuild) {
    Transaction t(catalog);
    // The faces come back with new ids: what is known about each (its person, who placed it there,
    // the people it is not) is kept by photo content and box, and given back when the rebuild finds
    // the face again (replace_faces). People themselves stay, names and all.
    c.exec(R"sql(
      INSERT INTO remembered_faces(hash, x1, y1, x2, y2, person_id, by_user, rejected)
      SELECT i.hash, f.x1, f.y1, f.x2, f.y2, coalesce(fp.person_id, 0), coalesce(fp.by_user, 0),
             coalesce((SELECT group_concat(r.person_id, ' ') FROM rejections r WHERE r.face_id = f.id), '')
      FROM faces f JOIN images i ON i.id = f.image_id LEFT JOIN face_people fp ON fp.face_id = f.id
      WHERE i.hash <> '' AND (fp.person_id IS NOT NULL OR EXISTS(SELECT 1 FROM rejections r WHERE r.face_id = f.id));
      UPDATE people SET cover_face_id = NULL;
    )sql");
    c.exec("DELETE FROM faces; DELETE FROM images;");
    c.set_meta(kRebuildKey, std::to_string(images_before));
    c.changed_rows();
    c.set_meta("model_name", pack.name);
    c.set_meta("model_fingerprint", pack.fingerprint);
    c.set_meta("embedding_dim", std::to_string(pack.embedder.dim));
    c.set_meta("metric", metric_name(pack.metric));
    c.set_meta("schema_version", std::to_string(kCatalogSchemaVersion));
    t.commit();
  }
  c.check_pack(pack);
  return catalog;
}

Catalog::Transaction::Transaction(Catalog& catalog) : catalog_(&catalog) {
  catalog_->impl_->exec("BEGIN IMMEDIATE");
  catalog_->impl_->rows_changed = false;
}
Catalog::Transaction::~Transaction() {
  if (!done_) {
    sqlite3_exec(catalog_->impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    catalog_->impl_->rows_changed = false;
  }
}
void Catalog::Transaction::commit() {
  Impl& impl = *catalog_->impl_;
  if (impl.rows_changed) impl.bump_generation();  // in the same transaction: a change never lands without it
  impl.exec("COMMIT");
  impl.rows_changed = false;
  done_ = true;
}

std::vector<std::filesystem::path> Catalog::roots() const {
  Statement s(impl_->db, &impl_->cache, "SELECT path FROM roots ORDER BY path", impl_->path);
  std::vector<std::filesystem::path> out;
  while (s.step()) out.emplace_back(s.text(0));
  return out;
}

void Catalog::add_root(const std::filesystem::path& root) {
  Statement s(impl_->db, &impl_->cache, "INSERT OR IGNORE INTO roots(path, added_at) VALUES(?, ?)", impl_->path);
  s.bind(1, root.string()).bind(2, now_s()).run();
}

std::int64_t Catalog::forget_folder(const std::filesystem::path& folder) {
  // "At or under": the path itself, or one that continues it after a '/' (no LIKE: paths may hold % and _).
  std::string at = folder.string();
  while (at.size() > 1 && at.back() == '/') at.pop_back();
  const std::string under = at == "/" ? at : at + "/";
  constexpr const char* kAtOrUnder = " WHERE path = ?1 OR substr(path, 1, length(?2)) = ?2";
  std::int64_t photos = 0;
  {
    Statement s(impl_->db, &impl_->cache, (std::string("SELECT count(*) FROM images") + kAtOrUnder).c_str(), impl_->path);
    s.bind(1, at).bind(2, under);
    if (s.step()) photos = s.i64(0);
  }
  for (const char* table : {"images", "roots"}) {
    Statement s(impl_->db, &impl_->cache, (std::string("DELETE FROM ") + table + kAtOrUnder).c_str(), impl_->path);
    s.bind(1, at).bind(2, under).run();
  }
  std::vector<UnreadableFolderRow> remembered = unreadable_folders();
  std::erase_if(remembered, [&](const UnreadableFolderRow& f) {
    const std::string p = f.path.string();
    return p == at || p.compare(0, under.size(), under) == 0;
  });
  set_unreadable_folders(remembered);
  impl_->changed_rows();
  return photos;
}

// [{"path": ..., "reason": ..., "photos_kept": N}, ...]; a value that does not parse reads as none
// (it is a report, not data the library depends on).
std::vector<UnreadableFolderRow> Catalog::unreadable_folders() const {
  std::vector<UnreadableFolderRow> out;
  const nlohmann::json list = nlohmann::json::parse(impl_->meta("unreadable_folders").value_or("[]"), nullptr, false);
  if (!list.is_array()) return out;
  for (const nlohmann::json& item : list) {
    if (!item.is_object() || !item.contains("path") || !item["path"].is_string()) continue;
    UnreadableFolderRow row;
    row.path = item["path"].get<std::string>();
    row.reason = item.value("reason", "");
    row.photos_kept = item.value("photos_kept", std::int64_t{0});
    out.push_back(std::move(row));
  }
  return out;
}

void Catalog::set_unreadable_folders(std::span<const UnreadableFolderRow> folders) {
  nlohmann::json list = nlohmann::json::array();
  for (const UnreadableFolderRow& row : folders)
    list.push_back({{"path", row.path.string()}, {"reason", row.reason}, {"photos_kept", row.photos_kept}});
  impl_->set_meta("unreadable_folders", list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
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
  Statement s(impl_->db, &impl_->cache, (std::string("SELECT ") + kImageColumns + " FROM images ORDER BY path").c_str(), impl_->path);
  std::vector<ImageRow> out;
  while (s.step()) out.push_back(read_image(s));
  return out;
}

std::optional<ImageRow> Catalog::image_by_path(const std::filesystem::path& path) const {
  Statement s(impl_->db, &impl_->cache, (std::string("SELECT ") + kImageColumns + " FROM images WHERE path = ?").c_str(), impl_->path);
  s.bind(1, path.string());
  if (s.step()) return read_image(s);
  return std::nullopt;
}

std::vector<std::int64_t> Catalog::images_with_hash(const std::string& hash) const {
  std::vector<std::int64_t> ids;
  if (hash.empty()) return ids;  // unreadable files have no hash
  Statement s(impl_->db, &impl_->cache, "SELECT id FROM images WHERE hash = ?", impl_->path);
  s.bind(1, hash);
  while (s.step()) ids.push_back(s.i64(0));
  return ids;
}

std::optional<ImageRow> Catalog::image_by_id(std::int64_t id) const {
  Statement s(impl_->db, &impl_->cache, (std::string("SELECT ") + kImageColumns + " FROM images WHERE id = ?").c_str(), impl_->path);
  s.bind(1, id);
  if (s.step()) return read_image(s);
  return std::nullopt;
}

std::int64_t Catalog::put_image(const ImageRow& r) {
  Statement s(impl_->db, &impl_->cache,
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
  impl_->changed_rows();
  return id;
}

Catalog::Raw Catalog::raw() const { return Raw{impl_->db, &impl_->path, impl_->schema, &impl_->cache}; }

void Catalog::replace_faces(std::int64_t image_id, std::span<const FaceRow> faces) {
  // Their people and "not this person" go to the new faces of the same place in the photo.
  const std::vector<store::KnownFace> known = faces.empty() ? std::vector<store::KnownFace>{}
                                                            : store::known_faces_of_image(raw(), image_id);
  std::vector<std::pair<std::int64_t, Box>> added;
  Statement del(impl_->db, &impl_->cache, "DELETE FROM faces WHERE image_id = ?", impl_->path);
  del.bind(1, image_id).run();
  Statement ins(impl_->db, &impl_->cache,
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
    added.emplace_back(sqlite3_last_insert_rowid(impl_->db), f.face.box);
  }
  if (!known.empty()) store::give_back_known_faces(raw(), added, known);
  impl_->changed_rows();
}

void Catalog::move_image(std::int64_t image_id, const std::filesystem::path& new_path, std::int64_t size,
                         std::int64_t mtime_ns) {
  Statement s(impl_->db, &impl_->cache, "UPDATE images SET path = ?, size = ?, mtime_ns = ? WHERE id = ?", impl_->path);
  s.bind(1, new_path.string()).bind(2, size).bind(3, mtime_ns).bind(4, image_id).run();
  impl_->changed_rows();
}

void Catalog::delete_image(std::int64_t image_id) {
  Statement s(impl_->db, &impl_->cache, "DELETE FROM images WHERE id = ?", impl_->path);
  s.bind(1, image_id).run();
  impl_->changed_rows();
}

std::vector<FaceRow> Catalog::faces_of_image(std::int64_t image_id) const {
  Statement s(impl_->db, &impl_->cache,
              (std::string("SELECT ") + kFaceColumns + " FROM faces WHERE image_id = ? ORDER BY face_index").c_str(),
              impl_->path);
  s.bind(1, image_id);
  std::vector<FaceRow> out;
  while (s.step()) out.push_back(read_face(s));
  return out;
}

std::optional<FaceRow> Catalog::face_by_id(std::int64_t face_id) const {
  Statement s(impl_->db, &impl_->cache, (std::string("SELECT ") + kFaceColumns + " FROM faces WHERE id = ?").c_str(), impl_->path);
  s.bind(1, face_id);
  if (s.step()) return read_face(s);
  return std::nullopt;
}

std::vector<std::pair<std::int64_t, std::int64_t>> Catalog::face_images() const {
  Statement s(impl_->db, &impl_->cache, "SELECT id, image_id FROM faces ORDER BY id", impl_->path);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  while (s.step()) out.emplace_back(s.i64(0), s.i64(1));
  return out;
}

void Catalog::for_each_embedding(const std::function<void(std::int64_t, std::span<const float>)>& fn) const {
  Statement s(impl_->db, &impl_->cache, "SELECT id, embedding FROM faces ORDER BY id", impl_->path);
  while (s.step()) {
    const auto v = s.float_view(1);
    if (static_cast<int>(v.size()) != impl_->dim)
      throw Error(ErrorCode::kCatalog, "library " + impl_->path.string() + ": face " + std::to_string(s.i64(0)) +
                                           " has a damaged embedding",
                  Hint{Remedy::kRebuild});
    fn(s.i64(0), v);
  }
}

CatalogStatus Catalog::status() const {
  CatalogStatus st;
  st.path = impl_->path;
  const Counts c = counts();
  st.images = c.images, st.images_ok = c.images_ok, st.images_error = c.images_error, st.faces = c.faces;
  st.model_name = impl_->meta("model_name").value_or("");
  st.model_fingerprint = impl_->meta("model_fingerprint").value_or("");
  st.schema_version = std::atoi(impl_->meta("schema_version").value_or("0").c_str());
  st.embedding_dim = impl_->dim;
  if (impl_->schema >= 2) {
    Statement s(impl_->db, &impl_->cache,
                "SELECT count(*), coalesce(sum(name <> ''), 0), (SELECT count(*) FROM face_people) FROM people",
                impl_->path);
    if (s.step()) st.people = s.i64(0), st.named_people = s.i64(1), st.faces_with_person = s.i64(2);
  }
  st.created_at = std::atoll(impl_->meta("created_at").value_or("0").c_str());
  st.updated_at = std::atoll(impl_->meta("updated_at").value_or("0").c_str());
  st.roots = roots();
  st.rebuild = rebuild_progress();
  st.unreadable_folders = unreadable_folders();
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = std::filesystem::file_size(impl_->path.string() + suffix, ec);
    if (!ec) st.file_bytes += static_cast<std::int64_t>(size);
  }
  return st;
}

void Catalog::check_pack(const ModelPack& pack) const { impl_->check_pack(pack); }

std::int64_t Catalog::generation() const { return std::atoll(impl_->meta("generation").value_or("0").c_str()); }

Catalog::Counts Catalog::counts() const {
  // Inside a transaction the rows may change without the generation (it moves at commit, and not at
  // all on a rollback): count, but remember nothing.
  const bool in_transaction = sqlite3_get_autocommit(impl_->db) == 0;
  const std::int64_t now = generation();
  if (!in_transaction && impl_->counted_generation == now) return impl_->counted;
  Counts c;
  {
    Statement s(impl_->db, &impl_->cache,
                "SELECT count(*), coalesce(sum(status = 'ok'), 0), coalesce(sum(status = 'error'), 0) FROM images",
                impl_->path);
    s.step();
    c.images = s.i64(0), c.images_ok = s.i64(1), c.images_error = s.i64(2);
  }
  {
    Statement s(impl_->db, &impl_->cache, "SELECT count(*) FROM faces", impl_->path);
    s.step();
    c.faces = s.i64(0);
  }
  if (!in_transaction) impl_->counted_generation = now, impl_->counted = c;
  return c;
}

void Catalog::check_integrity() const {
  if (const auto findings = impl_->quick_check(); !findings.empty()) impl_->throw_damaged(findings);
}

std::optional<RebuildProgress> Catalog::rebuild_progress() const {
  const auto before = impl_->meta(kRebuildKey);
  if (!before) return std::nullopt;
  RebuildProgress progress;
  progress.images_before = std::atoll(before->c_str());
  Statement s(impl_->db, &impl_->cache, "SELECT count(*) FROM images", impl_->path);
  if (s.step()) progress.images_done = s.i64(0);
  return progress;
}

void Catalog::end_rebuild() {
  Statement s(impl_->db, &impl_->cache, "DELETE FROM meta WHERE key = ?", impl_->path);
  s.bind(1, std::string(kRebuildKey)).run();
  // Faces the rebuild did not find again (their photos are gone or changed) have nothing to come back to.
  if (impl_->schema >= 2) impl_->exec("DELETE FROM remembered_faces");
}

std::string rebuild_warning(const RebuildProgress& rebuild) {
  std::string so_far = std::to_string(rebuild.images_done);
  if (rebuild.images_before > 0) so_far += " of " + std::to_string(rebuild.images_before);
  return "the library is being rebuilt (" + so_far + " photos so far): results are partial";
}

std::string Catalog::model_fingerprint() const { return impl_->meta("model_fingerprint").value_or(""); }

std::string Catalog::model_name() const { return impl_->meta("model_name").value_or(""); }

std::string Catalog::library_id() const { return impl_->meta("library_id").value_or(""); }

std::string Catalog::derived_file_record(const std::string& name) const {
  return impl_->meta("derived_file:" + name).value_or("");
}

void Catalog::set_derived_file_record(const std::string& name, const std::string& record) {
  impl_->set_meta("derived_file:" + name, record);
}

}  // namespace facesearch
