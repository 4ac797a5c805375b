#include "pg_test_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace facesearch::testing {
namespace {

constexpr const char* kSetupHint =
    "run `make setup` (tools/setup.sh installs PostgreSQL 15 and builds pgvector 0.8.0 into it)";
// create_database's names; drop_database drops no other.
constexpr const char* kDatabasePrefix = "facesearch_test_";

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConnection = std::unique_ptr<PGconn, PgConnCloser>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultClearer>;

PgConnection connect_admin(const std::string& uri) {
  PgConnection conn(PQconnectdb(uri.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test PostgreSQL server at " + uri + ": " +
                             (conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);  // "does not exist, skipping" and such
  return conn;
}

// SQLSTATE of a failed statement, "" when it succeeded.
std::string run_statement(PGconn* conn, const std::string& sql) {
  PgResultPtr result(PQexec(conn, sql.c_str()));
  if (result && PQresultStatus(result.get()) == PGRES_COMMAND_OK) return "";
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  return state ? state : "?????";
}

void run_statement_or_throw(PGconn* conn, const std::string& sql) {
  if (!run_statement(conn, sql).empty()) {
    throw std::runtime_error("test PostgreSQL server: `" + sql + "` failed: " + PQerrorMessage(conn));
  }
}

std::string quote_identifier(PGconn* conn, const std::string& name) {
  std::unique_ptr<char, decltype(&PQfreemem)> quoted(PQescapeIdentifier(conn, name.data(), name.size()), &PQfreemem);
  if (!quoted) throw std::runtime_error(std::string("PQescapeIdentifier failed: ") + PQerrorMessage(conn));
  return quoted.get();
}

std::string read_first_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line) || line.empty()) throw std::runtime_error("cannot read " + file.string());
  return line;
}

struct CommandResult {
  int exit_status;  // -1: did not run or did not exit normally
  std::string output;
};

// Runs argv with stdout and stderr captured and no other descriptor of this process inherited: the server
// that tests/pg_cluster.sh leaves running must not hold this process's sockets or files open.
CommandResult run_command(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  CommandResult result{-1, ""};
  if (spawned != 0) {
    close(fds[0]);
    result.output = "cannot run " + argv[0] + ": " + std::strerror(spawned);
    return result;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

std::filesystem::path cluster_script() {
  const char* root = std::getenv("FACESEARCH_TEST_ROOT");
  return (root && *root ? std::filesystem::path(root) : std::filesystem::current_path()) / "tests" / "pg_cluster.sh";
}

}  // namespace

// Owns the process's server: made on first use, stopped at exit if this process started it.
class PgTestServerHolder {
 public:
  static PgTestServerHolder& instance() {
    static PgTestServerHolder holder;
    return holder;
  }

  PgTestServer& server() {
    std::call_once(started_, [this] {
      try {
        open_or_start();
      } catch (const std::exception& e) {
        error_ = e.what();
      }
    });
    if (!server_) throw std::runtime_error(error_);
    return *server_;
  }

 private:
  void open_or_start() {
    if (const char* fixture = std::getenv("FACESEARCH_TEST_PG_DIR"); fixture && *fixture) {
      const std::filesystem::path dir(fixture);
      if (std::filesystem::exists(dir / "uri") && PQping(read_first_line(dir / "uri").c_str()) == PQPING_OK) {
        server_.reset(new PgTestServer(dir, /*owned=*/false));
        return;
      }
      std::cerr << "[pg_test_server] no running cluster in FACESEARCH_TEST_PG_DIR=" << fixture
                << ": starting one for this process\n";
    }
    const std::filesystem::path script = cluster_script();
    if (!std::filesystem::exists(script)) {
      throw std::runtime_error(script.string() +
                               " not found: run the tests from the repository root or set FACESEARCH_TEST_ROOT");
    }
    std::string dir = (std::filesystem::temp_directory_path() / "facesearch-pg-XXXXXX").string();
    if (!mkdtemp(dir.data())) throw std::runtime_error("mkdtemp failed for " + dir + ": " + std::strerror(errno));
    // --watch: the script stops the server once this process is gone, also when it is killed before exit.
    const CommandResult started =
        run_command({"bash", script.string(), "start", dir, "--watch", std::to_string(getpid())});
    if (started.exit_status != 0) {
      std::error_code ignored;
      std::filesystem::remove(dir, ignored);  // start removes what it made, an empty folder aside
      std::string message = "the test PostgreSQL server did not start (tests/pg_cluster.sh start " + dir + "):\n" +
                            started.output;
      if (message.find("make setup") == std::string::npos) {
        message += "If PostgreSQL 15 or pgvector is missing, " + std::string(kSetupHint) + ".";
      }
      throw std::runtime_error(message);
    }
    server_.reset(new PgTestServer(dir, /*owned=*/true));
    owner_pid_ = getpid();
    std::atexit([] { instance().stop(); });
    std::cerr << "[pg_test_server] PostgreSQL started in " << dir << "\n";
  }

  // At exit, also after failed tests. A child forked by a test runs atexit handlers too: only the process
  // that started the server stops it.
  void stop() {
    if (!server_ || !server_->owned_ || owner_pid_ != getpid()) return;
    const CommandResult stopped = run_command({"bash", cluster_script().string(), "stop", server_->dir_.string()});
    if (stopped.exit_status != 0) {
      std::cerr << "[pg_test_server] stopping " << server_->dir_ << " failed:\n" << stopped.output;
    }
    server_.reset();
  }

  std::once_flag started_;
  std::unique_ptr<PgTestServer> server_;
  std::string error_;
  pid_t owner_pid_ = 0;
};

PgTestServer::PgTestServer(std::filesystem::path dir, bool owned)
    : dir_(std::move(dir)),
      owned_(owned),
      uri_(read_first_line(dir_ / "uri")),
      tcp_uri_(read_first_line(dir_ / "uri_tcp")) {}

std::string PgTestServer::create_database() {
  const std::string name = kDatabasePrefix + std::to_string(getpid()) + "_" + std::to_string(++databases_made_);
  PgConnection admin = connect_admin(uri_);
  const std::string create = "CREATE DATABASE " + quote_identifier(admin.get(), name);
  std::string state = run_statement(admin.get(), create);
  if (state == "42P04") {
    // duplicate_database: left by an earlier process with the same pid, which is gone.
    run_statement_or_throw(admin.get(), "DROP DATABASE " + quote_identifier(admin.get(), name) + " WITH (FORCE)");
    state = run_statement(admin.get(), create);
  }
  if (!state.empty()) {
    throw std::runtime_error("test PostgreSQL server: `" + create + "` failed: " + PQerrorMessage(admin.get()));
  }
  // uri_ is postgresql://facesearch@/facesearch?host=...&port=...: swap the database.
  const size_t path = uri_.find("@/") + 2, query = uri_.find('?', path);
  return uri_.substr(0, path) + name + uri_.substr(query);
}

void PgTestServer::drop_database(const std::string& uri_or_name) {
  std::string name = uri_or_name;
  if (uri_or_name.find("://") != std::string::npos) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(uri_or_name.c_str(), &error),
                                                                         &PQconninfoFree);
    if (!options) {
      std::string message = error ? error : "out of memory";
      PQfreemem(error);
      throw std::invalid_argument("drop_database: not a connection URI: " + uri_or_name + ": " + message);
    }
    name.clear();
    for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
      if (std::string(option->keyword) == "dbname" && option->val) name = option->val;
    }
  }
  if (name.rfind(kDatabasePrefix, 0) != 0) {
    throw std::invalid_argument("drop_database drops only databases made by create_database, not '" + name + "'");
  }
  PgConnection admin = connect_admin(uri_);
  run_statement_or_throw(admin.get(),
                         "DROP DATABASE IF EXISTS " + quote_identifier(admin.get(), name) + " WITH (FORCE)");
}

PgTestServer& pg_test_server() { return PgTestServerHolder::instance().server(); }

}  // namespace facesearch::testing
