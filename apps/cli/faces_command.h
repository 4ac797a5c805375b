// `facesearch faces PHOTO`: the faces the library holds for one photo, with the ids that
// `facesearch search --face-id` takes.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace facesearch::cli {

struct FacesArgs {
  std::string photo;
  std::string db;  // empty: FACESEARCH_DB, then the default library
  std::string format = "table";
};

CLI::App* add_faces_command(CLI::App& app, FacesArgs& args);

// After parsing: unknown options, then a missing PHOTO. Throws a CLI::ParseError.
void check_faces_args(const CLI::App& faces, const FacesArgs& args);

// Prints the photo's faces; returns 0. Throws facesearch::Error: kNotFound for a photo that is not in
// the library (or no library).
int run_faces(const FacesArgs& args);

}  // namespace facesearch::cli
