// Detection through the whole pipeline on real photos: no faces where there are none, the annotated
// counts in scenes/, upright boxes for EXIF-rotated photos, and every tricky file in bad/.
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "pipeline/face_pipeline.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "bench/testdata_manifest.h"
#include "test_support.h"

namespace facesearch {
namespace {

class Detection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pipeline_ = new FacePipeline(load_model_pack(testing::models_dir()), {}); }
  static void TearDownTestSuite() { delete pipeline_; }

  static std::vector<FaceRecord> faces_of(const std::string& rel) {
    const auto image = decode_image_file(testing::testdata_dir() / "faces" / rel);
    return pipeline_->analyze(image, {});
  }
  static inline FacePipeline* pipeline_ = nullptr;
};

std::map<std::string, int> known_scene_counts() {
  return eval::annotated_scene_counts(testing::testdata_dir() / "faces");
}

TEST_F(Detection, NoFaceOnPhotosWithoutPeople) {
  const std::filesystem::path dir[] = {testing::testdata_dir() / "faces" / "noface"};
  const auto files = collect_images(dir);
  ASSERT_EQ(files.size(), 10u);
  for (const auto& f : files) {
    const auto faces = pipeline_->analyze(decode_image_file(f), {});
    EXPECT_TRUE(faces.empty()) << f << ": " << faces.size() << " false face(s), first score "
                               << (faces.empty() ? 0 : faces[0].face.score);
  }
}

TEST_F(Detection, SceneCountsMatchAnnotations) {
  const auto counts = known_scene_counts();
  ASSERT_GE(counts.size(), 20u);
  int expected_total = 0, found_total = 0, abs_error = 0;
  for (const auto& [rel, expected] : counts) {
    const int found = static_cast<int>(faces_of(rel).size());
    expected_total += expected;
    found_total += found;
    abs_error += std::abs(found - expected);
    EXPECT_LE(std::abs(found - expected), 2) << rel << ": expected " << expected << ", found " << found;
  }
  const double mean_error = double(abs_error) / counts.size();
  std::printf("scenes: %d of %d annotated faces found, mean |error| %.3f faces per image over %zu images\n",
              found_total, expected_total, mean_error, counts.size());
  // Measured with the default strategy (docs/ACCURACY.md): 55 of 55, no extra face, mean error 0.00
  // (SSD + padded retry: 51 of 55, 0.20). Issue 4's floor: within 0.1 faces per image on average.
  EXPECT_GE(found_total, 54);
  EXPECT_LE(found_total, expected_total + 1);
  EXPECT_LE(mean_error, 0.1 + 1e-9);
}

// Eyes above the mouth and the box inside the upright frame: the face was found upright.
void expect_upright_face(const FaceRecord& f, int width, int height) {
  ASSERT_EQ(f.face.landmarks.size(), 68u);
  float eyes_y = 0, mouth_y = 0;
  for (int i = 36; i < 48; ++i) eyes_y += f.face.landmarks[i].y / 12;
  for (int i = 48; i < 68; ++i) mouth_y += f.face.landmarks[i].y / 20;
  EXPECT_LT(eyes_y + 0.15f * f.face.box.height(), mouth_y);
  EXPECT_GE(f.face.box.x1, 0);
  EXPECT_GE(f.face.box.y1, 0);
  EXPECT_LE(f.face.box.x2, width);
  EXPECT_LE(f.face.box.y2, height);
}

TEST_F(Detection, ExifRotatedPhotosGiveUprightFacesInUprightCoordinates) {
  for (const auto& [rel, w, h, original] :
       {std::tuple{"bad/exif_orientation6_obama.jpg", 910, 1137, "people/obama/fr_obama.jpg"},
        std::tuple{"bad/exif_orientation8_obama2.jpg", 626, 1200, "people/obama/fr_obama2.jpg"}}) {
    const auto image = decode_image_file(testing::testdata_dir() / "faces" / rel);
    EXPECT_EQ(image.width, w) << rel;
    EXPECT_EQ(image.height, h) << rel;
    const auto faces = pipeline_->analyze(image, {});
    ASSERT_EQ(faces.size(), 1u) << rel;
    expect_upright_face(faces[0], w, h);
    // The rotated file is the same photo as its upright original: same box, same person.
    const auto ref = faces_of(original);
    ASSERT_EQ(ref.size(), 1u) << original;
    EXPECT_GT(iou(ref[0].face.box, faces[0].face.box), 0.8f) << rel;
    EXPECT_GT(similarity(ref[0].embedding, faces[0].embedding), 0.97f) << rel;
  }
}

TEST_F(Detection, TrickyFilesInBad) {
  // One face each, and the face is the labelled person's (checked against a clean photo of them).
  const std::tuple<const char*, const char*> one_face[] = {
      {"bad/rgba_alpha_alex_lacamoire.png", "people/alex_lacamoire"},
      {"bad/grayscale_angelina_img11.jpg", "people/Angelina"},
      {"bad/rgb16bit_jennifer_img12.png", "people/Jennifer"},
      {"bad/cmyk_elon_img18.jpg", "people/Elon"},
      {"bad/png_bytes_named_amy1.jpg", "people/amy"},
      {"bad/progressive_mark_img13.jpg", "people/Mark"},
      {"bad/truncated_obama2.jpg", "people/obama"},
  };
  for (const auto& [rel, person] : one_face) {
    const auto faces = faces_of(rel);
    ASSERT_EQ(faces.size(), 1u) << rel;
    const std::filesystem::path dir[] = {testing::testdata_dir() / "faces" / person};
    float best = -1;
    for (const auto& f : collect_images(dir)) {
      for (const auto& r : pipeline_->analyze(decode_image_file(f), {}))
        if (f.filename() != std::filesystem::path(rel).filename()) best = std::max(best, similarity(r.embedding, faces[0].embedding));
    }
    EXPECT_GE(best, pipeline_->pack().threshold) << rel << " does not match " << person;
  }
}

TEST_F(Detection, TinyAndHugePhotosAreHandled) {
  // 16x16: too small for any face, and no crash.
  EXPECT_TRUE(faces_of("bad/tiny_16x16_angelina_img5.jpg").empty());
  // 48 megapixels: decoded at a quarter, 2000x1500 (DecodeOptions: the longer side at least 2000 px),
  // so its full pixel buffer never exists; reported at full size. Its ~100-px face (pasted at x=5200,
  // y=1400, MANIFEST.tsv) is found by the tiled passes.
  const auto big = decode_image_file(testing::testdata_dir() / "faces" / "bad" / "large_8000x6000_mark_img14.jpg");
  EXPECT_EQ(big.width, 8000);
  EXPECT_EQ(big.height, 6000);
  EXPECT_EQ(big.scale, 4.f);
  const auto faces = pipeline_->analyze(big, {});
  ASSERT_EQ(faces.size(), 1u);
  const Box& b = faces[0].face.box;
  EXPECT_GE(b.x1, 5200);
  EXPECT_LE(b.x2, 5800);
  EXPECT_GE(b.y1, 1400);
  EXPECT_LE(b.y2, 1800);
  EXPECT_GE(b.height(), 70);
  EXPECT_LE(b.height(), 200);  // SSD-like framing: taller than the face itself (measured 167)
}

// A 40-px face in a 4000x3000 photo: invisible to a whole-photo pass at 192 or 512 px, found by the
// tiled passes. The face is people/Angelina/deepface_img5.jpg's, pasted at six places (some where
// tiles meet, one in a corner) on a grey canvas.
TEST_F(Detection, FortyPixelFaceInA12MegapixelPhotoIsFound) {
  const auto src = decode_image_file(testing::testdata_dir() / "faces" / "people" / "Angelina" / "deepface_img5.jpg");
  const auto faces = pipeline_->locate(src, {});
  ASSERT_EQ(faces.size(), 1u);
  const Box b = faces[0].face.box;
  const float m = 0.5f * b.height();
  const cv::Rect crop(int(std::max(0.f, b.x1 - m)), int(std::max(0.f, b.y1 - m)),
                      int(std::min(float(src.bgr.cols), b.x2 + m) - std::max(0.f, b.x1 - m)),
                      int(std::min(float(src.bgr.rows), b.y2 + m) - std::max(0.f, b.y1 - m)));
  const double s = 40.0 / b.height();
  cv::Mat small;
  cv::resize(src.bgr(crop), small, cv::Size(int(crop.width * s), int(crop.height * s)), 0, 0, cv::INTER_AREA);
  for (const cv::Point at : {cv::Point(2900, 1700), cv::Point(575, 560), cv::Point(1230, 2410), cv::Point(3900, 60),
                             cv::Point(470, 455), cv::Point(2000, 1500)}) {
    DecodedImage big;
    big.bgr = cv::Mat(3000, 4000, CV_8UC3, cv::Scalar(120, 125, 130));
    big.width = 4000, big.height = 3000;
    small.copyTo(big.bgr(cv::Rect(at.x, at.y, small.cols, small.rows)));
    const Box truth{float(at.x + (b.x1 - crop.x) * s), float(at.y + (b.y1 - crop.y) * s),
                    float(at.x + (b.x2 - crop.x) * s), float(at.y + (b.y2 - crop.y) * s)};
    const auto found = pipeline_->analyze(big, {});
    ASSERT_EQ(found.size(), 1u) << "face at " << at;
    EXPECT_GE(iou(found[0].face.box, truth), 0.5f) << "face at " << at;
    EXPECT_NE(found[0].face.detector.find("tiled"), std::string::npos) << found[0].face.detector;
    // The same person: the pasted face still matches the original photo's face.
    EXPECT_GE(similarity(found[0].embedding, pipeline_->analyze(src, {})[0].embedding), pipeline_->pack().threshold);
  }
  // The SSD strategy (no tiles) cannot see it: what the tiles are for.
  const FacePipeline ssd(pipeline_->pack(), {}, DetectionStrategy::kSsd);
  DecodedImage big;
  big.bgr = cv::Mat(3000, 4000, CV_8UC3, cv::Scalar(120, 125, 130));
  big.width = 4000, big.height = 3000;
  small.copyTo(big.bgr(cv::Rect(2900, 1700, small.cols, small.rows)));
  EXPECT_TRUE(ssd.locate(big, {}).empty());
}

TEST(DetectionTiles, CoverThePhotoAndHoldEverySmallSquareWhole) {
  for (const auto& [w, h, side, overlap] : {std::tuple{4000, 3000, 768, 192}, std::tuple{720, 478, 384, 96},
                                            std::tuple{500, 300, 768, 192}, std::tuple{1000, 1000, 400, 100}}) {
    const auto tiles = plan_tiles(cv::Size(w, h), side, overlap);
    ASSERT_FALSE(tiles.empty());
    for (const auto& t : tiles) {
      EXPECT_GE(t.x, 0);
      EXPECT_GE(t.y, 0);
      EXPECT_LE(t.x + t.width, w);
      EXPECT_LE(t.y + t.height, h);
      EXPECT_EQ(t.width, std::min(side, w));
      EXPECT_EQ(t.height, std::min(side, h));
    }
    // Every square of side `overlap` (on a grid of positions, edges included) lies inside some tile.
    for (int y = 0; y + overlap <= h; y += std::max(1, h / 37))
      for (int x = 0; x + overlap <= w; x += std::max(1, w / 41)) {
        const cv::Rect sq(x, y, std::min(overlap, w), std::min(overlap, h));
        bool inside = false;
        for (const auto& t : tiles) inside = inside || (t & sq) == sq;
        EXPECT_TRUE(inside) << w << "x" << h << " tile " << side << ": square at " << x << "," << y;
      }
  }
  // 4000x3000 at 768 px tiles with 192 px overlap: 7 x 5 tiles (steps of at most 576 px).
  EXPECT_EQ(plan_tiles(cv::Size(4000, 3000), 768, 192).size(), 35u);
  EXPECT_EQ(plan_tiles(cv::Size(500, 300), 768, 192).size(), 1u);
}

TEST(DetectionStrategies, NamesParseAndAutoResolvesByPack) {
  for (const auto s : {DetectionStrategy::kAuto, DetectionStrategy::kSsd, DetectionStrategy::kMediapipe,
                       DetectionStrategy::kCascade, DetectionStrategy::kHybrid})
    EXPECT_EQ(parse_detection_strategy(strategy_name(s)), s);
  EXPECT_FALSE(parse_detection_strategy("fastest"));
  ModelPack pack = load_model_pack(testing::models_dir());
  ASSERT_TRUE(pack.fast_detector);
  EXPECT_EQ(resolve_strategy(pack, DetectionStrategy::kAuto), DetectionStrategy::kHybrid);
  EXPECT_EQ(resolve_strategy(pack, DetectionStrategy::kCascade), DetectionStrategy::kCascade);
  pack.fast_detector.reset();  // a pack with one detector
  EXPECT_EQ(resolve_strategy(pack, DetectionStrategy::kAuto), DetectionStrategy::kSsd);
  try {
    make_detection_strategy(pack, DetectionStrategy::kMediapipe, {});
    ADD_FAILURE() << "no fast detector, yet a mediapipe strategy";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_EQ(e.hint().remedy, Remedy::kDetectorSsdOrRebuild) << e.what();  // the CLI words it as --detector ssd
  }
}

// The cascade is the fast strategy plus SSD where it finds nothing: on the annotated scenes (where the
// fast detector finds every photo's faces) both give the same counts; on noface/ neither finds a face.
// A tight crop of one face (face-api.js's 150-px crops of howard): the fast detector's whole-photo pass
// gives the left half of howard2's face, cut by the frame; the padded pass must replace it with the
// whole face, which then matches his other crops (it scored under 0.28 against them before).
TEST_F(Detection, AFaceCutByTheFrameOfATightCropIsFoundWhole) {
  std::vector<std::vector<float>> embeddings;
  for (int i = 1; i <= 5; ++i) {
    const std::string rel = "people/howard/faceapijs_howard" + std::to_string(i) + ".png";
    const auto faces = faces_of(rel);
    ASSERT_EQ(faces.size(), 1u) << rel;
    const Box& b = faces[0].face.box;
    EXPECT_GE(std::min(b.width(), b.height()), 0.6f * 150) << rel << ": the whole face, not a part";
    embeddings.push_back(faces[0].embedding);
  }
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j)
      EXPECT_GE(similarity(embeddings[i], embeddings[j]), pipeline_->pack().threshold) << "howard" << i + 1 << " and " << j + 1;
}

TEST_F(Detection, CascadeAgreesWithTheFastStrategyWhereThatFindsFaces) {
  const FacePipeline cascade(pipeline_->pack(), {}, DetectionStrategy::kCascade);
  EXPECT_EQ(cascade.detection(), DetectionStrategy::kCascade);
  for (const auto& [rel, expected] : known_scene_counts()) {
    const auto image = decode_image_file(testing::testdata_dir() / "faces" / rel);
    EXPECT_EQ(cascade.locate(image, {}).size(), pipeline_->locate(image, {}).size()) << rel;
  }
  const std::filesystem::path dir[] = {testing::testdata_dir() / "faces" / "noface"};
  for (const auto& f : collect_images(dir)) EXPECT_TRUE(cascade.locate(decode_image_file(f), {}).empty()) << f;
}

TEST_F(Detection, UnreadableFilesAreErrorsNamingTheFile) {
  for (const char* rel : {"bad/zero_bytes.jpg", "bad/text_file_named.png"}) {
    try {
      faces_of(rel);
      ADD_FAILURE() << rel << " decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDecode);
      EXPECT_NE(std::string(e.what()).find(std::filesystem::path(rel).filename().string()), std::string::npos);
    }
  }
}

TEST_F(Detection, BoxesScaleBackFromReducedDecoding) {
  // The same photo decoded at full and at half resolution gives the same face box in full-size pixels.
  const auto path = testing::testdata_dir() / "faces" / "scenes" / "compreface_loadtest_FACE_2.jpg";
  DecodeOptions full;
  full.min_long_side_px = 0;
  DecodeOptions half;
  half.min_long_side_px = 800;
  const auto a = decode_image_file(path, full);
  const auto b = decode_image_file(path, half);
  ASSERT_EQ(b.scale, 2.f);
  const auto fa = pipeline_->analyze(a, {});
  const auto fb = pipeline_->analyze(b, {});
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_GT(iou(fa[0].face.box, fb[0].face.box), 0.9f);
  EXPECT_GT(similarity(fa[0].embedding, fb[0].embedding), 0.97f);
}

}  // namespace
}  // namespace facesearch
