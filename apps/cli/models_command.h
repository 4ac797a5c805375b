// `facesearch models list | show NAME | add FOLDER|ZIP|URL | verify NAME | remove NAME`: the model packs a user has
// (installed ones and InsightFace packs found in ~/.insightface/models), what each one is, adding one,
// checking one's files, and removing an installed one.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct ModelsArgs {
  std::string name;       // show / verify
  std::string source;     // add
  std::string sha256;     // add --sha256
  std::string as_name;    // add --name
  bool replace = false;   // add --replace
  bool quiet = false;     // add --quiet
  std::string format = "table";
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* add = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* remove = nullptr;
};

CLI::App* add_models_command(CLI::App& app, ModelsArgs& args);

// After parsing: unknown options. Throws a CLI::ParseError.
void check_models_args(const CLI::App& models, const ModelsArgs& args);

// Runs the chosen action; returns 0, or 1 when `verify` finds a problem. Throws facesearch::Error.
int run_models(const ModelsArgs& args);

}  // namespace facesearch::cli
