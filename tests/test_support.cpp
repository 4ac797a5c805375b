#include "test_support.h"

#include <cstdlib>

namespace facesearch::testing {

std::filesystem::path testdata_dir() {
  const char* root = std::getenv("FACESEARCH_TEST_ROOT");
  std::filesystem::path base = root ? std::filesystem::path(root) : std::filesystem::current_path();
  return base / ".." / "shared" / "testdata";
}

std::filesystem::path models_dir() {
  if (const char* env = std::getenv("FACESEARCH_MODELS"); env && *env) return env;
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data)
    return std::filesystem::path(data) / "facesearch" / "models" / "dlib-faceapi";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : ".") / ".local" / "share" / "facesearch" / "models" / "dlib-faceapi";
}

}  // namespace facesearch::testing
