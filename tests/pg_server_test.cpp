// The PostgreSQL server that `make setup` provides, used as the storage back end of issue 16 will use it:
// pgvector 0.8.0, an HNSW index on cosine distance, password authentication over TCP, fresh databases
// that have the extension. Through libpq, as the back end will talk to it.
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pg_test_server.h"

namespace facesearch::testing {
namespace {

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Connection = std::unique_ptr<PGconn, PgConnCloser>;
using Rows = std::vector<std::vector<std::string>>;

Connection connect(const std::string& uri) { return Connection(PQconnectdb(uri.c_str())); }

// Runs one statement with text parameters; the rows it returns as text (a failure fails the test).
Rows query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const std::string& param : params) values.push_back(param.c_str());
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
      &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
    return {};
  }
  Rows rows(PQntuples(result.get()));
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    for (int column = 0; column < PQnfields(result.get()); ++column) {
      rows[row].push_back(PQgetvalue(result.get(), row, column));
    }
  }
  return rows;
}

TEST(PgServer, HasPgvector080) {
  Connection conn = connect(pg_test_server().uri());
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  EXPECT_EQ(query(conn.get(), "SELECT extversion FROM pg_extension WHERE extname = 'vector'"), (Rows{{"0.8.0"}}));
  EXPECT_EQ(query(conn.get(), "SELECT current_user, current_database()"), (Rows{{"facesearch", "facesearch"}}));
}

TEST(PgServer, HnswCosineIndexRanksNearestFirst) {
  PgTestServer& server = pg_test_server();
  const std::string uri = server.create_database();
  Connection conn = connect(uri);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  query(conn.get(), "CREATE TABLE faces (id integer PRIMARY KEY, embedding vector(3) NOT NULL)");
  query(conn.get(), "CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_cosine_ops)");
  // Cosine distances to [1,0,0]: 1 -> 0, 5 -> 0.00125, 2 -> 0.29289, 3 -> 1, 4 -> 2.
  query(conn.get(), "INSERT INTO faces VALUES (1, '[1,0,0]'), (2, '[1,1,0]'), (3, '[0,1,0]'), (4, '[-1,0,0]'), "
                    "(5, '[2,0.1,0]')");
  // Five rows would be read in full: make the planner walk the index, as it will on a real library.
  query(conn.get(), "SET enable_seqscan = off");
  const std::string nearest = "SELECT id, round((embedding <=> $1::vector)::numeric, 5) FROM faces "
                              "ORDER BY embedding <=> $1::vector LIMIT 4";
  const Rows plan = query(conn.get(), "EXPLAIN " + nearest, {"[1,0,0]"});
  std::string plan_text;
  for (const auto& row : plan) plan_text += row.at(0) + "\n";
  EXPECT_NE(plan_text.find("Index Scan using faces_embedding_hnsw"), std::string::npos) << plan_text;
  EXPECT_EQ(query(conn.get(), nearest, {"[1,0,0]"}),
            (Rows{{"1", "0.00000"}, {"5", "0.00125"}, {"2", "0.29289"}, {"3", "1.00000"}}));
  conn.reset();
  server.drop_database(uri);
}

TEST(PgServer, TcpNeedsThePassword) {
  const std::string tcp_uri = pg_test_server().tcp_uri();
  Connection conn = connect(tcp_uri);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  EXPECT_EQ(query(conn.get(), "SELECT current_user, host(inet_server_addr())"), (Rows{{"facesearch", "127.0.0.1"}}));

  // A later keyword overrides the URI's password.
  const char* keywords[] = {"dbname", "password", nullptr};
  const char* values[] = {tcp_uri.c_str(), "not-the-password", nullptr};
  Connection wrong(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  EXPECT_EQ(PQstatus(wrong.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(wrong.get())).find("password authentication failed for user \"facesearch\""),
            std::string::npos)
      << PQerrorMessage(wrong.get());
}

TEST(PgServer, CreatedDatabasesAreFreshAndHaveTheExtension) {
  PgTestServer& server = pg_test_server();
  const std::string first = server.create_database();
  const std::string second = server.create_database();
  ASSERT_NE(first, second);
  std::vector<std::string> names;
  for (const std::string& uri : {first, second}) {
    Connection conn = connect(uri);
    ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << uri << ": " << PQerrorMessage(conn.get());
    names.push_back(PQdb(conn.get()));
    EXPECT_NE(names.back(), "facesearch");
    EXPECT_EQ(query(conn.get(), "SELECT extversion FROM pg_extension WHERE extname = 'vector'"), (Rows{{"0.8.0"}}));
    EXPECT_EQ(query(conn.get(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), (Rows{{"0"}}));
    query(conn.get(), "CREATE TABLE faces (id integer PRIMARY KEY, embedding vector(3))");
  }

  server.drop_database(first);       // by URI
  server.drop_database(names.at(1));  // by name
  for (const std::string& uri : {first, second}) {
    Connection conn = connect(uri);
    EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD) << uri;
    EXPECT_NE(std::string(PQerrorMessage(conn.get())).find("does not exist"), std::string::npos)
        << PQerrorMessage(conn.get());
  }
  server.drop_database(first);  // gone already: fine
  EXPECT_THROW(server.drop_database("facesearch"), std::invalid_argument);
}

}  // namespace
}  // namespace facesearch::testing
