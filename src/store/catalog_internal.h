// Internal to src/store, shared by the files of the catalog (store/catalog.cpp, store/people_store.cpp):
// one prepared SQLite statement, SQLite's errors as Error (core/error.h) worded once, the catalog's
// connection, and what replace_faces keeps of the people of the faces it replaces.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/types.h"
#include "store/catalog.h"

namespace facesearch {

namespace store {
class StatementCache;
}

struct Catalog::Raw {
  sqlite3* db = nullptr;
  const std::filesystem::path* path = nullptr;
  int schema = 0;
  store::StatementCache* cache = nullptr;
};

namespace store {

// The prepared statements of one connection, kept by SQL text for its life: a search reads a handful
// of rows, and preparing their statements anew each time cost more than reading them (a third of a
// face-id search's time in `serve`). Clear it before the connection closes.
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache() { clear(); }
  void clear() {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
    idle_.clear();
  }
  // A statement for `sql` not in use: a kept one, else nullptr (the caller prepares it).
  sqlite3_stmt* take(const char* sql) {
    const auto it = idle_.find(sql);
    if (it == idle_.end()) return nullptr;
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return stmt;
  }
  // Back after use (reset, bindings cleared); a second one of the same text is finalised.
  void give(const char* sql, sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!idle_.emplace(sql, stmt).second) sqlite3_finalize(stmt);
  }

 private:
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

// Throws the Error that SQLite's last error on `db` means for the library at `where`: a full disk,
// a failed write, a damaged or foreign file, a busy library, else Error{kCatalog} naming `what`.
[[noreturn]] void throw_sqlite(sqlite3* db, const std::filesystem::path& where, const std::string& what);

// One prepared statement; finalised on destruction, or given back to `cache` when it came with one.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::filesystem::path& where) : Statement(db, nullptr, sql, where) {}
  Statement(sqlite3* db, StatementCache* cache, const char* sql, const std::filesystem::path& where)
      : db_(db), cache_(cache), where_(where) {
    if (cache_) {
      sql_ = sql;
      stmt_ = cache_->take(sql);
    }
    if (!stmt_ && sqlite3_prepare_v3(db, sql, -1, cache_ ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr) != SQLITE_OK)
      fail("prepare");
  }
  ~Statement() {
    if (cache_ && stmt_) {
      cache_->give(sql_.c_str(), stmt_);
    } else {
      sqlite3_finalize(stmt_);
    }
  }
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
  StatementCache* cache_ = nullptr;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  std::filesystem::path where_;
};

inline void Statement::fail(const char* what) const { throw_sqlite(db_, where_, what); }

// What the library knows about one face beyond its pixels: its person (0: none), whether the user
// placed it, and the people it is not. Faces of a photo analysed again get new rows (and ids); the
// new face covering the same part of the photo (IoU >= 0.5, best first) takes this over. The faces an
// `index --rebuild` dropped are remembered by photo content (remembered_faces) the same way.
struct KnownFace {
  Box box;
  std::int64_t person_id = 0;
  bool by_user = false;
  std::vector<std::int64_t> rejected;
  std::int64_t remembered_rowid = 0;  // a row of remembered_faces, deleted once given back
};
// The faces of `image_id` (before they are replaced) and the faces remembered for its content, that
// have anything to keep. Empty for a library without people tables.
std::vector<KnownFace> known_faces_of_image(const Catalog::Raw& raw, std::int64_t image_id);
// Gives what `known` holds to the new faces (id, box) that cover the same part of the photo.
void give_back_known_faces(const Catalog::Raw& raw, std::span<const std::pair<std::int64_t, Box>> new_faces,
                           std::span<const KnownFace> known);

}  // namespace store
}  // namespace facesearch
