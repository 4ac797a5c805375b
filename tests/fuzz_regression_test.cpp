// Inputs that the libFuzzer harnesses (fuzz/) found to crash or misbehave, fed to the same entry points
// through the product's API: each must now give facesearch's own error (or decode), as its promise says.
// The crashing files live in tests/data/fuzz/HARNESS/; docs/RELIABILITY.md lists the findings.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/model_pack.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> fuzz_inputs(const std::string& harness) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path("tests/data/fuzz") / harness)) files.push_back(entry.path());
  return files;
}

// manifest_fuzz: valid JSON that is not an object (`"score_threshold"`), or that has a string where
// the format version goes, escaped as nlohmann's type_error instead of a model pack error.
TEST(FuzzRegression, ManifestsOfTheWrongJsonShapeAreModelPackErrors) {
  testing::TempDir dir;
  std::vector<std::string> manifests = {"[]", "7", "null", "\"facesearch-model-pack\"",
                                        R"({"format": "facesearch-model-pack", "format_version": "2"})",
                                        R"({"format": 1})"};
  for (const auto& file : fuzz_inputs("manifest")) manifests.push_back(read_text(file));
  ASSERT_GE(manifests.size(), 7u);
  for (const auto& text : manifests) {
    try {
      model_pack_from_manifest(text, dir.path(), "fuzz/manifest.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel) << text;
      EXPECT_NE(std::string(e.what()).find("fuzz/manifest.json"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace facesearch
