// Shared helpers for the test suite: where the shared test data and the model pack live.
#pragma once

#include <filesystem>
#include <optional>
#include <functional>
#include <span>
#include <vector>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/model_pack.h"
#include "pipeline/face_pipeline.h"

namespace facesearch::testing {

// ../shared/testdata relative to the repository root (tests run with the root as working directory).
std::filesystem::path testdata_dir();

// Folder of the dlib-faceapi pack, the one whose stages (SSD, 68 landmarks, dlib chips) most tests
// exercise and that libraries built before issue 13 use: $FACESEARCH_MODELS, else where the set-up
// builds it. (The default pack, mobilefacenet-faceapi, shares its detectors and landmarks.)
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

// Runs `action`, expects facesearch::Error with `code` and a message containing every fragment.
void expect_error(const std::function<void()>& action, ErrorCode code, const std::vector<std::string>& fragments);

// Sets (or, with nullopt, unsets) an environment variable for one test, and restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Indexes `roots` into a new library at `db` with the pack named `pack` (two workers), as
// `facesearch index --model PACK` does; for tests that need a library to search.
void index_new_library(const std::filesystem::path& db, std::span<const std::filesystem::path> roots,
                       const std::string& pack = kDefaultPackName);

// A suite whose tests share the default model pack and one pipeline over it, loaded once per suite
// (loading the ONNX models takes about a second).
class DefaultPipelineSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static inline std::unique_ptr<ModelPack> pack_;
  static inline std::unique_ptr<FacePipeline> pipeline_;
};

}  // namespace facesearch::testing
