// facesearch: the command line front end. Parses flags, calls the core, and is the one place where
// failures become exit statuses: usage errors 2, everything that stops a command from running 1.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "search_command.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kDescription =
    "facesearch " FACESEARCH_VERSION " - find every photo of a person in your folders, on your own machine";

constexpr const char* kFooter = R"(Examples:
  facesearch search --query me.jpg --target ~/Pictures
  facesearch search -q me.jpg -t ~/Pictures -t ~/Phone --format json > matches.json

Run 'facesearch search --help' for every option, what the similarity score means, where the face
models are found, and the exit statuses (0 ran, 1 could not run, 2 usage error, 130 Ctrl-C).
)";

// A usage error names the flag and where to read about it, on one line.
std::string usage_failure_message(const CLI::App* app, const CLI::Error& e) {
  const bool in_subcommand = !app->get_subcommands().empty();
  return std::string("facesearch: error: ") + e.what() + " (see 'facesearch " +
         (in_subcommand ? app->get_subcommands().front()->get_name() + " " : std::string()) + "--help')\n";
}

// What to do about an error, when the core's message cannot know it (it does not know the flags).
const char* hint_for(facesearch::ErrorCode code) {
  switch (code) {
    case facesearch::ErrorCode::kNoFace:
      return "try another photo in which the face is clear and turned to the camera";
    case facesearch::ErrorCode::kInvalidArgument:
      return "see 'facesearch search --help'";
    default:
      return nullptr;
  }
}

// The one mapping from the core's error codes to exit statuses.
int exit_status_for(facesearch::ErrorCode code) {
  return code == facesearch::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "facesearch"};
  app.set_version_flag("--version", "facesearch " FACESEARCH_VERSION);
  app.require_subcommand(0, 1);
  app.failure_message(usage_failure_message);

  facesearch::cli::SearchArgs search_args;
  CLI::App* search = facesearch::cli::add_search_command(app, search_args);
  app.footer(kFooter);  // after the subcommand, which would otherwise inherit it

  try {
    app.parse(argc, argv);
    if (search->parsed()) facesearch::cli::check_search_args(*search, search_args);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, with status 0.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (!search->parsed()) {
    std::cerr << app.help();
    return kExitUsage;
  }

  try {
    return facesearch::cli::run_search(search_args);
  } catch (const facesearch::Error& e) {
    std::string message = e.what();
    if (const char* hint = hint_for(e.code())) message += std::string(" (") + hint + ")";
    std::cerr << "facesearch: error: " << message << '\n';
    return exit_status_for(e.code());
  } catch (const std::exception& e) {
    // Not a facesearch::Error: a bug or resource exhaustion, never a silent success.
    std::cerr << "facesearch: error: unexpected failure: " << e.what() << '\n';
    return kExitFailure;
  }
}
