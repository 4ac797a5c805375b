// Issue 13, part 2: query expansion (the query plus its few confident matches, weighted by
// similarity^3) and several query photos (or face ids) of one person, on the shared search path of
// library and folder search. What a user checks: more of the person's photos found, no strangers
// let in, the same answer from the library and from a scan of the folders, the query photos left out.
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "library/library.h"
#include "models/pack_registry.h"
#include "search/search_report.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

fs::path people(const std::string& rel) { return testing::testdata_dir() / "faces" / "people" / rel; }

float norm(std::span<const float> v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  return static_cast<float>(std::sqrt(n));
}

TEST(QueryExpansionRule, AddsTheTopConfidentFacesWeightedByTheCubeOfTheirSimilarity) {
  const std::vector<float> query{1, 0, 0};
  const std::vector<float> a{0, 1, 0}, b{0, 0, 1}, c{0, 1, 1}, d{-1, 0, 0};
  const ExpansionCandidate best_first[] = {{0.9f, a}, {0.6f, b}, {0.55f, c}, {0.3f, d}};
  std::vector<size_t> used;
  // top 2 of those >= 0.5: a and b.
  auto expanded = expand_query(query, best_first, QueryExpansion{2, 0.5f}, used);
  EXPECT_EQ(used, (std::vector<size_t>{0, 1}));
  const float wa = 0.9f * 0.9f * 0.9f, wb = 0.6f * 0.6f * 0.6f, n = std::sqrt(1 + wa * wa + wb * wb);
  EXPECT_NEAR(expanded[0], 1 / n, 1e-6);
  EXPECT_NEAR(expanded[1], wa / n, 1e-6);
  EXPECT_NEAR(expanded[2], wb / n, 1e-6);
  // Only what is confident: with at_least 0.7, a alone, however large top is.
  expanded = expand_query(query, best_first, QueryExpansion{5, 0.7f}, used);
  EXPECT_EQ(used, (std::vector<size_t>{0}));
  EXPECT_NEAR(norm(expanded), 1, 1e-6);
  // Nothing confident: the query unchanged.
  expanded = expand_query(query, best_first, QueryExpansion{3, 0.95f}, used);
  EXPECT_TRUE(used.empty());
  EXPECT_EQ(expanded, query);
}

// A query of several faces scores everyone higher: its matches are judged at a higher threshold.
TEST(QueryExpansionRule, AQueryOfSeveralFacesIsJudgedAtAHigherThreshold) {
  ModelPack pack;
  pack.threshold = 0.40f;
  EXPECT_FLOAT_EQ(query_threshold(0.40f, pack, 1, false), 0.40f);
  EXPECT_FLOAT_EQ(query_threshold(0.40f, pack, 3, true), 0.40f);  // a pack without the rules: no raise
  pack.query_expansion = QueryExpansion{3, 0.5f, 0.02f};
  pack.several_photos.person_share = 0.58f;
  EXPECT_FLOAT_EQ(query_threshold(0.40f, pack, 1, false), 0.40f);  // one face of one photo: as asked
  EXPECT_NEAR(query_threshold(0.40f, pack, 1, true), 0.42f, 1e-6);
  // The mean of k photos: threshold / sqrt(s + (1 - s) / k).
  EXPECT_NEAR(query_threshold(0.40f, pack, 2, false), 0.40 / std::sqrt(0.58 + 0.42 / 2), 1e-6);  // 0.450
  EXPECT_NEAR(query_threshold(0.40f, pack, 3, false), 0.40 / std::sqrt(0.58 + 0.42 / 3), 1e-6);  // 0.471
  EXPECT_GT(query_threshold(0.40f, pack, 10, false), query_threshold(0.40f, pack, 3, false));
  EXPECT_LT(query_threshold(0.40f, pack, 1000, false), 0.40 / std::sqrt(0.58) + 1e-6);
  // Both: the larger raise. A threshold the user lowered is raised in proportion; none at or below 0.
  EXPECT_NEAR(query_threshold(0.40f, pack, 2, true), query_threshold(0.40f, pack, 2, false), 1e-6);
  EXPECT_LT(query_threshold(0.30f, pack, 2, false), query_threshold(0.40f, pack, 2, false));
  EXPECT_FLOAT_EQ(query_threshold(0.f, pack, 2, true), 0.f);
  EXPECT_FLOAT_EQ(query_threshold(-0.2f, pack, 2, false), -0.2f);
  EXPECT_LE(query_threshold(0.99f, pack, 5, true), 1.f);
}

TEST(QueryExpansionRule, SeveralQueryFacesBecomeTheirNormalisedMean) {
  QueryFace a, b;
  a.index = 2;
  a.embedding = {1, 0};
  b.embedding = {0, 1};
  const QueryFace both[] = {a, b};
  const QueryFace mean = combine_query_faces(both);
  EXPECT_EQ(mean.index, 2);
  EXPECT_NEAR(mean.embedding[0], std::sqrt(0.5f), 1e-6);
  EXPECT_NEAR(mean.embedding[1], std::sqrt(0.5f), 1e-6);
}

TEST(QueryExpansionRule, ItIsAPackPropertyThatSearchesCanTurnOff) {
  const ModelPack mobilefacenet = load_named_pack(kDefaultPackName);
  ASSERT_TRUE(mobilefacenet.query_expansion);
  EXPECT_EQ(mobilefacenet.query_expansion->top, 3);
  EXPECT_FLOAT_EQ(mobilefacenet.query_expansion->at_least, 0.5f);
  SearchOptions options;
  EXPECT_EQ(active_expansion(options, mobilefacenet), &*mobilefacenet.query_expansion);
  options.expand = false;
  EXPECT_EQ(active_expansion(options, mobilefacenet), nullptr);
  // dlib-faceapi has none: its compressed scale lets strangers in at 0.92 (docs/ACCURACY.md).
  EXPECT_FALSE(load_model_pack(testing::models_dir()).query_expansion);
}

// One library of the 78 people of lfw_dev, shared by the tests below (indexing it takes ~15 s).
class ExpansionInALibrary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    db_ = tmp_->path() / "lfw_dev.db";
    const fs::path roots[] = {testing::testdata_dir() / "lfw_dev" / "people"};
    testing::index_new_library(db_, roots);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static inline TempDir* tmp_ = nullptr;
  static inline fs::path db_;
};

std::string person_of(const fs::path& photo) { return photo.parent_path().filename().string(); }

TEST_F(ExpansionInALibrary, FindsMoreOfThePersonWithoutLettingStrangersIn) {
  SearchRequest open;
  open.pack.name = kDefaultPackName;
  open.photo_queries = false;
  const Library library = Library::open_for_search(db_, open);
  const auto status = library.status();
  ASSERT_EQ(status.images, 445);
  // Every photo's largest face as a query (by face id: the stored embeddings), with and without.
  Catalog catalog = Catalog::open(db_, *library.pack(), Catalog::Mode::kReadOnly);
  std::map<std::string, int> photos_of;
  std::vector<std::pair<std::int64_t, fs::path>> queries;
  for (const auto& image : catalog.images()) {
    ++photos_of[person_of(image.path)];
    const auto faces = catalog.faces_of_image(image.id);
    if (faces.empty()) continue;
    const auto largest = std::max_element(faces.begin(), faces.end(), [](const FaceRow& a, const FaceRow& b) {
      return a.face.box.area() < b.face.box.area();
    });
    queries.emplace_back(largest->id, image.path);
  }
  ASSERT_GE(queries.size(), 440u);
  struct Count {
    size_t found = 0, strangers = 0, expanded = 0;
  };
  auto run = [&](bool expand) {
    SearchOptions options;
    options.expand = expand;
    Count c;
    for (const auto& [id, path] : queries) {
      const SearchReport r = library.search_face(id, options);
      for (const Match& m : r.matches) (person_of(m.path) == person_of(path) ? c.found : c.strangers)++;
      c.expanded += !r.expanded_with.empty();
      for (const ExpansionFace& e : r.expanded_with) {
        EXPECT_GE(e.similarity, 0.5f);
        EXPECT_NE(e.path, path) << "a query was expanded with its own photo";
      }
      EXPECT_LE(r.expanded_with.size(), 3u);
    }
    return c;
  };
  const Count plain = run(false), expanded = run(true);
  size_t same_pairs = 0;
  for (const auto& [id, path] : queries) same_pairs += photos_of[person_of(path)] - 1;
  const double plain_recall = double(plain.found) / same_pairs, recall = double(expanded.found) / same_pairs;
  const double plain_precision = double(plain.found) / (plain.found + plain.strangers);
  const double precision = double(expanded.found) / (expanded.found + expanded.strangers);
  std::printf("lfw_dev, library search by face id at 0.40: plain precision %.4f recall %.4f; expanded precision "
              "%.4f recall %.4f (%zu of %zu queries expanded)\n",
              plain_precision, plain_recall, precision, recall, expanded.expanded, queries.size());
  EXPECT_EQ(plain.expanded, 0u);
  EXPECT_GT(expanded.expanded, queries.size() / 2);
  // Measured: recall 0.9625 -> 0.9762, precision 0.9806 -> 0.9885 (expanded queries judged at 0.42).
  EXPECT_GE(recall, plain_recall + 0.01);
  EXPECT_GE(precision, 0.98);
  EXPECT_GE(precision, plain_precision);
}

TEST_F(ExpansionInALibrary, TheLibraryAndAScanOfTheFolderExpandAlikeAndSeveralPhotosAreOnePerson) {
  const fs::path folder = testing::testdata_dir() / "lfw_dev" / "people";
  // A person with several photos in lfw_dev.
  fs::path first, second;
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::vector<fs::path> photos;
    for (const auto& p : fs::directory_iterator(entry.path())) photos.push_back(p.path());
    if (photos.size() >= 6) {
      std::sort(photos.begin(), photos.end());
      first = photos[0], second = photos[1], count = photos.size();
      break;
    }
  }
  ASSERT_FALSE(first.empty());
  SearchRequest open;
  open.pack.name = kDefaultPackName;
  const Library library = Library::open_for_search(db_, open);
  FolderSearch scan(PackRequest{{}, kDefaultPackName}, DetectionStrategy::kAuto);
  SearchOptions options;
  options.jobs = 2;
  const fs::path targets[] = {folder};

  // One photo: the same expansion and the same matches (paths canonical in the library).
  const SearchReport in_library = library.search_photo(first, options);
  const SearchReport in_folder = scan.search(first, targets, options);
  ASSERT_EQ(in_library.expanded_with.size(), in_folder.expanded_with.size());
  for (size_t i = 0; i < in_library.expanded_with.size(); ++i) {
    EXPECT_EQ(in_library.expanded_with[i].path.filename(), in_folder.expanded_with[i].path.filename());
    EXPECT_NEAR(in_library.expanded_with[i].similarity, in_folder.expanded_with[i].similarity, 1e-4);
  }
  // Both judged the expanded query at the pack's threshold raised by its rule (0.42).
  ASSERT_EQ(in_library.query_faces.size(), 1u);
  ASSERT_EQ(in_folder.query_faces.size(), 1u);
  EXPECT_FLOAT_EQ(in_library.threshold, 0.40f);
  EXPECT_EQ(in_library.query_faces[0].expanded, !in_library.expanded_with.empty());
  EXPECT_EQ(in_folder.query_faces[0].expanded, in_library.query_faces[0].expanded);
  EXPECT_FLOAT_EQ(in_library.query_faces[0].threshold,
                  query_threshold(0.40f, *library.pack(), 1, in_library.query_faces[0].expanded));
  EXPECT_FLOAT_EQ(in_folder.query_faces[0].threshold, in_library.query_faces[0].threshold);
  for (const Match& m : in_library.matches) EXPECT_GE(m.similarity, in_library.query_faces[0].threshold);
  ASSERT_EQ(in_library.matches.size(), in_folder.matches.size());
  for (size_t i = 0; i < in_library.matches.size(); ++i) {
    EXPECT_EQ(in_library.matches[i].path.filename(), in_folder.matches[i].path.filename());
    EXPECT_NEAR(in_library.matches[i].similarity, in_folder.matches[i].similarity, 1e-4);
  }

  // Two photos of the person: one query, both left out, and the combination said.
  const fs::path two[] = {first, second};
  for (const SearchReport& r : {library.search_photos(two, options), scan.search(two, targets, options)}) {
    EXPECT_EQ(r.combined, "mean");
    ASSERT_EQ(r.queries.size(), 2u);
    ASSERT_EQ(r.query_faces.size(), 1u);
    // The mean of two photos scores everyone higher: judged at 0.45, not 0.40.
    EXPECT_EQ(r.query_faces[0].photos, 2);
    EXPECT_NEAR(r.query_faces[0].threshold, 0.45f, 0.002f);
    for (const Match& m : r.matches) EXPECT_GE(m.similarity, r.query_faces[0].threshold);
    std::set<std::string> found;
    for (const Match& m : r.matches) {
      EXPECT_NE(m.path.filename(), first.filename());
      EXPECT_NE(m.path.filename(), second.filename());
      if (person_of(m.path) == person_of(first)) found.insert(m.path.filename().string());
    }
    EXPECT_GE(found.size(), count - 3) << "most of the other photos of " << person_of(first);
  }
  // Several photos are searched by their largest faces: asking for every face is refused.
  SearchOptions every = options;
  every.query_face.mode = QueryFaceSelection::Mode::kAll;
  testing::expect_error([&] { (void)library.search_photos(two, every); }, ErrorCode::kInvalidArgument,
                        {"several query photos", "largest face"});
}

}  // namespace
}  // namespace facesearch
