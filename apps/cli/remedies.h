// The CLI's wording of the core's remedies (core/error.h): the commands and flags a user types.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace facesearch::cli {

// Text that follows the core's message ("; build one first with `facesearch index FOLDER`"), "" for
// Remedy::kNone. `command`: the subcommand that failed ("search", "index", ...), for remedies whose
// wording depends on it.
std::string remedy_text(const Hint& hint, std::string_view command);

}  // namespace facesearch::cli
