// facesearch: the command line front end. Parses flags, calls the core, and is the one place where
// failures become exit statuses: usage errors 2, everything that stops a command from running 1
// (output that could not be written included), a signal 128 + its number (interrupt.h).
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "core/error.h"
#include "faces_command.h"
#include "index_command.h"
#include "models_command.h"
#include "people_command.h"
#include "remedies.h"
#include "search_command.h"
#include "serve_command.h"
#include "status_command.h"
#include "stdout_buffer.h"
#include "terminal_text.h"
#include "core/process_memory.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kDescription =
    "facesearch " FACESEARCH_VERSION " - find every photo of a person in your folders, on your own machine";

constexpr const char* kFooter = R"(A typical workflow:
  facesearch index ~/Pictures              # once: finds and remembers every face (minutes)
  facesearch search --query me.jpg         # then: every photo of you, in milliseconds
  facesearch index                         # after adding photos: only the new ones are read
  facesearch faces ~/Pictures/party.jpg    # the faces of one photo, with their ids...
  facesearch search --face-id 1234         # ...and more photos of one of them
  facesearch people                        # the people the faces are grouped into
  facesearch people name 12 Anna           # ...name one, then: facesearch search --person Anna
  facesearch status                        # what the library holds, files that could not be read
  facesearch models list                   # the face model packs: default, InsightFace's, added ones
  facesearch serve                         # the library as a web page: http://127.0.0.1:8765/

Without a library, search folders directly (every photo is read each time):
  facesearch search --query me.jpg --target ~/Pictures

Run 'facesearch COMMAND --help' for every option, what the similarity score means, where the
library and the face models are kept, and the exit statuses (0 ran, 1 could not run or could not
write its output, 2 usage error, 130 Ctrl-C, 143 SIGTERM). A closed pipe (`| head`) ends facesearch
quietly, as it does other tools.
)";

// A usage error names the flag and where to read about it, on one line.
std::string usage_failure_message(const CLI::App* app, const CLI::Error& e) {
  std::string command;  // the chain of subcommands given, e.g. "models show "
  for (const CLI::App* sub = app; !sub->get_subcommands().empty();) {
    sub = sub->get_subcommands().front();
    command += sub->get_name() + " ";
  }
  // What CLI11 quotes comes from the command line: a name there may hold control characters too.
  return "facesearch: error: " + facesearch::cli::printable(e.what()) + " (see 'facesearch " + command +
         "--help')\n";
}

// What to do about an error, when the core's message cannot know it (it does not know the flags).
std::string hint_for(facesearch::ErrorCode code, const std::string& command) {
  switch (code) {
    case facesearch::ErrorCode::kNoFace:
      return "try another photo in which the face is clear and turned to the camera";
    case facesearch::ErrorCode::kInvalidArgument:
      return "see 'facesearch " + command + " --help'";
    default:
      return {};
  }
}

// The one mapping from the core's error codes to exit statuses.
int exit_status_for(facesearch::ErrorCode code) {
  return code == facesearch::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

// A subcommand: its parsed App, the checks that follow parsing, and what runs it.
struct Command {
  CLI::App* app;
  std::function<void()> check;  // throws CLI::ParseError
  std::function<int()> run;     // throws facesearch::Error
};

// Parses the command line and runs the command: its exit status.
int run_command_line(int argc, char** argv) {
  namespace cli = facesearch::cli;
  CLI::App app{kDescription, "facesearch"};
  app.set_version_flag("--version", "facesearch " FACESEARCH_VERSION);
  app.require_subcommand(0, 1);
  app.failure_message(usage_failure_message);

  cli::IndexArgs index_args;
  cli::SearchArgs search_args;
  cli::FacesArgs faces_args;
  cli::StatusArgs status_args;
  cli::ModelsArgs models_args;
  cli::ServeArgs serve_args;
  cli::PeopleArgs people_args;
  std::vector<Command> commands;
  CLI::App* index = cli::add_index_command(app, index_args);
  commands.push_back({index, [&] { cli::check_index_args(*index, index_args); }, [&] { return cli::run_index(index_args); }});
  CLI::App* search = cli::add_search_command(app, search_args);
  commands.push_back(
      {search, [&] { cli::check_search_args(*search, search_args); }, [&] { return cli::run_search(search_args); }});
  CLI::App* faces = cli::add_faces_command(app, faces_args);
  commands.push_back({faces, [&] { cli::check_faces_args(*faces, faces_args); }, [&] { return cli::run_faces(faces_args); }});
  CLI::App* people = cli::add_people_command(app, people_args);
  commands.push_back(
      {people, [&] { cli::check_people_args(*people, people_args); }, [&] { return cli::run_people(people_args); }});
  CLI::App* status = cli::add_status_command(app, status_args);
  commands.push_back(
      {status, [&] { cli::check_status_args(*status, status_args); }, [&] { return cli::run_status(status_args); }});
  CLI::App* models = cli::add_models_command(app, models_args);
  commands.push_back(
      {models, [&] { cli::check_models_args(*models, models_args); }, [&] { return cli::run_models(models_args); }});
  CLI::App* serve = cli::add_serve_command(app, serve_args);
  commands.push_back({serve, [&] { cli::check_serve_args(*serve, serve_args); }, [&] { return cli::run_serve(serve_args); }});
  app.footer(kFooter);  // after the subcommands, which would otherwise inherit it

  const Command* chosen = nullptr;
  try {
    app.parse(argc, argv);
    for (const Command& command : commands) {
      if (command.app->parsed()) chosen = &command;
    }
    if (chosen) chosen->check();
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, with status 0.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (!chosen) {
    std::cerr << app.help();
    return kExitUsage;
  }

  int exit_status = kExitFailure;
  try {
    exit_status = chosen->run();
  } catch (const facesearch::Error& e) {
    // The core's messages quote file names, which may hold control characters.
    std::string message = cli::printable(e.what()) + cli::remedy_text(e.hint(), chosen->app->get_name());
    if (const std::string hint = hint_for(e.code(), chosen->app->get_name()); !hint.empty()) {
      message += " (" + hint + ")";
    }
    std::cerr << "facesearch: error: " << message << '\n';
    exit_status = exit_status_for(e.code());
  } catch (const std::exception& e) {
    // Not a facesearch::Error: a bug or resource exhaustion, never a silent success.
    std::cerr << "facesearch: error: unexpected failure: " << cli::printable(e.what()) << '\n';
    exit_status = kExitFailure;
  }
  return exit_status;
}

// Commands that analyse no photo and read no vectors in bulk (listing a photo's faces, the library's
// status, help and version) start once: the second start for huge pages costs 0.1 s (the ~150 shared
// libraries OpenCV's codecs and ONNX Runtime bring are loaded again) and would save nothing there.
bool wants_huge_pages(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string_view command = argv[1];
  return command != "faces" && command != "status" && command != "--version" && command != "--help" &&
         command != "-h";
}

}  // namespace

int main(int argc, char** argv) {
  if (wants_huge_pages(argc, argv)) facesearch::use_huge_pages(argv);
  facesearch::bound_heap_retention();
  // Every command writes its results through std::cout; this buffer keeps the errno of a failed write.
  facesearch::cli::StdoutBuffer stdout_buffer(STDOUT_FILENO);
  std::streambuf* const previous = std::cout.rdbuf(&stdout_buffer);
  int exit_status = run_command_line(argc, argv);
  // Results that did not reach their file are a failure, whatever the command thought (`> /dev/full`).
  // A closed pipe does not get here: SIGPIPE ends the process first, quietly, as `cat` or `grep` end
  // under `| head`.
  if (const int error = stdout_buffer.finish(); error != 0) {
    std::cerr << "facesearch: error: cannot write the output (" << std::strerror(error)
              << "); check the disk or the file it goes to\n";
    if (exit_status == 0) exit_status = kExitFailure;
  }
  std::cout.rdbuf(previous);
  return exit_status;
}
