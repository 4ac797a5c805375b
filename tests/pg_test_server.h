// A PostgreSQL 15 server with pgvector for the tests of the PostgreSQL storage back end (issue 16).
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

namespace facesearch::testing {

// One server per test process: the ctest fixture's (pg_cluster_start, found through
// $FACESEARCH_TEST_PG_DIR), else one this process starts with tests/pg_cluster.sh in a fresh temporary
// folder and stops at exit. Role facesearch (superuser) and database facesearch; every database has the
// extension vector (template1 has it). Thread-safe.
class PgTestServer {
 public:
  // Connection URIs of database facesearch: over the unix socket (no password) and over TCP on
  // 127.0.0.1 with the password (scram-sha-256).
  const std::string& uri() const { return uri_; }
  const std::string& tcp_uri() const { return tcp_uri_; }

  // A new, empty database with a name unique to this process (pid + counter); returns its socket URI.
  std::string create_database();
  // Drops a database made by create_database, given its URI or its name (gone already: fine).
  void drop_database(const std::string& uri_or_name);

  PgTestServer(const PgTestServer&) = delete;
  PgTestServer& operator=(const PgTestServer&) = delete;

 private:
  PgTestServer(std::filesystem::path dir, bool owned);
  friend class PgTestServerHolder;

  std::filesystem::path dir_;  // the cluster's folder (DIR of tests/pg_cluster.sh)
  bool owned_;                 // started by this process, which stops it
  std::string uri_;
  std::string tcp_uri_;
  std::atomic<unsigned> databases_made_{0};
};

// The process's server, started on first use. Throws std::runtime_error, which fails the calling test,
// when PostgreSQL or pgvector is missing (the message says to run `make setup`) or the server cannot start.
PgTestServer& pg_test_server();

}  // namespace facesearch::testing
