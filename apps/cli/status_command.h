// `facesearch status`: what the library holds: where it is, its size, the models that made it, the
// folders, images and faces, when it was last updated, and the files that could not be read.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct StatusArgs {
  std::string db;  // empty: FACESEARCH_DB, then the default library
  std::string format = "table";
};

CLI::App* add_status_command(CLI::App& app, StatusArgs& args);

// After parsing: unknown options. Throws a CLI::ParseError.
void check_status_args(const CLI::App& status, const StatusArgs& args);

// Prints the status; returns 0. Throws facesearch::Error (no library: kNotFound).
int run_status(const StatusArgs& args);

}  // namespace facesearch::cli
