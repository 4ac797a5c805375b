#include "store/sql.h"

namespace facesearch::sql {

std::unique_ptr<Cursor> Connection::take(std::string_view sql) {
  if (const auto it = idle_.find(std::string(sql)); it != idle_.end()) {
    auto cursor = std::move(it->second);
    idle_.erase(it);
    return cursor;
  }
  return prepare(sql);
}

void Connection::give(std::string_view sql, std::unique_ptr<Cursor> cursor) {
  cursor->clear();
  // A second statement of the same text (one was in use while this one ran) is dropped.
  idle_.try_emplace(std::string(sql), std::move(cursor));
}

Statement::Statement(Connection& connection, std::string_view sql)
    : connection_(connection), sql_(sql), cursor_(connection.take(sql)) {}

Statement::~Statement() {
  if (cursor_) connection_.give(sql_, std::move(cursor_));
}

std::int64_t Statement::run() {
  while (cursor_->step()) {
  }
  const std::int64_t changed = cursor_->changes();
  cursor_->reset();
  return changed;
}

std::string space_separated(Dialect dialect, const std::string& expr) {
  if (dialect == Dialect::kPostgres) return "string_agg(CAST(" + expr + " AS TEXT), ' ')";
  return "group_concat(" + expr + ", ' ')";
}

}  // namespace facesearch::sql
