// Shared helpers for the test suite: where the shared test data and the model pack live.
#pragma once

#include <filesystem>
#include <string>

namespace facesearch::testing {

// ../shared/testdata relative to the repository root (tests run with the root as working directory).
std::filesystem::path testdata_dir();

// Folder of the default model pack: $FACESEARCH_MODELS, else the set-up's default location.
std::filesystem::path models_dir();

}  // namespace facesearch::testing
