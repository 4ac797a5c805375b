// Shared helpers for the test suite: where the shared test data and the model pack live.
#pragma once

#include <filesystem>
#include <string>

namespace facesearch::testing {

// ../shared/testdata relative to the repository root (tests run with the root as working directory).
std::filesystem::path testdata_dir();

// Folder of the default model pack: $FACESEARCH_MODELS, else the set-up's default location.
std::filesystem::path models_dir();

// A fresh temporary folder (mkdtemp), removed with everything in it at the end of the test, also when
// the test made parts of it read-only.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace facesearch::testing
