// The PostgreSQL back end of store/sql.h (issue 16): one libpq connection to a library's database.
// Parameters and results travel in binary; embeddings are pgvector `vector`s.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "store/sql.h"

namespace facesearch::sql {

// "postgresql://..." or "postgres://...": a PostgreSQL library's address rather than a file.
bool is_postgres_address(std::string_view address);
// The address without its password (user:password@, password=...): how messages and status show it.
std::string redact_postgres_address(std::string_view address);

class PgConnection final : public Connection {
 public:
  // Connects (10 s timeout unless the address sets connect_timeout). Throws Error{kIo} saying whether
  // the server could not be reached, refused the login, or has no such database.
  explicit PgConnection(const std::string& address);
  ~PgConnection() override;

  Dialect dialect() const override { return Dialect::kPostgres; }
  const std::string& where() const override { return where_; }
  void exec(const std::string& sql) override;
  bool in_transaction() const override;
  void begin_write() override { exec("BEGIN"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override;

  PGconn* handle() const { return conn_; }
  const std::string& address() const { return address_; }  // redacted
  // The type id of pgvector's `vector` in this database (0 when the extension is not there).
  unsigned vector_type();
  // COPY ... FROM STDIN (FORMAT binary) with `data` (CopyRows::data()); returns the rows copied.
  std::int64_t copy_in(const std::string& copy_sql, const std::string& data);

 protected:
  std::unique_ptr<Cursor> prepare(std::string_view sql) override;

 private:
  PGconn* conn_ = nullptr;
  std::string address_;
  std::string where_;
  unsigned vector_oid_ = 0;
  unsigned next_statement_ = 0;
  friend class PgCursor;
};

// Throws the Error a failed libpq call means for the library `where` ("library postgresql://..."):
// a lost connection, a refused login, a full disk, a conflict, else Error{kCatalog} naming `what`.
// `result` may be null (the connection's own message is used).
[[noreturn]] void throw_pg(PGconn* conn, const PGresult* result, const std::string& where, const std::string& what);

// Rows for a binary COPY (PostgreSQL's COPY BINARY format): the fastest way to load many rows.
class CopyRows {
 public:
  CopyRows();
  void begin_row(int fields);
  void add(std::int64_t v);  // bigint
  void add_int(std::int32_t v);  // integer
  void add(double v);
  void add(std::string_view text);  // text or bytea
  void add_vector(std::span<const float> v);
  // The whole stream, with its trailer.
  const std::string& data();

 private:
  std::string data_;
  bool finished_ = false;
};

// `sql` with `?` and `?N` parameters as PostgreSQL's `$N` (quoted text and identifiers left alone).
std::string postgres_parameters(std::string_view sql);

}  // namespace facesearch::sql
