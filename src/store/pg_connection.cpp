#include "store/pg_connection.h"

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace facesearch::sql {
namespace {

// PostgreSQL's built-in type ids (pg_type.dat).
constexpr Oid kBool = 16, kBytea = 17, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25, kFloat4 = 700,
              kFloat8 = 701, kUnknown = 705, kBpchar = 1042, kVarchar = 1043, kNumeric = 1700;

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string first_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (const auto nl = text.find('\n'); nl != std::string::npos) text = text.substr(0, nl);
  return text;
}

}  // namespace

bool is_postgres_address(std::string_view address) {
  return address.starts_with("postgresql://") || address.starts_with("postgres://");
}

std::string redact_postgres_address(std::string_view address) {
  std::string out(address);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = out.find_first_of("/?", start);
    const auto at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= start) {
      const auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  // password=... among the query parameters
  for (size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&') {
      ++pos;
      continue;
    }
    size_t end = out.find('&', pos);
    const size_t from = pos > 0 && out[pos - 1] == '&' ? pos - 1 : pos;
    if (end == std::string::npos) end = out.size();
    else if (from == pos) ++end;  // the first parameter: take its '&' with it
    out.erase(from, end - from);
    pos = from;
  }
  if (!out.empty() && out.back() == '?') out.pop_back();
  return out;
}

std::string postgres_parameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char ch = sql[i];
    if (quote) {
      out += ch;
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      quote = ch;
      out += ch;
      continue;
    }
    if (ch != '?') {
      out += ch;
      continue;
    }
    size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    if (j > i + 1) {
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      next = std::max(next, std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()));
      i = j - 1;
    } else {
      out += '$' + std::to_string(++next);
    }
  }
  return out;
}

[[noreturn]] void throw_pg(PGconn* conn, const PGresult* result, const std::string& where, const std::string& what) {
  std::string message = first_line(result ? PQresultErrorMessage(result) : (conn ? PQerrorMessage(conn) : ""));
  if (message.rfind("ERROR:  ", 0) == 0) message = message.substr(8);
  if (message.rfind("FATAL:  ", 0) == 0) message = message.substr(8);
  const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field ? state_field : "";
  const std::string prefix = where + ": ";
  if (!conn || PQstatus(conn) == CONNECTION_BAD || state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" ||
      state == "57P03")
    throw Error(ErrorCode::kIo, prefix + "the connection to the PostgreSQL server was lost (" + message +
                                    "); what was not committed was rolled back: run again when the server is back");
  if (state.rfind("28", 0) == 0)
    throw Error(ErrorCode::kIo, prefix + "PostgreSQL refused the login (" + message +
                                    "); check the user and password (in the address, PGPASSWORD or ~/.pgpass)");
  if (state == "53100")
    throw Error(ErrorCode::kIo, prefix + "the database server's disk is full (" + message +
                                    "); free some space and run again: nothing already stored was lost");
  if (state == "42501")
    throw Error(ErrorCode::kIo, prefix + "permission denied (" + message + "); the database user needs rights on the library's tables");
  if (state == "40001" || state == "40P01" || state == "55P03")
    throw Error(ErrorCode::kIo, prefix + "is busy (" + message + "); try again");
  throw Error(ErrorCode::kCatalog, prefix + what + " failed: " + message);
}

// throw_pg, with `result` freed (the Error keeps what it needs of the message).
[[noreturn]] void throw_pg_and_clear(PGconn* conn, PGresult* result, const std::string& where, const std::string& what) {
  try {
    throw_pg(conn, result, where, what);
  } catch (...) {
    PQclear(result);
    throw;
  }
}

class PgCursor final : public Cursor {
 public:
  PgCursor(PgConnection& connection, std::string_view sql) : c_(connection), sql_(postgres_parameters(sql)) {}
  ~PgCursor() override {
    if (result_) PQclear(result_);
    // The prepared statement lives as long as the session; a kept cursor is finalised only when the
    // connection closes, which ends the session.
  }

  void bind(int i, std::int64_t v) override {
    std::string& s = slot(i, kInt8);
    put_be(s, static_cast<std::uint64_t>(v), 8);
  }
  void bind(int i, double v) override {
    std::string& s = slot(i, kFloat8);
    put_be(s, std::bit_cast<std::uint64_t>(v), 8);
  }
  void bind(int i, std::string_view v) override { slot(i, kText).assign(v); }
  void bind_blob(int i, const void* data, size_t bytes) override {
    slot(i, kBytea).assign(static_cast<const char*>(data), bytes);
  }
  void bind_vector(int i, std::span<const float> v) override {
    std::string& s = slot(i, c_.vector_type());
    s.reserve(4 + 4 * v.size());
    put_be(s, v.size(), 2);
    put_be(s, 0, 2);
    for (const float f : v) put_be(s, std::bit_cast<std::uint32_t>(f), 4);
  }

  bool step() override {
    if (!result_) execute();
    ++row_;
    return row_ < PQntuples(result_);
  }
  void reset() override {
    if (result_) PQclear(result_);
    result_ = nullptr;
    row_ = -1;
  }
  void clear() override {
    reset();
    values_.clear();
    types_.clear();
  }
  std::int64_t changes() const override {
    if (!result_) return 0;
    const char* n = PQcmdTuples(result_);
    return n && *n ? std::atoll(n) : 0;
  }
  bool is_null(int c) const override { return PQgetisnull(result_, row_, c); }
  std::int64_t i64(int c) const override {
    if (is_null(c)) return 0;
    const char* p = PQgetvalue(result_, row_, c);
    switch (PQftype(result_, c)) {
      case kInt8: return static_cast<std::int64_t>(get_be(p, 8));
      case kInt4: return static_cast<std::int32_t>(get_be(p, 4));
      case kInt2: return static_cast<std::int16_t>(get_be(p, 2));
      case kBool: return p[0] != 0;
      case kFloat8: return static_cast<std::int64_t>(f64(c));
      case kText:
      case kVarchar:
      case kUnknown: return std::atoll(text(c).c_str());
      default: wrong_type(c, "an integer");
    }
  }
  double f64(int c) const override {
    if (is_null(c)) return 0;
    const char* p = PQgetvalue(result_, row_, c);
    switch (PQftype(result_, c)) {
      case kFloat8: return std::bit_cast<double>(get_be(p, 8));
      case kFloat4: return std::bit_cast<float>(static_cast<std::uint32_t>(get_be(p, 4)));
      case kInt8:
      case kInt4:
      case kInt2: return static_cast<double>(i64(c));
      default: wrong_type(c, "a number");
    }
  }
  std::string text(int c) const override {
    if (is_null(c)) return {};
    switch (PQftype(result_, c)) {
      case kText:
      case kVarchar:
      case kBpchar:
      case kName:
      case kUnknown:
      case kBytea: return std::string(PQgetvalue(result_, row_, c), PQgetlength(result_, row_, c));
      case kInt8:
      case kInt4:
      case kInt2: return std::to_string(i64(c));
      default: wrong_type(c, "text");
    }
  }
  std::span<const float> floats(int c) const override {
    if (is_null(c)) return {};
    if (scratch_.size() <= static_cast<size_t>(c)) scratch_.resize(c + 1);
    std::vector<float>& out = scratch_[c];
    const char* p = PQgetvalue(result_, row_, c);
    const size_t bytes = static_cast<size_t>(PQgetlength(result_, row_, c));
    const Oid type = PQftype(result_, c);
    if (type == kBytea) {
      out.resize(bytes / sizeof(float));
      if (!out.empty()) std::memcpy(out.data(), p, out.size() * sizeof(float));
    } else if (type == c_.vector_type() && bytes >= 4) {
      const size_t n = std::min<size_t>(get_be(p, 2), (bytes - 4) / 4);
      out.resize(n);
      for (size_t k = 0; k < n; ++k) out[k] = std::bit_cast<float>(static_cast<std::uint32_t>(get_be(p + 4 + 4 * k, 4)));
    } else {
      wrong_type(c, "floats");
    }
    return out;
  }

 private:
  std::string& slot(int i, Oid type) {
    const size_t k = static_cast<size_t>(i - 1);
    if (values_.size() <= k) values_.resize(k + 1), types_.resize(k + 1, kText);
    types_[k] = type;
    values_[k].clear();
    return values_[k];
  }
  [[noreturn]] void wrong_type(int c, const char* wanted) const {
    throw Error(ErrorCode::kCatalog, c_.where() + ": column " + std::to_string(c) + " of \"" + sql_ + "\" has type " +
                                         std::to_string(PQftype(result_, c)) + ", not " + wanted);
  }
  void execute() {
    PGconn* conn = c_.handle();
    if (!prepared_ || types_ != prepared_types_) {
      name_ = "fs" + std::to_string(c_.next_statement_++);
      PGresult* r = PQprepare(conn, name_.c_str(), sql_.c_str(), static_cast<int>(types_.size()), types_.data());
      if (PQresultStatus(r) != PGRES_COMMAND_OK) throw_pg_and_clear(conn, r, c_.where(), "preparing \"" + sql_ + "\"");
      PQclear(r);
      prepared_types_ = types_;
      prepared_ = true;
    }
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size()), formats(values_.size(), 1);
    for (size_t k = 0; k < values_.size(); ++k) {
      values[k] = values_[k].data();
      lengths[k] = static_cast<int>(values_[k].size());
    }
    result_ = PQexecPrepared(conn, name_.c_str(), static_cast<int>(values.size()), values.data(), lengths.data(),
                             formats.data(), 1);
    row_ = -1;
    const ExecStatusType status = PQresultStatus(result_);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      PGresult* failed = result_;
      result_ = nullptr;
      throw_pg_and_clear(conn, failed, c_.where(), "statement \"" + sql_ + "\"");
    }
  }

  PgConnection& c_;
  std::string sql_;
  std::string name_;
  bool prepared_ = false;
  std::vector<Oid> prepared_types_, types_;
  std::vector<std::string> values_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  mutable std::vector<std::vector<float>> scratch_;
};

PgConnection::PgConnection(const std::string& address)
    : address_(redact_postgres_address(address)), where_("library " + address_) {
  // Our defaults first: the address's own settings (later) win.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "facesearch", address.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_) throw Error(ErrorCode::kIo, where_ + ": out of memory while connecting");
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = first_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    const auto has = [&](const char* text) { return message.find(text) != std::string::npos; };
    if (has("password authentication failed") || has("no password supplied") || has("authentication failed") ||
        has("role \"") )
      throw Error(ErrorCode::kIo, where_ + ": PostgreSQL refused the login (" + message +
                                      "); check the user and password (in the address, PGPASSWORD or ~/.pgpass)");
    if (has("database \"") && has("does not exist"))
      throw Error(ErrorCode::kNotFound, where_ + ": " + message + " (create it first: createdb, or CREATE DATABASE)");
    throw Error(ErrorCode::kIo, where_ + ": cannot reach the PostgreSQL server (" + message +
                                    "); check the address and that the server is running");
  }
  // Notices ("relation already exists, skipping") are not the user's business.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

PgConnection::~PgConnection() {
  clear_statements();
  if (conn_) PQfinish(conn_);
}

void PgConnection::exec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw_pg_and_clear(conn_, r, where_, "statement");
  }
  PQclear(r);
}

bool PgConnection::in_transaction() const {
  const PGTransactionStatusType t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

void PgConnection::rollback() noexcept {
  if (PGresult* r = PQexec(conn_, "ROLLBACK")) PQclear(r);
}

unsigned PgConnection::vector_type() {
  if (vector_oid_ == 0) {  // looked up again until there (a new library creates the extension)
    PGresult* r = PQexec(conn_, "SELECT oid FROM pg_type WHERE typname = 'vector'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) vector_oid_ = static_cast<unsigned>(std::atoll(PQgetvalue(r, 0, 0)));
    PQclear(r);
  }
  return vector_oid_;
}

std::int64_t PgConnection::copy_in(const std::string& copy_sql, const std::string& data) {
  PGresult* r = PQexec(conn_, copy_sql.c_str());
  if (PQresultStatus(r) != PGRES_COPY_IN) throw_pg_and_clear(conn_, r, where_, "COPY");
  PQclear(r);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    const size_t n = std::min(kChunk, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) throw_pg(conn_, nullptr, where_, "COPY");
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) throw_pg(conn_, nullptr, where_, "COPY");
  std::int64_t rows = 0;
  while (PGresult* done = PQgetResult(conn_)) {
    if (PQresultStatus(done) != PGRES_COMMAND_OK) {
      while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
      throw_pg_and_clear(conn_, done, where_, "COPY");
    }
    if (const char* n = PQcmdTuples(done); n && *n) rows += std::atoll(n);
    PQclear(done);
  }
  return rows;
}

CopyRows::CopyRows() {
  static const char kSignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with its NUL
  data_.append(kSignature, 11);
  put_be(data_, 0, 4);  // flags
  put_be(data_, 0, 4);  // header extension length
}
void CopyRows::begin_row(int fields) { put_be(data_, static_cast<std::uint64_t>(fields), 2); }
void CopyRows::add(std::int64_t v) {
  put_be(data_, 8, 4);
  put_be(data_, static_cast<std::uint64_t>(v), 8);
}
void CopyRows::add_int(std::int32_t v) {
  put_be(data_, 4, 4);
  put_be(data_, static_cast<std::uint32_t>(v), 4);
}
void CopyRows::add(double v) {
  put_be(data_, 8, 4);
  put_be(data_, std::bit_cast<std::uint64_t>(v), 8);
}
void CopyRows::add(std::string_view text) {
  put_be(data_, text.size(), 4);
  data_.append(text);
}
void CopyRows::add_vector(std::span<const float> v) {
  put_be(data_, 4 + 4 * v.size(), 4);
  put_be(data_, v.size(), 2);
  put_be(data_, 0, 2);
  for (const float f : v) put_be(data_, std::bit_cast<std::uint32_t>(f), 4);
}
const std::string& CopyRows::data() {
  if (!finished_) put_be(data_, 0xffff, 2), finished_ = true;  // -1: the end
  return data_;
}

std::unique_ptr<Cursor> PgConnection::prepare(std::string_view sql) { return std::make_unique<PgCursor>(*this, sql); }

}  // namespace facesearch::sql
