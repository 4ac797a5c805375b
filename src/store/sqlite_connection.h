// The SQLite back end of store/sql.h: one connection to a library file.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "store/sql.h"

namespace facesearch::sql {

class SqliteConnection final : public Connection {
 public:
  // Takes `db` (open, or nullptr after a failed open: closed either way when this goes).
  SqliteConnection(sqlite3* db, std::filesystem::path path);
  ~SqliteConnection() override;

  Dialect dialect() const override { return Dialect::kSqlite; }
  const std::string& where() const override { return where_; }
  void exec(const std::string& sql) override;
  bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }
  void begin_write() override { exec("BEGIN IMMEDIATE"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // Finalises the kept statements and closes the file now.
  void close();

 protected:
  std::unique_ptr<Cursor> prepare(std::string_view sql) override;

 private:
  sqlite3* db_;
  std::filesystem::path path_;
  std::string where_;
};

// Throws the Error that SQLite's last error on `db` means for the library at `where`: a full disk,
// a failed write, a damaged or foreign file, a busy library, else Error{kCatalog} naming `what`.
[[noreturn]] void throw_sqlite(sqlite3* db, const std::filesystem::path& where, const std::string& what);

}  // namespace facesearch::sql
