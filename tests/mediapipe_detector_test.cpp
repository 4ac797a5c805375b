// MediaPipe's full-range face detector (the pack's fast_detector): the converted ONNX model against the
// TensorFlow.js runtime (tests/data/mediapipe_full, made by tools/tfjs_reference/make_reference.js),
// decoding on synthetic tensors, and detection on the real photos of ../shared/testdata/faces against
// the annotations and against the SSD detector. Figures: docs/ACCURACY.md, "MediaPipe full-range detector".
#include <algorithm>
#include <array>
#include <limits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "detect/mediapipe_face_decoder.h"
#include "image/image.h"
#include "models/model_pack.h"
#include "models/onnx_session.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "bench/testdata_manifest.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace mp = mediapipe_face;
using facesearch::testing::models_dir;
using facesearch::testing::testdata_dir;

const std::filesystem::path kReferenceDir = "tests/data/mediapipe_full";

std::vector<char> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ModelPack pack_with_fast_detector() {
  ModelPack pack = load_model_pack(models_dir());
  EXPECT_TRUE(pack.fast_detector.has_value()) << models_dir() << ": no fast_detector; run tools/setup.sh models";
  return pack;
}

std::vector<std::filesystem::path> images_in(const char* folder) {
  const std::filesystem::path dir[] = {testdata_dir() / "faces" / folder};
  return collect_images(dir);
}

// ---------------------------------------------------------------------------------------------------
// The converter: tools/tfjs_to_onnx.py's model, run by ONNX Runtime, against TensorFlow.js.
// ---------------------------------------------------------------------------------------------------
TEST(MediapipeConversion, MatchesTheTfjsRuntimeOnRealPhotos) {
  const ModelPack pack = pack_with_fast_detector();
  ASSERT_TRUE(pack.fast_detector);
  const OnnxSession session(pack.fast_detector->file, {});
  ASSERT_EQ(session.output_names(), (std::vector<std::string>{"Identity", "Identity_1"}));

  std::ifstream meta_file(kReferenceDir / "meta.json");
  ASSERT_TRUE(meta_file) << kReferenceDir / "meta.json";
  const auto meta = nlohmann::json::parse(meta_file);
  ASSERT_EQ(meta.at("photos").size(), 3u);
  constexpr size_t kInputBytes = 192 * 192 * 3;
  double worst_logit = 0, worst_regressor = 0;
  for (const auto& photo : meta.at("photos")) {
    const auto& files = photo.at("files");
    const auto u8 = read_bytes(kReferenceDir / files.at("input").get<std::string>());
    ASSERT_EQ(u8.size(), kInputBytes);
    // HWC RGB bytes -> NCHW, normalised exactly as the reference did: (u8 - 127.5) / 127.5 in float32.
    std::vector<float> input(kInputBytes);
    for (size_t i = 0; i < 192 * 192; ++i)
      for (size_t c = 0; c < 3; ++c)
        input[c * 192 * 192 + i] = (static_cast<float>(static_cast<unsigned char>(u8[i * 3 + c])) - 127.5f) / 127.5f;
    const std::int64_t shape[4] = {1, 3, 192, 192};
    const auto out = session.run(input, shape);
    ASSERT_EQ(out.size(), 2u);
    for (size_t o = 0; o < 2; ++o) {
      const std::string name = o == 0 ? "Identity" : "Identity_1";
      EXPECT_EQ(out[o].shape, (std::vector<std::int64_t>{1, 2304, 17})) << name;
      const auto ref_bytes = read_bytes(kReferenceDir / files.at(name).get<std::string>());
      ASSERT_EQ(ref_bytes.size(), out[o].data.size() * sizeof(float)) << name;
      std::vector<float> ref(out[o].data.size());
      std::memcpy(ref.data(), ref_bytes.data(), ref_bytes.size());  // little-endian float32, as written
      // Per anchor: the logit (column 0), then 16 regressors in input pixels. Both reach a few hundred
      // (logits of -300 on background), where float32 has 3e-5 steps: compare relative to max(1, |value|).
      double logit_diff = 0, regressor_diff = 0, logit_abs = 0, regressor_abs = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        const double abs_diff = std::abs(double(ref[i]) - out[o].data[i]);
        const double diff = abs_diff / std::max(1.0, double(std::abs(ref[i])));
        (i % 17 == 0 ? logit_diff : regressor_diff) = std::max(i % 17 == 0 ? logit_diff : regressor_diff, diff);
        (i % 17 == 0 ? logit_abs : regressor_abs) = std::max(i % 17 == 0 ? logit_abs : regressor_abs, abs_diff);
      }
      worst_logit = std::max(worst_logit, logit_diff);
      worst_regressor = std::max(worst_regressor, regressor_diff);
      std::printf("%s %s: max |diff| / max(1, |value|): logits %.3g, regressors %.3g (absolute %.3g, %.3g)\n",
                  photo.at("photo").get<std::string>().c_str(), name.c_str(), logit_diff, regressor_diff, logit_abs,
                  regressor_abs);
    }
    // The same faces come out of both.
    const std::span<const float> ours(out[0].data);
    const auto ref_bytes = read_bytes(kReferenceDir / files.at("Identity").get<std::string>());
    std::vector<float> ref(ours.size());
    std::memcpy(ref.data(), ref_bytes.data(), ref_bytes.size());
    const auto a = mp::weighted_nms(mp::decode(ours, 0.6f), 0.3f, 100);
    const auto b = mp::weighted_nms(mp::decode(ref, 0.6f), 0.3f, 100);
    ASSERT_EQ(a.size(), b.size()) << photo.at("photo");
    EXPECT_GT(a.size(), 0u) << photo.at("photo");
    for (size_t i = 0; i < a.size(); ++i) EXPECT_GT(iou(a[i].box, b[i].box), 0.999f) << photo.at("photo");
  }
  // Measured over the three photos and both heads, max |diff| / max(1, |value|): logits 4.5e-6,
  // regressors 2.0e-5 (absolute: 3.4e-4 on a logit of about -300, 1.4e-4 on the regressors). A resize
  // with the wrong coordinate mode (asymmetric instead of half_pixel) gives 4.4 and 36.
  EXPECT_LT(worst_logit, 1e-4);
  EXPECT_LT(worst_regressor, 1e-4);
}

// ---------------------------------------------------------------------------------------------------
// Decoding (MediaPipe's calculators) on hand-built tensors. The expected numbers are worked out here by
// hand from MediaPipe's definitions (face_detection_full_range_common.pbtxt), never from the decoder's
// constants:
//  - the face head ("Identity", [1, 2304, 17], the shape the conversion test finds in the real model)
//    holds per anchor the score logit, then 16 regressors: box x, y, w, h (reverse_output_order), then
//    6 keypoints x, y;
//  - SsdAnchorsCalculator: a 192 x 192 input and one layer of stride 4 make a 48 x 48 grid, row-major,
//    anchor_offset 0.5 and fixed_anchor_size: anchor (row, col) is centred at ((col + 0.5) / 48,
//    (row + 0.5) / 48) of the input and is 1 x 1;
//  - TensorsToDetectionsCalculator: x_scale = y_scale = w_scale = h_scale = 192, so the box centre is
//    the anchor centre + regressor / 192 of the input and its size regressor / 192 of the input (times
//    192 for input pixels); the score is sigmoid(logit), the logit clipped to +-100.
// ---------------------------------------------------------------------------------------------------
constexpr int kHeadAnchors = 2304, kHeadValues = 17, kGridSide = 48;

// One image's face head where every anchor is background (logit -20: score 2e-9).
std::vector<float> background_head() {
  std::vector<float> head(kHeadAnchors * kHeadValues, 0.f);
  for (int a = 0; a < kHeadAnchors; ++a) head[a * kHeadValues] = -20.f;
  return head;
}

// Sets anchor (row, col): its logit, box regressors (x, y, w, h), and keypoint regressors that are
// far off, to show that they never move the box.
void set_anchor(std::vector<float>& head, int row, int col, float logit, std::array<float, 4> box) {
  float* v = &head[(row * kGridSide + col) * kHeadValues];
  v[0] = logit;
  std::copy(box.begin(), box.end(), v + 1);
  for (int k = 5; k < kHeadValues; ++k) v[k] = 500.f + 37.f * k;
}

void expect_box(const Box& got, const Box& want, const char* what, float tolerance = 1e-4f) {
  EXPECT_NEAR(got.x1, want.x1, tolerance) << what;
  EXPECT_NEAR(got.y1, want.y1, tolerance) << what;
  EXPECT_NEAR(got.x2, want.x2, tolerance) << what;
  EXPECT_NEAR(got.y2, want.y2, tolerance) << what;
}

TEST(MediapipeDecoding, AnchorsSitAtTheCentresOfA48x48Grid) {
  // 192 / 48 = 4 pixels per cell, anchor_offset 0.5: the first anchor at (2, 2), row-major order.
  EXPECT_FLOAT_EQ(mp::anchor_centre(0).x, 2.f);
  EXPECT_FLOAT_EQ(mp::anchor_centre(0).y, 2.f);
  EXPECT_FLOAT_EQ(mp::anchor_centre(1).x, 6.f);
  EXPECT_FLOAT_EQ(mp::anchor_centre(48).y, 6.f);
  EXPECT_FLOAT_EQ(mp::anchor_centre(2303).x, 190.f);
  EXPECT_FLOAT_EQ(mp::anchor_centre(2303).y, 190.f);
}

TEST(MediapipeDecoding, HandBuiltHeadDecodesToTheBoxesWorkedOutFromTheAnchorGrid) {
  std::vector<float> head = background_head();
  // Anchor (row 10, col 20): centre (20.5 / 48, 10.5 / 48) of 192 px = (82, 42). Regressors (3, -2, 40,
  // 36) px: centre (85, 40), 40 x 36 -> (65, 22) - (105, 58). Row and column differ, and so do x and y:
  // a swap would show.
  set_anchor(head, 10, 20, 2.f, {3.f, -2.f, 40.f, 36.f});
  // The first anchor (row 0, col 0): centre (2, 2). (-1.5, 4, 10, 12): centre (0.5, 6) -> (-4.5, 0) -
  // (5.5, 12); a box may reach past the input's edge (the detector clips it to the photo).
  set_anchor(head, 0, 0, 0.5f, {-1.5f, 4.f, 10.f, 12.f});
  // Row 47, col 5: centre (5.5 * 4, 47.5 * 4) = (22, 190). (0, -30, 64, 80): centre (22, 160) ->
  // (-10, 120) - (54, 200).
  set_anchor(head, 47, 5, -1.f, {0.f, -30.f, 64.f, 80.f});
  // The last anchor (row 47, col 47): centre (190, 190). (-10, -10, 20, 20): (170, 170) - (190, 190).
  set_anchor(head, 47, 47, 4.f, {-10.f, -10.f, 20.f, 20.f});

  // Everything at or over a score of 0.25, in anchor order (row-major): (0, 0), (10, 20), (47, 5),
  // (47, 47). Scores: sigmoid(0.5) = 0.622459, sigmoid(2) = 0.880797, sigmoid(-1) = 0.268941,
  // sigmoid(4) = 0.982014.
  const auto d = mp::decode(head, 0.25f);
  ASSERT_EQ(d.size(), 4u);
  expect_box(d[0].box, {-4.5f, 0.f, 5.5f, 12.f}, "row 0, col 0");
  expect_box(d[1].box, {65.f, 22.f, 105.f, 58.f}, "row 10, col 20");
  expect_box(d[2].box, {-10.f, 120.f, 54.f, 200.f}, "row 47, col 5");
  expect_box(d[3].box, {170.f, 170.f, 190.f, 190.f}, "row 47, col 47");
  EXPECT_NEAR(d[0].score, 0.622459f, 1e-5f);
  EXPECT_NEAR(d[1].score, 0.880797f, 1e-5f);
  EXPECT_NEAR(d[2].score, 0.268941f, 1e-5f);
  EXPECT_NEAR(d[3].score, 0.982014f, 1e-5f);
}

TEST(MediapipeDecoding, ScoresUnderTheThresholdAreDropped) {
  std::vector<float> head = background_head();
  set_anchor(head, 3, 4, -1.f, {0.f, 0.f, 20.f, 20.f});    // 0.268941
  set_anchor(head, 5, 6, 0.f, {0.f, 0.f, 20.f, 20.f});     // 0.5
  set_anchor(head, 7, 8, 0.5f, {0.f, 0.f, 20.f, 20.f});    // 0.622459
  set_anchor(head, 9, 10, 2.f, {0.f, 0.f, 20.f, 20.f});    // 0.880797
  auto scores = [&](float min_score) {
    std::vector<float> out;
    for (const auto& d : mp::decode(head, min_score)) out.push_back(d.score);
    return out;
  };
  EXPECT_EQ(scores(0.2f).size(), 4u);
  // A score that reaches the threshold is kept: sigmoid(0) = 0.5 at 0.5.
  ASSERT_EQ(scores(0.5f).size(), 3u);
  EXPECT_FLOAT_EQ(scores(0.5f)[0], 0.5f);
  ASSERT_EQ(scores(0.6f).size(), 2u);
  EXPECT_NEAR(scores(0.6f)[0], 0.622459f, 1e-5f);
  ASSERT_EQ(scores(0.88f).size(), 1u);
  EXPECT_NEAR(scores(0.88f)[0], 0.880797f, 1e-5f);
  EXPECT_TRUE(scores(0.9f).empty());
  // All background (score 2e-9) at the pack's threshold: nothing.
  EXPECT_TRUE(mp::decode(background_head(), 0.6f).empty());
}

TEST(MediapipeDecoding, HugeLogitsAreClippedAndImpossibleBoxesAndShortHeadsGiveNothing) {
  std::vector<float> head = background_head();
  // A huge logit is clipped at 100: score 1, no overflow.
  set_anchor(head, 10, 20, 1e30f, {3.f, -2.f, 40.f, 36.f});
  const auto clipped = mp::decode(head, 0.5f);
  ASSERT_EQ(clipped.size(), 1u);
  EXPECT_FLOAT_EQ(clipped[0].score, 1.f);
  expect_box(clipped[0].box, {65.f, 22.f, 105.f, 58.f}, "clipped logit");
  // Sizes of zero or below are no box.
  set_anchor(head, 10, 20, 2.f, {3.f, -2.f, -1.f, 36.f});
  EXPECT_TRUE(mp::decode(head, 0.5f).empty());
  set_anchor(head, 10, 20, 2.f, {3.f, -2.f, 40.f, 0.f});
  EXPECT_TRUE(mp::decode(head, 0.5f).empty());
  // A head one value short of 2304 x 17 is not read at all (never past its end).
  set_anchor(head, 10, 20, 2.f, {3.f, -2.f, 40.f, 36.f});
  ASSERT_EQ(mp::decode(head, 0.5f).size(), 1u);
  EXPECT_TRUE(mp::decode(std::span<const float>(head).first(head.size() - 1), 0.5f).empty());
  // A NaN score (a broken model's output) is no face, whatever the threshold.
  set_anchor(head, 10, 20, std::numeric_limits<float>::quiet_NaN(), {3.f, -2.f, 40.f, 36.f});
  EXPECT_TRUE(mp::decode(head, 0.5f).empty());
  EXPECT_TRUE(mp::decode(head, 0.f).empty());
}

TEST(MediapipeDecoding, WeightedNmsAveragesTheOverlappingBoxesByScore) {
  std::vector<Detection> in = {
      {{0, 0, 10, 10}, 0.6f},    // overlaps the best: IoU 81/119 = 0.68
      {{1, 1, 11, 11}, 0.9f},    // the best
      {{50, 50, 60, 60}, 0.7f},  // elsewhere: kept on its own
      {{8, 8, 18, 18}, 0.65f},   // touches the best: IoU 9/191 = 0.05 < 0.3, kept
  };
  const auto out = mp::weighted_nms(in, 0.3f, 100);
  ASSERT_EQ(out.size(), 3u);
  // (0.9 * 1 + 0.6 * 0) / 1.5 = 0.6 and (0.9 * 11 + 0.6 * 10) / 1.5 = 10.6; the best score stays.
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_NEAR(out[0].box.x1, 0.6f, 1e-6f);
  EXPECT_NEAR(out[0].box.y2, 10.6f, 1e-5f);
  EXPECT_FLOAT_EQ(out[1].score, 0.7f);
  EXPECT_FLOAT_EQ(out[1].box.x1, 50.f);
  EXPECT_FLOAT_EQ(out[2].score, 0.65f);
  EXPECT_EQ(mp::weighted_nms(in, 0.3f, 1).size(), 1u);
}

TEST(MediapipeDecoding, CalibrationFramesTheSquareBoxTallerAndHigherLikeSsd) {
  // What the calibration is for (the fit itself is checked on real faces in
  // CalibratedBoxesOverlapTheSsdBoxesOfTheSameFaces): face-api.js's SSD frames a face taller than wide
  // (height / width 1.08..1.57, median 1.33) and higher up the forehead than BlazeFace's square box.
  const Box square{40, 60, 140, 160};
  const Box ssd = mp::to_ssd_box(square);
  EXPECT_NEAR(ssd.height() / ssd.width(), 1.33f, 0.1f);
  EXPECT_LT(ssd.y1, square.y1);
  EXPECT_LT((ssd.y1 + ssd.y2) / 2, (square.y1 + square.y2) / 2);
  EXPECT_GT(iou(ssd, square), 0.7f);  // the same face
  // A framing, not a place: a face moved or twice the size gets its box moved or twice the size.
  const Box moved = mp::to_ssd_box({65, 50, 165, 150});
  expect_box(moved, {ssd.x1 + 25, ssd.y1 - 10, ssd.x2 + 25, ssd.y2 - 10}, "moved by (25, -10)", 1e-3f);
  const Box doubled = mp::to_ssd_box({80, 120, 280, 320});
  expect_box(doubled, {2 * ssd.x1, 2 * ssd.y1, 2 * ssd.x2, 2 * ssd.y2}, "twice the size", 1e-3f);
}

// ---------------------------------------------------------------------------------------------------
// The detector on real photos.
// ---------------------------------------------------------------------------------------------------
class MediapipeDetector : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pack_ = new ModelPack(pack_with_fast_detector());
    detector_ = make_detector(*pack_->fast_detector, {}).release();
  }
  static void TearDownTestSuite() {
    delete detector_;
    delete pack_;
  }
  static std::vector<Detection> faces_of(const std::filesystem::path& path, const DetectOptions& options = {}) {
    return detector_->detect(decode_image_file(path).bgr, options);
  }
  static inline ModelPack* pack_ = nullptr;
  static inline Detector* detector_ = nullptr;
};

TEST_F(MediapipeDetector, PackDescribesItAndLeavesTheFingerprintAlone) {
  const auto& fast = *pack_->fast_detector;
  EXPECT_EQ(fast.kind, "mediapipe_face_full");
  EXPECT_EQ(fast.file.filename(), "mediapipe_face_full.onnx");
  EXPECT_EQ(fast.input.width, 192);
  EXPECT_EQ(fast.letterbox, "pad_centered");
  EXPECT_FLOAT_EQ(fast.score_threshold, 0.6f);
  EXPECT_FLOAT_EQ(fast.nms_iou, 0.3f);
  // The same pack without the fast_detector section has the same fingerprint: libraries stay valid.
  const auto dir = std::filesystem::temp_directory_path() / ("facesearch_pack_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ifstream in(pack_->dir / "manifest.json");
  auto manifest = nlohmann::json::parse(in);
  manifest.erase("fast_detector");
  std::ofstream(dir / "manifest.json") << manifest.dump(2);
  for (const auto& entry : std::filesystem::directory_iterator(pack_->dir))
    if (entry.path().extension() == ".onnx")
      std::filesystem::create_symlink(entry.path(), dir / entry.path().filename());
  const ModelPack without = load_model_pack(dir);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(without.fast_detector.has_value());
  EXPECT_EQ(without.fingerprint, pack_->fingerprint);
}

TEST_F(MediapipeDetector, UnknownKindsAndWrongInputSizesAreModelErrors) {
  DetectorSpec spec = *pack_->fast_detector;
  spec.kind = "retinaface_mnet";
  try {
    make_detector(spec, {});
    ADD_FAILURE() << "unknown kind accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("unknown detector kind 'retinaface_mnet'"), std::string::npos) << e.what();
  }
  // A known kind on the wrong model (the MediaPipe net is not a YuNet): an error naming the file.
  spec.kind = "yunet";
  try {
    make_detector(spec, {});
    ADD_FAILURE() << "a MediaPipe model accepted as YuNet";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find(spec.file.filename().string()), std::string::npos) << e.what();
  }
  spec = *pack_->fast_detector;
  spec.input.width = spec.input.height = 128;
  try {
    make_detector(spec, {});
    ADD_FAILURE() << "wrong input size accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("mediapipe_face_full.onnx"), std::string::npos) << e.what();
  }
}

TEST_F(MediapipeDetector, NoFaceOnPhotosWithoutPeople) {
  const auto files = images_in("noface");
  ASSERT_EQ(files.size(), 10u);
  for (const auto& f : files) {
    const auto faces = faces_of(f);
    EXPECT_TRUE(faces.empty()) << f << ": " << faces.size() << " false face(s), first score "
                               << (faces.empty() ? 0 : faces[0].score);
  }
}

TEST_F(MediapipeDetector, SceneCountsMatchAnnotations) {
  const auto counts = eval::annotated_scene_counts(testdata_dir() / "faces");
  ASSERT_GE(counts.size(), 20u);
  int expected_total = 0, found_total = 0, abs_error = 0;
  for (const auto& [rel, expected] : counts) {
    const int found = static_cast<int>(faces_of(testdata_dir() / "faces" / rel).size());
    expected_total += expected, found_total += found, abs_error += std::abs(found - expected);
    EXPECT_LE(std::abs(found - expected), 1) << rel << ": expected " << expected << ", found " << found;
  }
  std::printf("scenes: %d of %d annotated faces found, sum |error| %d\n", found_total, expected_total, abs_error);
  // Measured: 54 of 55 (one small face missed in dlib_2007_007763), no extra face.
  EXPECT_GE(found_total, 54);
  EXPECT_LE(found_total, expected_total);
  EXPECT_LE(abs_error, 1);
}

TEST_F(MediapipeDetector, PeoplePhotosAloneAndWithThePaddedRetry) {
  const auto files = images_in("people");
  ASSERT_EQ(files.size(), 118u);
  const auto retry = with_padded_retry(make_detector(*pack_->fast_detector, {}));
  int found = 0, found_with_retry = 0;
  for (const auto& f : files) {
    const cv::Mat img = decode_image_file(f).bgr;
    const auto faces = detector_->detect(img);
    found += !faces.empty();
    found_with_retry += !retry->detect(img).empty();
    EXPECT_LE(faces.size(), 2u) << f;  // one person (deepface_img11_reflection has a mirror image)
  }
  std::printf("people: a face in %d of %zu photos, %d with the padded retry\n", found, files.size(), found_with_retry);
  // Measured: 95 alone (it misses tight crops: face-api.js's 150-px and dlib's 150-px chips), all 118
  // with the retry (SSD + retry: 114).
  EXPECT_GE(found, 95);
  EXPECT_EQ(found_with_retry, 118);
}

TEST_F(MediapipeDetector, BatchEqualsOneByOne) {
  std::vector<cv::Mat> images;
  for (const char* rel : {"scenes/compreface_000_5.jpg", "people/obama/fr_obama.jpg", "scenes/fr_two_people.jpg"})
    images.push_back(decode_image_file(testdata_dir() / "faces" / rel).bgr);
  const auto batch = detector_->detect_batch(images, {});
  ASSERT_EQ(batch.size(), 3u);
  for (size_t i = 0; i < images.size(); ++i) {
    const auto single = detector_->detect(images[i]);
    ASSERT_EQ(single.size(), batch[i].size()) << i;
    ASSERT_FALSE(single.empty()) << i;
    for (size_t k = 0; k < single.size(); ++k) {
      EXPECT_EQ(single[k].detector, "mediapipe_face_full");
      EXPECT_NEAR(single[k].score, batch[i][k].score, 1e-4f);
      EXPECT_GT(iou(single[k].box, batch[i][k].box), 0.999f);
    }
  }
}

TEST_F(MediapipeDetector, LetterboxMapsBackToImagePixels) {
  // A tall and a wide photo, and each padded by hand to a square with black, centred: the network sees
  // (nearly) the same input, so the faces must come back at the same place, shifted by the padding.
  for (const char* rel : {"people/obama/fr_obama.jpg", "scenes/compreface_000_5.jpg"}) {
    const cv::Mat img = decode_image_file(testdata_dir() / "faces" / rel).bgr;
    const int side = std::max(img.cols, img.rows);
    const int left = (side - img.cols) / 2, top = (side - img.rows) / 2;
    cv::Mat square;
    cv::copyMakeBorder(img, square, top, side - img.rows - top, left, side - img.cols - left, cv::BORDER_CONSTANT,
                       cv::Scalar::all(0));
    const auto faces = detector_->detect(img);
    const auto padded = detector_->detect(square);
    ASSERT_FALSE(faces.empty()) << rel;
    ASSERT_EQ(faces.size(), padded.size()) << rel;
    for (const auto& d : faces) {
      const Box expected{d.box.x1 + left, d.box.y1 + top, d.box.x2 + left, d.box.y2 + top};
      float best = 0;
      for (const auto& p : padded) best = std::max(best, iou(expected, p.box));
      std::printf("%s: IoU %.3f\n", rel, best);
      EXPECT_GT(best, 0.95f) << rel;
    }
  }
}

TEST_F(MediapipeDetector, CalibratedBoxesOverlapTheSsdBoxesOfTheSameFaces) {
  // Each SSD face (the pack's detector with its padded retry, as the pipeline runs it) paired with the
  // fast detector's face that overlaps it most (IoU >= 0.3), on people/ and scenes/.
  RuntimeOptions runtime;
  runtime.intra_op_threads = 2;
  const auto ssd = make_detector(*pack_, runtime);
  const auto native = make_mediapipe_detector(*pack_->fast_detector, runtime, BoxFraming::kNative);
  std::vector<double> calibrated, uncalibrated;
  for (const char* folder : {"people", "scenes"}) {
    for (const auto& f : images_in(folder)) {
      const cv::Mat img = decode_image_file(f).bgr;
      const auto s = ssd->detect(img);
      const auto b = detector_->detect(img);
      const auto n = native->detect(img);
      ASSERT_EQ(b.size(), n.size()) << f;
      std::vector<bool> used(b.size(), false);
      for (const auto& sf : s) {
        int best = -1;
        float best_iou = 0.3f;
        for (size_t k = 0; k < n.size(); ++k)
          if (const float o = iou(sf.box, n[k].box); !used[k] && o >= best_iou) best = static_cast<int>(k), best_iou = o;
        if (best < 0) continue;
        used[best] = true;
        calibrated.push_back(iou(sf.box, b[best].box));
        uncalibrated.push_back(best_iou);
      }
    }
  }
  const double mean = std::accumulate(calibrated.begin(), calibrated.end(), 0.0) / calibrated.size();
  const double mean_before = std::accumulate(uncalibrated.begin(), uncalibrated.end(), 0.0) / uncalibrated.size();
  std::sort(calibrated.begin(), calibrated.end());
  std::printf("%zu faces paired: IoU with SSD mean %.3f (uncalibrated %.3f), p10 %.3f, min %.3f\n", calibrated.size(),
              mean, mean_before, calibrated[calibrated.size() / 10], calibrated.front());
  // Measured: 189 faces paired, IoU mean 0.795 (uncalibrated 0.717), p10 0.670, min 0.462. BlazeFace's
  // boxes are square, SSD's are not (height/width 1.08..1.57), so a fixed calibration cannot go much higher.
  EXPECT_GE(calibrated.size(), 185u);
  EXPECT_GE(mean, 0.78);
  EXPECT_GE(mean - mean_before, 0.06);
  EXPECT_GE(calibrated[calibrated.size() / 10], 0.65);
}

}  // namespace
}  // namespace facesearch
