// `facesearch people [list] | show | name | merge | move | reject | hide | unhide | recluster`: the people
// the library's faces are grouped into (library/library.h, "People"), and every correction a user makes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct PeopleArgs {
  std::string db;
  std::string format = "table";
  bool all = false;         // list: hidden people too
  bool faces = false;       // list: every person's faces
  std::string person;       // show, name, hide, unhide: ID or NAME
  std::string new_name;     // name
  std::vector<std::string> merge;  // merge: ID|NAME ...
  std::string face_id;      // move, reject
  std::string target;       // move: ID|NAME|new
  std::optional<int> min_faces;     // recluster
  std::optional<float> threshold;   // recluster
  CLI::App* people = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* name = nullptr;
  CLI::App* merge_cmd = nullptr;
  CLI::App* move = nullptr;
  CLI::App* reject = nullptr;
  CLI::App* hide = nullptr;
  CLI::App* unhide = nullptr;
  CLI::App* recluster = nullptr;
};

CLI::App* add_people_command(CLI::App& app, PeopleArgs& args);

// After parsing: unknown options. Throws a CLI::ParseError.
void check_people_args(const CLI::App& people, const PeopleArgs& args);

// Runs the chosen action; returns 0. Throws facesearch::Error.
int run_people(const PeopleArgs& args);

}  // namespace facesearch::cli
