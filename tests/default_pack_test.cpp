// Issue 13: the default pack is mobilefacenet-faceapi (face-api.js's detectors and 68 landmarks, the
// 68 points reduced to ArcFace's 5, a MobileFaceNet recogniser). What a user relies on: a new library
// is built with it and finds the person; a library built with dlib-faceapi (the default before) keeps
// its own pack until `index --rebuild --model` switches it; the recogniser's file as set-up rewrites it
// (free batch size) gives the package's own numbers; big faces are aligned without aliasing.
#include <cmath>
#include <cstdlib>
#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "align/aligner.h"
#include "embed/embedder.h"
#include "image/image.h"
#include "library/library.h"
#include "models/pack_registry.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnv;
using testing::TempDir;

fs::path people(const std::string& rel) { return testing::testdata_dir() / "faces" / "people" / rel; }

bool shows(const Match& m, const std::string& person) {
  return m.path.parent_path().filename() == person;
}

TEST(DefaultPack, IsMobileFaceNetWithItsOwnThreshold) {
  EXPECT_STREQ(kDefaultPackName, "mobilefacenet-faceapi");
  const ScopedEnv no_override("FACESEARCH_MODELS", std::nullopt);
  const ModelPack pack = load_model_pack(resolve_models_dir(std::nullopt));
  EXPECT_EQ(pack.name, "mobilefacenet-faceapi");
  EXPECT_EQ(pack.embedder.dim, 512);
  EXPECT_EQ(pack.aligner.kind, "arcface_5pt");
  ASSERT_TRUE(pack.landmarker);
  EXPECT_EQ(pack.landmarker->points, 68);
  ASSERT_TRUE(pack.fast_detector);  // the same hybrid detection as dlib-faceapi
  EXPECT_FLOAT_EQ(pack.threshold, 0.40f);
  EXPECT_NE(pack.license.find("training data is not documented"), std::string::npos) << pack.license;
  // Its embeddings are never mixed with dlib-faceapi's.
  EXPECT_NE(pack.fingerprint, load_model_pack(testing::models_dir()).fingerprint);
}

TEST(DefaultPack, ANewLibraryUsesItAndADlibLibraryKeepsItsPackUntilRebuilt) {
  const ScopedEnv no_override("FACESEARCH_MODELS", std::nullopt);
  TempDir tmp;
  const fs::path fresh = tmp.path() / "fresh.db", old = tmp.path() / "old.db";
  const fs::path roots[] = {people("Tony_Blair"), people("biden"), people("kit_harington")};
  IndexOptions options;
  options.jobs = 2;

  // No pack named: the default.
  {
    std::optional<Library> library = Library::open_for_indexing(fresh, IndexRequest{}, /*create=*/true);
    ASSERT_TRUE(library);
    library->index(roots, options);
    EXPECT_EQ(library->status().model_name, "mobilefacenet-faceapi");
  }
  {
    const Library library = Library::open_for_search(fresh, SearchRequest{});
    EXPECT_EQ(library.pack()->name, "mobilefacenet-faceapi");
    const SearchReport found = library.search_photo(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"), {});
    ASSERT_EQ(found.matches.size(), 4u);  // his four other photos, nobody else
    for (const Match& m : found.matches) EXPECT_TRUE(shows(m, "Tony_Blair")) << m.path;
  }

  // A library made with dlib-faceapi: searched and updated with dlib-faceapi when no pack is named.
  {
    IndexRequest request;
    request.pack.name = "dlib-faceapi";
    std::optional<Library> library = Library::open_for_indexing(old, request, /*create=*/true);
    ASSERT_TRUE(library);
    library->index(roots, options);
  }
  {
    std::optional<Library> library = Library::open_for_indexing(old, IndexRequest{}, /*create=*/false);
    ASSERT_TRUE(library);
    EXPECT_EQ(library->pack()->name, "dlib-faceapi");
    EXPECT_EQ(library->index(roots, options).added, 0u);  // nothing re-analysed, nothing mixed in
  }
  {
    const Library library = Library::open_for_search(old, SearchRequest{});
    EXPECT_EQ(library.pack()->name, "dlib-faceapi");
    EXPECT_EQ(library.search_photo(people("biden/fr_biden.jpg"), {}).matches.size(), 1u);
  }
  // --rebuild --model mobilefacenet-faceapi switches it.
  {
    IndexRequest request;
    request.pack.name = kDefaultPackName;
    request.rebuild = true;
    std::optional<Library> library = Library::open_for_indexing(old, request, /*create=*/false);
    ASSERT_TRUE(library);
    library->index(roots, options);
    EXPECT_EQ(library->status().model_name, "mobilefacenet-faceapi");
  }
  const Library library = Library::open_for_search(old, SearchRequest{});
  EXPECT_EQ(library.pack()->name, "mobilefacenet-faceapi");
  const SearchReport found = library.search_photo(people("biden/fr_biden.jpg"), {});
  ASSERT_EQ(found.matches.size(), 1u);
  EXPECT_TRUE(shows(found.matches[0], "biden")) << found.matches[0].path;
}

class MobileFaceNet : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pack_ = std::make_unique<ModelPack>(load_named_pack("mobilefacenet-faceapi"));
    pipeline_ = std::make_unique<FacePipeline>(*pack_, RuntimeOptions{});
  }
  static void TearDownTestSuite() {
    pipeline_.reset();
    pack_.reset();
  }
  // The faces of a few people/ photos, as the pipeline aligns them.
  static std::vector<LocatedFace> faces() {
    std::vector<LocatedFace> out;
    for (const char* rel : {"Tony_Blair/lfw_Tony_Blair_0001.jpg", "biden/fr_biden.jpg", "obama/fr_obama.jpg",
                            "kit_harington/fr_john1.jpg", "Serena_Williams/lfw_Serena_Williams_0042.jpg"}) {
      if (!fs::exists(people(rel))) continue;
      for (auto& f : pipeline_->locate(decode_image_file(people(rel)), {})) out.push_back(std::move(f));
    }
    return out;
  }
  static inline std::unique_ptr<ModelPack> pack_;
  static inline std::unique_ptr<FacePipeline> pipeline_;
};

// The fast path (the pack's blocked-layout graph, PReLU as depthwise convolutions, in batches) against
// the reference (the package's own file as npm ships it, one face at a time).
TEST_F(MobileFaceNet, BatchedEmbeddingsOfTheFastGraphAreThePackagesOwnOneByOne) {
  ASSERT_FALSE(pack_->embedder.fast_file.empty()) << "the pack has no fast graph: run `make setup`";
  EXPECT_NE(pack_->embedder.fast_file, pack_->embedder.file);
  std::vector<cv::Mat> chips;
  for (const auto& f : faces()) chips.push_back(f.chip);
  ASSERT_GE(chips.size(), 4u);
  while (chips.size() < 9) chips.push_back(chips[chips.size() % 4]);  // two full batches of 4 and one more
  const auto embedder = make_embedder(*pack_, {});
  std::vector<float> batched(chips.size() * 512);
  embedder->embed(chips, batched);

  // The package's file, as npm ships it (batch 1), kept by the set-up in its cache.
  const char* cache_env = std::getenv("FACESEARCH_CACHE");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path cache = cache_env && *cache_env ? fs::path(cache_env)
                         : xdg && *xdg           ? fs::path(xdg) / "facesearch"
                                                 : fs::path(home ? home : ".") / ".cache" / "facesearch";
  ModelPack original = *pack_;
  original.embedder.file = cache / "faceplugin-0.0.1" / "package" / "model" / "fr_feature.onnx";
  ASSERT_TRUE(fs::exists(original.embedder.file)) << original.embedder.file << ": run `make setup`";
  original.embedder.fast_file.clear();
  const auto reference = make_embedder(original, {});
  double worst = 0;
  for (size_t i = 0; i < chips.size(); ++i) {
    std::vector<float> one(512);
    reference->embed(std::span<const cv::Mat>(&chips[i], 1), one);
    double dot = 0, n1 = 0, n2 = 0;
    for (size_t k = 0; k < 512; ++k) {
      worst = std::max<double>(worst, std::abs(one[k] - batched[i * 512 + k]));
      dot += double(one[k]) * batched[i * 512 + k], n1 += double(one[k]) * one[k], n2 += double(batched[i * 512 + k]) * batched[i * 512 + k];
    }
    EXPECT_GT(dot / std::sqrt(n1 * n2), 0.999999) << "chip " << i;
  }
  EXPECT_LT(worst, 1e-4);
}

TEST_F(MobileFaceNet, SixtyEightLandmarksAlignAsTheirFivePoints) {
  const DecodedImage photo = decode_image_file(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"));
  const auto located = pipeline_->locate(photo, {});
  ASSERT_EQ(located.size(), 1u);
  const auto& marks = located[0].face.landmarks;
  ASSERT_EQ(marks.size(), 68u);
  const auto five = five_points_of_68(marks);
  // Eyes side by side above the nose tip, mouth corners below it, in the image's left-right order.
  EXPECT_LT(five[0].x, five[2].x);
  EXPECT_GT(five[1].x, five[2].x);
  EXPECT_LT(std::max(five[0].y, five[1].y), five[2].y);
  EXPECT_GT(std::min(five[3].y, five[4].y), five[2].y);
  EXPECT_LT(five[3].x, five[4].x);
  const auto aligner = make_aligner(*pack_);
  const cv::Mat from68 = aligner->align(photo.bgr, marks), from5 = aligner->align(photo.bgr, five);
  EXPECT_EQ(cv::norm(from68, from5, cv::NORM_INF), 0);
  EXPECT_TRUE(std::equal(located[0].chip.begin<cv::Vec3b>(), located[0].chip.end<cv::Vec3b>(), from68.begin<cv::Vec3b>()));
  testing::expect_error([&] { (void)five_points_of_68(five); }, ErrorCode::kInvalidArgument, {"68 landmarks", "got 5"});
  const std::vector<Point> three(3);
  testing::expect_error([&] { (void)aligner->align(photo.bgr, three); }, ErrorCode::kModel, {"5 keypoints", "got 3"});
}

TEST_F(MobileFaceNet, ABigFaceIsShrunkBeforeWarpingSoFineDetailDoesNotAlias) {
  // A 250-px portrait blown up 8x with fine grain on top (as a 12-MP photo's skin and sensor noise):
  // its chip must look like the small photo's, the grain averaged away, not sampled.
  const DecodedImage photo = decode_image_file(people("Tony_Blair/lfw_Tony_Blair_0001.jpg"));
  const auto located = pipeline_->locate(photo, {});
  ASSERT_EQ(located.size(), 1u);
  constexpr int kScale = 8;
  cv::Mat big;
  cv::resize(photo.bgr, big, {}, kScale, kScale, cv::INTER_CUBIC);
  cv::Mat grain(big.size(), CV_16SC3);
  cv::RNG rng(7);
  rng.fill(grain, cv::RNG::UNIFORM, -60, 61);
  cv::Mat big16;
  big.convertTo(big16, CV_16SC3);
  cv::add(big16, grain, big16);
  big16.convertTo(big, CV_8UC3);  // saturates
  std::vector<Point> scaled = located[0].face.landmarks;
  for (auto& p : scaled) p = {p.x * kScale + (kScale - 1) / 2.f, p.y * kScale + (kScale - 1) / 2.f};

  const auto aligner = make_aligner(*pack_);
  const cv::Mat reference = aligner->align(photo.bgr, located[0].face.landmarks);
  const cv::Mat shrunk = aligner->align(big, scaled);
  // The direct bilinear warp, for comparison: every chip pixel from 4 of the ~64 pixels it covers.
  const Similarity m = fit_similarity(five_points_of_68(scaled), arcface_template_112());
  cv::Mat direct;
  cv::warpAffine(big, direct, cv::Matx23d(m.a, -m.b, m.tx, m.b, m.a, m.ty), reference.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
  const double shrunk_error = cv::norm(shrunk, reference, cv::NORM_L1) / reference.total() / 3;
  const double direct_error = cv::norm(direct, reference, cv::NORM_L1) / reference.total() / 3;
  std::printf("mean abs difference from the small photo's chip: shrunk %.2f, direct %.2f\n", shrunk_error, direct_error);
  EXPECT_LT(shrunk_error, 8.0);
  EXPECT_LT(shrunk_error, direct_error / 2);
}

}  // namespace
}  // namespace facesearch
