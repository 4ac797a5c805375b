// One SQL vocabulary for the catalog's two back ends (issue 16): an SQLite file and a PostgreSQL
// database. The catalog's logic (store/catalog.cpp, store/people_store.cpp) is written once against
// `Connection` and `Statement`, in the SQL both speak: `?` or `?N` parameters, `ON CONFLICT`,
// `RETURNING`, `coalesce`, `CASE`; where the two differ (schema types, string aggregation, table
// lookup) the caller asks the connection's `dialect()`. Each back end maps its own errors to Error
// (core/error.h) once, naming the library.
//
// Thread-safety: one Connection per thread, as for Catalog.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace facesearch::sql {

enum class Dialect { kSqlite, kPostgres };

// One prepared statement of a back end: bind, step through rows, read columns. Column values are
// valid until the next step() or reset().
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bind(int i, std::int64_t v) = 0;
  virtual void bind(int i, double v) = 0;
  virtual void bind(int i, std::string_view v) = 0;
  // Bytes (landmarks): a BLOB, a bytea.
  virtual void bind_blob(int i, const void* data, size_t bytes) = 0;
  // An embedding: a BLOB of floats in SQLite, a pgvector `vector` in PostgreSQL.
  virtual void bind_vector(int i, std::span<const float> v) = 0;
  // True while rows come; false at the end.
  virtual bool step() = 0;
  // Back to before the first step; the bindings stay until bound again.
  virtual void reset() = 0;
  // reset(), and the bindings cleared: the statement is kept for its next use.
  virtual void clear() = 0;
  // Rows changed by the statement (after it ran to its end).
  virtual std::int64_t changes() const = 0;
  virtual bool is_null(int c) const = 0;
  virtual std::int64_t i64(int c) const = 0;
  virtual double f64(int c) const = 0;
  virtual std::string text(int c) const = 0;
  // A BLOB/bytea of floats or an embedding column, as floats.
  virtual std::span<const float> floats(int c) const = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // "library /path/to/library.db", "library postgresql://user@host/db": how errors name it.
  virtual const std::string& where() const = 0;
  // Runs one or more statements without parameters.
  virtual void exec(const std::string& sql) = 0;
  // Inside a transaction (BEGIN ... not yet COMMIT/ROLLBACK).
  virtual bool in_transaction() const = 0;
  // Starts a write transaction: SQLite's BEGIN IMMEDIATE (one writer at a time), PostgreSQL's BEGIN.
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  // Never throws: used on unwinding.
  virtual void rollback() noexcept = 0;

  // The cursor for `sql` kept from an earlier use, else a new one; give it back when done. Statements
  // stay prepared for the connection's life: a search reads a handful of rows, and preparing anew each
  // time cost more than reading them (a third of a face-id search's time in `serve`).
  std::unique_ptr<Cursor> take(std::string_view sql);
  void give(std::string_view sql, std::unique_ptr<Cursor> cursor);

 protected:
  virtual std::unique_ptr<Cursor> prepare(std::string_view sql) = 0;
  // Finalise every kept statement (before the back end closes its connection).
  void clear_statements() { idle_.clear(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Cursor>> idle_;
};

// The catalog's handle on one statement: taken from the connection's kept statements and given back
// (reset, bindings cleared) when it goes.
class Statement {
 public:
  Statement(Connection& connection, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return cursor_->bind(i, v), *this; }
  Statement& bind(int i, int v) { return cursor_->bind(i, std::int64_t{v}), *this; }
  Statement& bind(int i, double v) { return cursor_->bind(i, v), *this; }
  Statement& bind(int i, const std::string& v) { return cursor_->bind(i, std::string_view(v)), *this; }
  Statement& bind(int i, const char* v) { return cursor_->bind(i, std::string_view(v)), *this; }
  Statement& bind_blob(int i, const void* data, size_t bytes) { return cursor_->bind_blob(i, data, bytes), *this; }
  Statement& bind_vector(int i, std::span<const float> v) { return cursor_->bind_vector(i, v), *this; }
  bool step() { return cursor_->step(); }
  // Runs to the end and resets (the bindings are kept until the next bind); returns the rows changed.
  std::int64_t run();
  bool is_null(int c) const { return cursor_->is_null(c); }
  std::int64_t i64(int c) const { return cursor_->i64(c); }
  double f64(int c) const { return cursor_->f64(c); }
  std::string text(int c) const { return cursor_->text(c); }
  std::vector<float> floats(int c) const {
    const auto v = cursor_->floats(c);
    return {v.begin(), v.end()};
  }
  std::span<const float> float_view(int c) const { return cursor_->floats(c); }

 private:
  Connection& connection_;
  std::string sql_;
  std::unique_ptr<Cursor> cursor_;
};

// `expr`'s values of a group as one text, separated by spaces ("" for none): group_concat in SQLite,
// string_agg in PostgreSQL.
std::string space_separated(Dialect dialect, const std::string& expr);

}  // namespace facesearch::sql
