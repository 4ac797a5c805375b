// The storage back ends a library test runs on (issue 16): one parameterised suite, not a copy per back
// end. `TEST_P` suites take a Backend and make their library with new_library_address().
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "pg_test_server.h"

namespace facesearch::testing {

enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kPostgres ? "PostgreSQL" : "SQLite";
}

inline const auto kBothBackends = ::testing::Values(Backend::kSqlite, Backend::kPostgres);

// A new, empty library: `dir`/library.db, or a fresh database of the test server.
inline std::filesystem::path new_library_address(Backend backend, const std::filesystem::path& dir) {
  return backend == Backend::kPostgres ? std::filesystem::path(pg_test_server().create_database()) : dir / "library.db";
}

// Drops the database of a PostgreSQL library made by new_library_address (nothing for a file: its
// folder goes with the test's TempDir).
inline void remove_library(Backend backend, const std::filesystem::path& address) {
  if (backend == Backend::kPostgres) pg_test_server().drop_database(address.native());
}

}  // namespace facesearch::testing
