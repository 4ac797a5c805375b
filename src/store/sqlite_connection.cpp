#include "store/sqlite_connection.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace facesearch::sql {

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

namespace {

class SqliteCursor final : public Cursor {
 public:
  SqliteCursor(sqlite3* db, std::string_view sql, const std::filesystem::path& where) : db_(db), where_(where) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
        SQLITE_OK)
      throw_sqlite(db_, where_, "prepare");
  }
  ~SqliteCursor() override { sqlite3_finalize(stmt_); }

  void bind(int i, std::int64_t v) override { check(sqlite3_bind_int64(stmt_, i, v)); }
  void bind(int i, double v) override { check(sqlite3_bind_double(stmt_, i, v)); }
  void bind(int i, std::string_view v) override {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_blob(int i, const void* data, size_t bytes) override {
    // An empty vector's data() may be null, which SQLite would store as NULL: bind an empty blob.
    if (bytes == 0) return check(sqlite3_bind_zeroblob(stmt_, i, 0));
    check(sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes), SQLITE_TRANSIENT));
  }
  void bind_vector(int i, std::span<const float> v) override { bind_blob(i, v.data(), v.size_bytes()); }
  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, where_, "step");
  }
  void reset() override { sqlite3_reset(stmt_); }
  void clear() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t changes() const override { return sqlite3_changes64(db_); }
  bool is_null(int c) const override { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::int64_t i64(int c) const override { return sqlite3_column_int64(stmt_, c); }
  double f64(int c) const override { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const override {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c)) : std::string();
  }
  std::span<const float> floats(int c) const override {
    const auto* p = static_cast<const float*>(sqlite3_column_blob(stmt_, c));
    if (!p) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c)) / sizeof(float)};
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(db_, where_, "bind");
  }
  sqlite3* db_;
  const std::filesystem::path& where_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

SqliteConnection::SqliteConnection(sqlite3* db, std::filesystem::path path)
    : db_(db), path_(std::move(path)), where_("library " + path_.string()) {}

SqliteConnection::~SqliteConnection() { close(); }

void SqliteConnection::close() {
  clear_statements();
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void SqliteConnection::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    throw_sqlite(db_, path_, "statement (" + msg + ")");
  }
}

std::unique_ptr<Cursor> SqliteConnection::prepare(std::string_view sql) {
  return std::make_unique<SqliteCursor>(db_, sql, path_);
}

}  // namespace facesearch::sql
