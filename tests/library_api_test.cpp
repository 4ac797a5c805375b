// The core's one API for front ends (src/library/library.h): a library written by the release before it
// opens unchanged and answers as it did, and the rules the CLI used to hold (which pack, a missing
// library, the side files after an index run) hold for any caller.
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "library/library.h"
#include "test_support.h"

namespace facesearch {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

const fs::path kOldLibrary = "tests/data/library_v1";

fs::path people(const std::string& rel) { return testing::testdata_dir() / "faces" / "people" / rel; }

// "people/NAME/FILE" of a stored absolute path: the machine that wrote the library had its own prefix.
std::string under_people(const fs::path& path) {
  const std::string s = path.generic_string();
  const auto at = s.rfind("/people/");
  return at == std::string::npos ? s : s.substr(at + 1);
}

// The rows of a `search --format csv` the old release wrote: "people/NAME/FILE" -> similarity.
std::map<std::string, double> old_matches(const std::string& csv_name) {
  std::ifstream in(kOldLibrary / csv_name);
  EXPECT_TRUE(in) << csv_name;
  std::map<std::string, double> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string path, similarity;
    std::getline(row, path, ',');
    std::getline(row, similarity, ',');
    out[under_people(path)] = std::stod(similarity);
  }
  return out;
}

std::map<std::string, double> matches_of(const SearchReport& report) {
  std::map<std::string, double> out;
  for (const Match& m : report.matches) out[under_people(m.path)] = m.similarity;
  return out;
}

void expect_same_matches(const std::map<std::string, double>& want, const std::map<std::string, double>& got,
                         double tolerance, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  for (const auto& [path, similarity] : want) {
    const auto it = got.find(path);
    ASSERT_NE(it, got.end()) << what << ": " << path << " is missing";
    EXPECT_NEAR(it->second, similarity, tolerance) << what << ": " << path;
  }
}

class LibraryApi : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = tmp_.path() / "library.db";
    for (const char* name : {"library.db", "library.db.vectors"})
      fs::copy_file(kOldLibrary / name, tmp_.path() / name);
  }
  SearchRequest request() const {
    SearchRequest r;
    r.pack.models_dir = testing::models_dir();
    return r;
  }
  TempDir tmp_;
  fs::path db_;
};

TEST_F(LibraryApi, ALibraryWrittenByThePreviousReleaseOpensAndAnswersAsItDid) {
  {
    const Library library = Library::open_for_reading(db_);
    library.check_integrity();
    const LibraryStatus status = library.status();
    EXPECT_EQ(status.images, 10);
    EXPECT_EQ(status.faces, 10);
    EXPECT_EQ(status.model_name, "dlib-faceapi");
    EXPECT_EQ(status.roots.size(), 3u);
    const PhotoFaces photo = library.faces_of_photo(status.roots.front() / "lfw_Tony_Blair_0001.jpg");
    ASSERT_EQ(photo.faces.size(), 1u);
    EXPECT_EQ(photo.faces[0].id, 2);
  }
  const Library library = Library::open_for_search(db_, request());
  // Its LIBRARY.vectors is taken for current: the side file format and its binding to the catalog
  // did not change.
  EXPECT_TRUE(library.search_context().side_file_warnings.empty());
  EXPECT_EQ(library.search_context().index_kind, "exact");
  {
    Catalog catalog = Catalog::open(db_, *library.pack(), Catalog::Mode::kReadOnly);
    std::vector<std::int64_t> ids;
    std::vector<float> vectors;
    EXPECT_TRUE(load_current_vectors(catalog, library.pack()->embedder.dim, ids, vectors));
    EXPECT_EQ(ids.size(), 10u);
  }

  SearchOptions all;
  all.threshold = 0;
  // Stored embeddings only: the same numbers, to the CSV's six decimals.
  expect_same_matches(old_matches("face2.csv"), matches_of(library.search_face(2, all)), 1e-5, "face 2");
  // Photo queries run today's pipeline on the query: the same photos, similarities within 0.01. The
  // library leaves the query photo out only where it holds it at the query's own path: on the machine
  // that wrote it; on one whose testdata lives elsewhere, its stored copy is found as itself.
  std::map<std::string, double> tony = matches_of(library.search_photo(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"), {}));
  if (const auto self = tony.find("people/Tony_Blair/lfw_Tony_Blair_0001.jpg"); self != tony.end()) {
    EXPECT_GT(self->second, 0.99) << "the query photo's stored copy";
    tony.erase(self);
  }
  expect_same_matches(old_matches("tony_q.csv"), tony, 0.01, "Tony Blair's photo");
  expect_same_matches(old_matches("obama.csv"), matches_of(library.search_photo(people("obama/fr_knn_test_obama1.jpg"), all)),
                      0.01, "Obama's photo, every face");

  // Nothing was written: the files are byte for byte the old release's.
  for (const char* name : {"library.db", "library.db.vectors"}) {
    std::ifstream a(kOldLibrary / name, std::ios::binary), b(tmp_.path() / name, std::ios::binary);
    const std::string want((std::istreambuf_iterator<char>(a)), {}), got((std::istreambuf_iterator<char>(b)), {});
    EXPECT_TRUE(want == got) << name << " changed";
  }
}

TEST_F(LibraryApi, AMissingLibraryIsNotFoundWithTheRemedyAsData) {
  const fs::path missing = tmp_.path() / "none" / "library.db";
  for (const auto& open : std::vector<std::function<void()>>{
           [&] { Library::open_for_reading(missing); }, [&] { Library::open_for_search(missing, request()); }}) {
    try {
      open();
      ADD_FAILURE() << "opened a library that is not there";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
      EXPECT_EQ(e.hint().remedy, Remedy::kIndexFirst);
      EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << "a core message names a flag: " << e.what();
    }
  }
  // An update run (no folders) needs a library, and leaves none behind when there is none.
  IndexRequest update;
  update.pack.models_dir = testing::models_dir();
  try {
    Library::open_for_indexing(missing, update, /*create=*/false);
    ADD_FAILURE() << "an update created a library";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.hint().remedy, Remedy::kNameFolders);
  }
  EXPECT_FALSE(fs::exists(missing));
}

// The core's errors say what is wrong in the library's terms, and what to do as data (core/error.h):
// no command, flag or script of a front end in the message.
TEST_F(LibraryApi, CoreErrorsNameNoCommandAndCarryTheirRemedy) {
  const auto expect_error = [](const std::function<void()>& fn, ErrorCode code, Remedy remedy, const char* what) {
    try {
      fn();
      ADD_FAILURE() << what << ": no error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.code(), code) << what << ": " << message;
      EXPECT_EQ(e.hint().remedy, remedy) << what << ": " << message << " [remedy " << remedy_name(e.hint().remedy) << "]";
      for (const char* front_end : {"facesearch ", "`", "--", "setup.sh"})
        EXPECT_EQ(message.find(front_end), std::string::npos) << what << ": the message names '" << front_end
                                                               << "': " << message;
    }
  };
  // A face id the library does not hold: a photo's faces list the ids there are.
  SearchRequest by_id = request();
  by_id.photo_queries = false;
  const Library library = Library::open_for_search(db_, by_id);
  expect_error([&] { library.search_face(999999, {}); }, ErrorCode::kNotFound, Remedy::kListFaceIds, "unknown face id");
  // An update of a library that has no folders yet: name some.
  IndexRequest open;
  open.pack.models_dir = testing::models_dir();
  std::optional<Library> empty = Library::open_for_indexing(tmp_.path() / "empty.db", open, /*create=*/true);
  ASSERT_TRUE(empty);
  const std::vector<fs::path> no_folders;
  expect_error([&] { empty->index(no_folders, IndexOptions{}); }, ErrorCode::kInvalidArgument, Remedy::kNameFolders,
               "update without folders");
  // A pack name that is not installed: the packs there are, and where InsightFace packs go.
  PackRequest unknown;
  unknown.name = "no_such_pack";
  expect_error([&] { choose_model_pack(unknown); }, ErrorCode::kNotFound, Remedy::kListOrAddPacks, "unknown pack");
  try {
    choose_model_pack(unknown);
  } catch (const Error& e) {
    EXPECT_FALSE(e.hint().detail.empty()) << "the InsightFace folder";
  }
}

TEST_F(LibraryApi, IndexingThroughTheLibraryLeavesCurrentSideFilesAndForgetKeepsThemCurrent) {
  const fs::path db = tmp_.path() / "new.db";
  IndexRequest open;
  open.pack.models_dir = testing::models_dir();
  std::optional<Library> library = Library::open_for_indexing(db, open, /*create=*/true);
  ASSERT_TRUE(library);
  const fs::path roots[] = {people("Tony_Blair"), people("biden")};
  IndexOptions options;
  options.jobs = 2;
  const IndexReport report = library->index(roots, options);
  EXPECT_EQ(report.added, 7u);
  EXPECT_GE(report.faces, 7u);

  const auto vectors_current = [&] {
    Catalog catalog = Catalog::open(db, *library->pack(), Catalog::Mode::kReadOnly);
    std::vector<std::int64_t> ids;
    std::vector<float> vectors;
    return load_current_vectors(catalog, library->pack()->embedder.dim, ids, vectors) ? ids.size() : size_t{0};
  };
  EXPECT_EQ(vectors_current(), static_cast<size_t>(library->status().faces));

  const fs::path forget[] = {people("biden")};
  const ForgetReport forgotten = library->forget(forget);
  ASSERT_EQ(forgotten.folders.size(), 1u);
  EXPECT_EQ(forgotten.folders[0].second, 2);
  EXPECT_EQ(library->status().images, 5);
  EXPECT_EQ(vectors_current(), static_cast<size_t>(library->status().faces));

  // A folder the library holds nothing under: not found, with where to look.
  const fs::path nothing[] = {people("obama")};
  try {
    library->forget(nothing);
    ADD_FAILURE() << "forgot a folder that was never indexed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(e.hint().remedy, Remedy::kSeeFolders);
  }
  library.reset();

  // A search through the Library finds the person in what was indexed, and uses the side file.
  const Library search = Library::open_for_search(db, request());
  EXPECT_TRUE(search.search_context().side_file_warnings.empty());
  const SearchReport found = search.search_photo(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"), {});
  EXPECT_EQ(found.matches.size(), 4u);  // the other four photos of him; the query photo itself is left out
  for (const Match& m : found.matches) EXPECT_NE(under_people(m.path).find("Tony_Blair/"), std::string::npos) << m.path;

  // A copy of a library photo elsewhere (an upload, a photo copied out) is the query photo too: its
  // stored original is left out, in the library and in a scan of the folder alike.
  const fs::path copy = tmp_.path() / "elsewhere" / "copy.jpg";
  fs::create_directories(copy.parent_path());
  fs::copy_file(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"), copy);
  const SearchReport by_copy = search.search_photo(copy, {});
  EXPECT_EQ(matches_of(by_copy), matches_of(found));
  FolderSearch scan(request().pack, DetectionStrategy::kAuto);
  const fs::path folder[] = {people("Tony_Blair")};
  const SearchReport scanned = scan.search(copy, folder, {});
  EXPECT_EQ(scanned.matches.size(), 4u);
  for (const Match& m : scanned.matches) EXPECT_NE(m.path.filename(), "lfw_Tony_Blair_0001.jpg");
  SearchOptions with_copies;
  with_copies.include_query_file = true;
  EXPECT_EQ(search.search_photo(copy, with_copies).matches.size(), 5u);
  EXPECT_EQ(scan.search(copy, folder, with_copies).matches.size(), 5u);

  // Another reader of the same library, searching on another thread while this one searches too,
  // shares the networks and the vector index and answers the same.
  const Library reader = search.another_reader();
  EXPECT_EQ(reader.pack()->name, search.pack()->name);
  EXPECT_EQ(reader.search_context().index_kind, search.search_context().index_kind);
  SearchReport from_thread;
  std::thread other([&] { from_thread = reader.search_photo(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"), {}); });
  const SearchReport here = search.search_face(found.matches.front().face_id, {});
  other.join();
  EXPECT_EQ(matches_of(from_thread), matches_of(found));
  EXPECT_FALSE(here.matches.empty());
  EXPECT_EQ(reader.status().faces, search.status().faces);
}

}  // namespace
}  // namespace facesearch
