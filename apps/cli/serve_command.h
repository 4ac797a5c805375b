// `facesearch serve`: the library as a local web page and JSON API (apps/server, docs/API.md), until
// Ctrl-C.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct ServeArgs {
  std::string db;  // empty: FACESEARCH_DB, then the default library
  std::string host = "127.0.0.1";
  int port = 8765;
  std::string token;  // empty: none on loopback, one generated for other hosts
  int jobs = 4;       // heavy requests at once
  std::string cache_dir;   // empty: ${XDG_CACHE_HOME:-~/.cache}/facesearch/images
  std::uint64_t cache_mb = 512;  // 0: no disk cache of crops and photos
};

CLI::App* add_serve_command(CLI::App& app, ServeArgs& args);

// After parsing: unknown options. Throws a CLI::ParseError.
void check_serve_args(const CLI::App& serve, const ServeArgs& args);

// Serves until SIGINT/SIGTERM; returns 130/143. Throws facesearch::Error (no library, address in use).
int run_serve(const ServeArgs& args);

}  // namespace facesearch::cli
