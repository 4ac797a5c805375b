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

// manifest_fuzz, second finding: a number too large for an int where the manifest wants a whole number
// (an input size of 7.8e35) was cast by nlohmann's get<int>: undefined behaviour, reported by UBSan. Each
// integer field of the real manifest, set to such numbers, is now a model pack error naming the field;
// the fuzzer's input (tests/data/fuzz/manifest_numbers/) too, read next to the real pack's files.
TEST(FuzzRegression, ManifestNumbersOutOfIntRangeAreModelPackErrors) {
  const fs::path dir = testing::models_dir();
  const std::string real = read_text(dir / "manifest.json");
  ASSERT_NO_THROW(model_pack_from_manifest(real, dir, "fuzz/manifest.json"));
  size_t cases = 0;
  for (const std::string field : {"\"max_faces\": ", "\"input_size\": [", "\"size\": ", "\"dim\": ", "\"batch\": "}) {
    const size_t at = real.find(field);
    if (at == std::string::npos) continue;
    const size_t start = real.find_first_not_of(" \n", at + field.size());
    const size_t end = real.find_first_not_of("0123456789", start);
    for (const char* bad : {"7.8e35", "-1e300", "4294967296", "2.5"}) {
      const std::string text = real.substr(0, start) + bad + real.substr(end);
      ++cases;
      try {
        model_pack_from_manifest(text, dir, "fuzz/manifest.json");
        ADD_FAILURE() << field << bad << " accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kModel);
        EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GE(cases, 16u);
  for (const auto& file : fuzz_inputs("manifest_numbers")) {
    try {
      model_pack_from_manifest(read_text(file), dir, "fuzz/manifest.json");
      ADD_FAILURE() << file << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel) << e.what();
    }
  }
}

// manifest_fuzz, third finding: a network "file" whose name the file system refuses (longer than
// NAME_MAX) made std::filesystem::is_regular_file throw filesystem_error past every caller, which ended
// the program. It is a missing file now, named in a model pack error.
TEST(FuzzRegression, ManifestFileNamesTheFileSystemRefusesAreModelPackErrors) {
  testing::TempDir dir;
  std::vector<std::string> manifests;
  for (const auto& file : fuzz_inputs("manifest_names")) manifests.push_back(read_text(file));
  manifests.push_back(R"({"format": "facesearch-model-pack", "detector": {"kind": "ssd_mobilenetv1", "file": ")" +
                      std::string(5000, 'x') + R"("}})");
  ASSERT_GE(manifests.size(), 2u);
  for (const auto& text : manifests) {
    try {
      model_pack_from_manifest(text, dir.path(), "fuzz/manifest.json");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel) << e.what();
      EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace facesearch
