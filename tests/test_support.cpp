#include "test_support.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "library/library.h"

namespace facesearch::testing {

void index_new_library(const std::filesystem::path& db, std::span<const std::filesystem::path> roots,
                       const std::string& pack) {
  IndexRequest request;
  request.pack.name = pack;
  std::optional<Library> library = Library::open_for_indexing(db, request, /*create=*/true);
  if (!library) throw std::runtime_error("index_new_library: cancelled");
  IndexOptions options;
  options.jobs = 2;
  library->index(roots, options);
}

std::filesystem::path testdata_dir() {
  const char* root = std::getenv("FACESEARCH_TEST_ROOT");
  std::filesystem::path base = root ? std::filesystem::path(root) : std::filesystem::current_path();
  return base / ".." / "shared" / "testdata";
}

ScopedEnv::ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value) {
    setenv(name, value->c_str(), 1);
  } else {
    unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    setenv(name_, old_->c_str(), 1);
  } else {
    unsetenv(name_);
  }
}

std::filesystem::path models_dir() {
  if (const char* env = std::getenv("FACESEARCH_MODELS"); env && *env) return env;
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data)
    return std::filesystem::path(data) / "facesearch" / "models" / "dlib-faceapi";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : ".") / ".local" / "share" / "facesearch" / "models" / "dlib-faceapi";
}

void expect_error(const std::function<void()>& action, ErrorCode code, const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "expected an Error (" << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << "'" << fragment << "' not in: " << e.what();
    }
  }
}

void DefaultPipelineSuite::SetUpTestSuite() {
  pack_ = std::make_unique<ModelPack>(load_model_pack(models_dir()));
  pipeline_ = std::make_unique<FacePipeline>(*pack_, RuntimeOptions{});
}

void DefaultPipelineSuite::TearDownTestSuite() {
  pipeline_.reset();
  pack_.reset();
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "facesearch-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed in " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

}  // namespace facesearch::testing
