// The CLI's wording of the core's remedies (core/error.h): the commands and flags a user types.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "library/library.h"

namespace facesearch::cli {

// Text that follows the core's message ("; build one first with `facesearch index FOLDER`"), "" for
// Remedy::kNone. `command`: the subcommand that failed ("search", "index", ...), for remedies whose
// wording depends on it.
std::string remedy_text(const Hint& hint, std::string_view command);

// The warning of an unfinished `index --rebuild`, with the way to finish it: the core's
// rebuild_warning() and its remedy (Remedy::kFinishRebuild) in the CLI's words.
std::string describe_rebuild(const RebuildProgress& rebuild);

}  // namespace facesearch::cli
