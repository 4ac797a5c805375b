// OpenCV zoo's face pair. YuNet (src/detect/yunet_decoder.cpp, yunet_detector.cpp): decoding against
// hand-computed expectations (score, box and keypoint formulas, padding to 32, OpenCV's integer-rectangle
// NMS and top_k), and the detector on the synthetic models of tools/synthetic_models/make_yunet_sface.py
// (whose README says what they compute). SFace: facesearch's ArcFace alignment and ONNX path against
// OpenCV's own cv::FaceRecognizerSF (alignCrop, feature) running the synthetic SFace model.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect/face.hpp>

#include "align/aligner.h"
#include "core/error.h"
#include "detect/detector.h"
#include "detect/yunet_decoder.h"
#include "models/onnx_session.h"
#include "models/preprocess.h"

namespace facesearch {
namespace {

const std::filesystem::path kModels = FACESEARCH_SYNTHETIC_MODELS_DIR;

// ---------------------------------------------------------------------------------------------------
// Decoding on synthetic tensors.

void expect_box(const Box& got, const Box& want, float tolerance = 1e-3f) {
  EXPECT_NEAR(got.x1, want.x1, tolerance);
  EXPECT_NEAR(got.y1, want.y1, tolerance);
  EXPECT_NEAR(got.x2, want.x2, tolerance);
  EXPECT_NEAR(got.y2, want.y2, tolerance);
}

// The three levels of a padded_width x padded_height input, all zero; cells set by hand.
struct SyntheticOutputs {
  int width, height;
  std::vector<float> cls[3], obj[3], bbox[3], kps[3];
  SyntheticOutputs(int padded_width, int padded_height) : width(padded_width), height(padded_height) {
    for (int l = 0; l < 3; ++l) {
      const size_t n = size_t(width / yunet::kStrides[l]) * size_t(height / yunet::kStrides[l]);
      cls[l].assign(n, 0.f), obj[l].assign(n, 0.f), bbox[l].assign(n * 4, 0.f), kps[l].assign(n * 10, 0.f);
    }
  }
  // Level l (0: stride 8), cell row r, column c.
  void set(int l, int r, int c, float cls_value, float obj_value, std::array<float, 4> box,
           std::array<float, 10> keypoints = {}) {
    const size_t i = size_t(r) * size_t(width / yunet::kStrides[l]) + size_t(c);
    cls[l][i] = cls_value, obj[l][i] = obj_value;
    std::copy(box.begin(), box.end(), &bbox[l][i * 4]);
    std::copy(keypoints.begin(), keypoints.end(), &kps[l][i * 10]);
  }
  std::vector<yunet::Level> levels() const {
    std::vector<yunet::Level> out;
    for (int l = 0; l < 3; ++l) out.push_back({yunet::kStrides[l], cls[l], obj[l], bbox[l], kps[l]});
    return out;
  }
  std::vector<Detection> decode(float score_threshold, float nms_threshold = 0.3f, int top_k = 5000,
                                yunet::Fit fit = {}) const {
    return yunet::decode(levels(), width, height, {score_threshold, nms_threshold, top_k}, fit);
  }
};

TEST(YuNetDecoding, InputIsPaddedToTheNextMultipleOf32) {
  EXPECT_EQ(yunet::padded_size(1), 32);
  EXPECT_EQ(yunet::padded_size(32), 32);
  EXPECT_EQ(yunet::padded_size(33), 64);
  EXPECT_EQ(yunet::padded_size(200), 224);
  EXPECT_EQ(yunet::padded_size(300), 320);
  EXPECT_EQ(yunet::padded_size(640), 640);
}

TEST(YuNetDecoding, PhotosAreShrunkToFitTheBoundAndNeverEnlarged) {
  auto f = yunet::fit_photo(1280, 960, 640, 640);  // the width fills: scale 1/2
  EXPECT_EQ(f.width, 640);
  EXPECT_EQ(f.height, 480);
  EXPECT_FLOAT_EQ(f.scale_x, 2.f);
  EXPECT_FLOAT_EQ(f.scale_y, 2.f);
  f = yunet::fit_photo(1000, 3000, 640, 640);  // the height fills; width round(213.33) = 213
  EXPECT_EQ(f.width, 213);
  EXPECT_EQ(f.height, 640);
  EXPECT_FLOAT_EQ(f.scale_x, 1000.f / 213);  // each axis maps back by its own ratio
  EXPECT_FLOAT_EQ(f.scale_y, 3000.f / 640);
  f = yunet::fit_photo(300, 200, 640, 640);  // fits already: as it is
  EXPECT_EQ(f.width, 300);
  EXPECT_EQ(f.height, 200);
  EXPECT_FLOAT_EQ(f.scale_x, 1.f);
  EXPECT_THROW(yunet::fit_photo(0, 10, 640, 640), Error);
}

TEST(YuNetDecoding, ScoreIsTheRootOfClampedClsTimesObj) {
  struct Case {
    float cls, obj;
    bool found;
    float score;
  };
  const Case cases[] = {
      {0.81f, 1.f, true, 0.9f},     // sqrt(0.81)
      {1.5f, 0.81f, true, 0.9f},    // cls clamped to 1
      {0.64f, 0.64f, true, 0.64f},  // sqrt(0.64 * 0.64)
      {-2.f, -3.f, false, 0.f},     // clamped to 0; unclamped sqrt(6) would be 2.45
      {0.25f, 0.81f, false, 0.f},   // 0.45 < 0.5
  };
  for (const Case& k : cases) {
    SyntheticOutputs o(32, 32);
    o.set(0, 1, 1, k.cls, k.obj, {0.5f, 0.5f, 0.f, 0.f});
    const auto found = o.decode(0.5f);
    ASSERT_EQ(found.size(), k.found ? 1u : 0u) << k.cls << " " << k.obj;
    if (k.found) EXPECT_NEAR(found[0].score, k.score, 1e-6f);
  }
}

TEST(YuNetDecoding, OneCellDecodesToTheHandComputedBoxAndKeypoints) {
  SyntheticOutputs o(64, 32);  // stride 16: 4 columns, 2 rows
  const std::array<float, 10> k = {0.1f, 0.2f, 0.9f, 0.2f, 0.5f, 0.5f, 0.2f, 0.8f, 0.8f, 0.8f};
  o.set(1, 1, 2, 1.f, 1.f, {0.25f, 0.5f, 0.f, std::log(2.f)}, k);
  // Input pixels: centre ((2 + 0.25) * 16, (1 + 0.5) * 16) = (36, 24), size (e^0 * 16, e^ln2 * 16) = (16, 32):
  // (28, 8) - (44, 40). Photo pixels with a fit of 2 across and 3 down: (56, 24) - (88, 120).
  const auto found = o.decode(0.9f, 0.3f, 5000, {.scale_x = 2.f, .scale_y = 3.f});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FLOAT_EQ(found[0].score, 1.f);
  EXPECT_NEAR(found[0].box.x1, 56, 1e-4);
  EXPECT_NEAR(found[0].box.y1, 24, 1e-4);
  EXPECT_NEAR(found[0].box.x2, 88, 1e-4);
  EXPECT_NEAR(found[0].box.y2, 120, 1e-4);
  ASSERT_EQ(found[0].keypoints.size(), 5u);
  for (int p = 0; p < 5; ++p) {
    EXPECT_NEAR(found[0].keypoints[p].x, (k[2 * p] + 2) * 16 * 2, 1e-4) << p;
    EXPECT_NEAR(found[0].keypoints[p].y, (k[2 * p + 1] + 1) * 16 * 3, 1e-4) << p;
  }
  // YuNet's order: right eye (image left) before left eye, as the ArcFace template.
  EXPECT_LT(found[0].keypoints[0].x, found[0].keypoints[1].x);
}

TEST(YuNetDecoding, EachLevelDecodesWithItsOwnStrideBestFirst) {
  SyntheticOutputs o(64, 64);
  o.set(0, 7, 7, 0.9025f, 1.f, {0.5f, 0.5f, 0.f, 0.f});  // score 0.95, stride 8: (56, 56) - (64, 64)
  o.set(1, 0, 0, 1.f, 1.f, {0.5f, 0.5f, 0.f, 0.f});      // score 1, stride 16: (0, 0) - (16, 16)
  o.set(2, 0, 1, 0.9216f, 1.f, {0.5f, 1.5f, 0.f, 0.f});  // score 0.96, stride 32: (32, 32) - (64, 64)
  // The stride-8 box lies inside the stride-32 one: IoU 64 / 1024 = 0.0625 <= 0.3, all three kept.
  const auto found = o.decode(0.9f, 0.3f);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_FLOAT_EQ(found[0].score, 1.f);
  expect_box(found[0].box, {0, 0, 16, 16});
  EXPECT_NEAR(found[1].score, 0.96f, 1e-6);
  expect_box(found[1].box, {32, 32, 64, 64});
  EXPECT_NEAR(found[2].score, 0.95f, 1e-6);
  expect_box(found[2].box, {56, 56, 64, 64});
}

TEST(YuNetDecoding, ALoneFaceAtExactlyTheThresholdIsKeptAsInOpenCv) {
  // postProcess keeps score >= threshold; NMSBoxes (run only for two faces or more) keeps score > threshold.
  SyntheticOutputs o(64, 32);
  o.set(0, 0, 0, 0.5f, 0.5f, {0.5f, 0.5f, 0.f, 0.f});  // sqrt(0.25) = 0.5 exactly
  auto found = o.decode(0.5f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].score, 0.5f);
  o.set(0, 3, 7, 0.64f, 1.f, {0.5f, 0.5f, 0.f, 0.f});  // 0.8, far away
  found = o.decode(0.5f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FLOAT_EQ(found[0].score, 0.8f);
}

TEST(YuNetDecoding, NmsRunsOnTruncatedIntegerRects) {
  EXPECT_EQ(yunet::truncate_to_int(-3.7f, 2.9f, 10.99f, 0.5f).x, -3);  // toward zero, as int(x) in C++
  EXPECT_EQ(yunet::truncate_to_int(-3.7f, 2.9f, 10.99f, 0.5f).y, 2);
  EXPECT_EQ(yunet::truncate_to_int(-3.7f, 2.9f, 10.99f, 0.5f).width, 10);
  EXPECT_EQ(yunet::truncate_to_int(-3.7f, 2.9f, 10.99f, 0.5f).height, 0);

  // Two 8x8 boxes on one row: A from x = 10.9 (cell 0, dx = 1.8625), B from x = 14 (cell 1, dx = 1.25).
  // As floats they overlap 4.9 * 8 / (128 - 39.2) = 0.44; as OpenCV's Rect2i(10, 0, 8, 8) and
  // Rect2i(14, 0, 8, 8): 32 / 96 = 0.33.
  SyntheticOutputs o(32, 32);
  o.set(0, 0, 0, 0.96f, 0.96f, {1.8625f, 0.5f, 0.f, 0.f});
  o.set(0, 0, 1, 0.95f, 0.95f, {1.25f, 0.5f, 0.f, 0.f});
  auto found = o.decode(0.9f, 0.4f);
  ASSERT_EQ(found.size(), 2u);  // a float IoU would have dropped B
  EXPECT_NEAR(found[0].box.x1, 10.9f, 1e-5);  // the kept box itself is not truncated
  EXPECT_NEAR(found[0].score, 0.96f, 1e-6);
  EXPECT_NEAR(found[1].box.x1, 14.f, 1e-5);
  found = o.decode(0.9f, 0.3f);  // 0.33 > 0.3
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, 0.96f, 1e-6);
}

TEST(YuNetDecoding, OverlapIsOpenCvsRectOverlap) {
  const yunet::IntRect a{0, 0, 10, 10};
  EXPECT_FLOAT_EQ(yunet::overlap(a, {5, 0, 10, 10}), 50.f / 150.f);  // no +1 pixel
  EXPECT_FLOAT_EQ(yunet::overlap(a, {0, 0, 5, 5}), 25.f / 100.f);
  EXPECT_FLOAT_EQ(yunet::overlap(a, a), 1.f);
  EXPECT_FLOAT_EQ(yunet::overlap(a, {10, 0, 10, 10}), 0.f);  // touching
  EXPECT_FLOAT_EQ(yunet::overlap(a, {20, 20, 5, 5}), 0.f);
  EXPECT_FLOAT_EQ(yunet::overlap({3, 3, 0, 0}, {7, 7, 0, 0}), 1.f);  // two empty rects: Jaccard distance 0
}

TEST(YuNetDecoding, NmsBoxesSortsStablyAndCutsToTopKBeforeSuppressing) {
  const std::vector<yunet::IntRect> apart = {{0, 0, 10, 10}, {20, 0, 10, 10}, {40, 0, 10, 10}, {60, 0, 10, 10}};
  const std::vector<float> scores = {0.95f, 0.97f, 0.96f, 0.91f};
  EXPECT_EQ(yunet::nms_boxes(apart, scores, 0.9f, 0.3f, 0), (std::vector<size_t>{1, 2, 0, 3}));  // 0: no cap
  EXPECT_EQ(yunet::nms_boxes(apart, scores, 0.9f, 0.3f, 2), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(yunet::nms_boxes(apart, scores, 0.95f, 0.3f, 0), (std::vector<size_t>{1, 2}));  // strictly above
  // Equal scores keep index order (std::stable_sort): the first of two identical boxes wins.
  const std::vector<yunet::IntRect> same = {{0, 0, 10, 10}, {0, 0, 10, 10}};
  const std::vector<float> tied = {0.95f, 0.95f};
  EXPECT_EQ(yunet::nms_boxes(same, tied, 0.9f, 0.3f, 0), (std::vector<size_t>{0}));
  // top_k caps the candidates before suppression: with the best two being one face, one face is left,
  // although box 0 (third best, apart from both) would have survived without the cap.
  const std::vector<yunet::IntRect> pair = {{60, 0, 10, 10}, {0, 0, 10, 10}, {1, 0, 10, 10}};
  const std::vector<float> s3 = {0.92f, 0.99f, 0.98f};
  EXPECT_EQ(yunet::nms_boxes(pair, s3, 0.9f, 0.3f, 2), (std::vector<size_t>{1}));
  EXPECT_EQ(yunet::nms_boxes(pair, s3, 0.9f, 0.3f, 3), (std::vector<size_t>{1, 0}));
  // Through decode: three apart faces, top_k 2.
  SyntheticOutputs o(64, 32);
  o.set(0, 0, 0, 0.9025f, 1.f, {0.5f, 0.5f, 0.f, 0.f});  // 0.95
  o.set(0, 0, 3, 0.9409f, 1.f, {0.5f, 0.5f, 0.f, 0.f});  // 0.97
  o.set(0, 0, 6, 0.9216f, 1.f, {0.5f, 0.5f, 0.f, 0.f});  // 0.96
  const auto found = o.decode(0.9f, 0.3f, 2);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NEAR(found[0].score, 0.97f, 1e-6);
  EXPECT_NEAR(found[1].score, 0.96f, 1e-6);
}

TEST(YuNetDecoding, OutputsThatDoNotFitThePaddedGridAreAModelError) {
  SyntheticOutputs o(64, 32);
  try {
    yunet::decode(o.levels(), 64, 64, {}, {});  // tensors for 64x32, decoded as 64x64
    ADD_FAILURE() << "decoded outputs of the wrong size";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("stride 8"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------
// The detector on the synthetic models (make_yunet_sface.py): per stride s, cls and obj are the means of
// two colour channels over each s x s cell, / 255; yellow fires stride 8, cyan 16, magenta 32. Boxes:
// centre (c + 0.5, r + 0.25) strides, 3 strides wide, 2 high, i.e. (c - 1, r - 0.75) to (c + 2, r + 1.25)
// strides; keypoints KPS strides from the cell's corner.

const cv::Scalar kYellow(0, 255, 255), kCyan(255, 255, 0), kMagenta(255, 0, 255);  // BGR
constexpr float kKps[10] = {0.2f, 0.3f, 0.8f, 0.3f, 0.5f, 0.6f, 0.3f, 0.9f, 0.7f, 0.9f};

Box cell_box(int stride, int c, int r) {
  const float s = float(stride);
  return {(c - 1) * s, (r - 0.75f) * s, (c + 2) * s, (r + 1.25f) * s};
}

DetectorSpec yunet_spec(const std::string& variant) {
  DetectorSpec spec;
  spec.kind = "yunet";
  spec.file = kModels / variant / "face_detection_yunet_2023mar.onnx";
  spec.input.width = spec.input.height = 640;
  spec.input.rgb = false;  // cv::dnn::blobFromImage's defaults: BGR, raw 0..255
  spec.input.mean = {0, 0, 0};
  spec.input.scale = 1.f;
  spec.score_threshold = 0.9f;
  spec.nms_iou = 0.3f;
  spec.max_faces = 100;
  return spec;
}

std::vector<Detection> by_width(std::vector<Detection> found) {
  std::sort(found.begin(), found.end(), [](const Detection& a, const Detection& b) { return a.box.width() < b.box.width(); });
  return found;
}

// 300x200 (padded to 320x224, not resized): a yellow 8x8 square in stride-8 cell (1, 2), a cyan 16x16 in
// stride-16 cell (4, 2), a magenta 32x32 in stride-32 cell (6, 4).
cv::Mat three_colour_photo() {
  cv::Mat photo(200, 300, CV_8UC3, cv::Scalar::all(0));
  photo(cv::Rect(8, 16, 8, 8)).setTo(kYellow);
  photo(cv::Rect(64, 32, 16, 16)).setTo(kCyan);
  photo(cv::Rect(192, 128, 32, 32)).setTo(kMagenta);
  return photo;
}

void expect_three_colours(const std::vector<Detection>& found) {
  ASSERT_EQ(found.size(), 3u);
  const auto sorted = by_width(found);
  expect_box(sorted[0].box, cell_box(8, 1, 2));    // (0, 10) - (24, 26)
  expect_box(sorted[1].box, cell_box(16, 4, 2));   // (48, 20) - (96, 52)
  expect_box(sorted[2].box, cell_box(32, 6, 4));   // (160, 104) - (256, 168)
  for (const auto& d : found) EXPECT_NEAR(d.score, 1.f, 1e-5);
}

TEST(YuNetDetector, FindsEachColourAtItsStrideInBgrOrderAndRawPixelValues) {
  const auto detector = make_yunet_detector(yunet_spec("yunet"), {});
  EXPECT_EQ(detector->keypoints(), 5);
  const cv::Mat photo = three_colour_photo();
  const auto found = detector->detect(photo);
  expect_three_colours(found);
  for (const auto& d : found) EXPECT_EQ(d.detector, "yunet");

  // Read as RGB, yellow looks cyan (8x8: a quarter of a stride-16 cell, score 0.25: not found) and cyan
  // looks yellow (stride-8 faces); magenta stays magenta.
  auto rgb = yunet_spec("yunet");
  rgb.input.rgb = true;
  const auto swapped = by_width(make_yunet_detector(rgb, {})->detect(photo));
  ASSERT_GE(swapped.size(), 2u);
  expect_box(swapped.back().box, cell_box(32, 6, 4));
  for (size_t i = 0; i + 1 < swapped.size(); ++i) {
    EXPECT_NEAR(swapped[i].box.width(), 24, 1e-3);  // stride 8 only,
    EXPECT_GE(swapped[i].box.x1, 64 - 8 - 1e-3);    // in the cyan square's cells
  }
  // Scaled to 0..1 (a mean/std normalisation), no cell scores above 1/255.
  auto unit = yunet_spec("yunet");
  unit.input.scale = 1.f / 255;
  EXPECT_TRUE(make_yunet_detector(unit, {})->detect(photo).empty());
}

TEST(YuNetDetector, KeypointsAndBoxesAreScaledBackToThePhoto) {
  // 1280x960 -> 640x480 (scale 1/2): a 16x16 yellow square at (160, 320) becomes the 8x8 square of
  // stride-8 cell (10, 20) in the input.
  cv::Mat photo(960, 1280, CV_8UC3, cv::Scalar::all(0));
  photo(cv::Rect(160, 320, 16, 16)).setTo(kYellow);
  for (const std::string variant : {"yunet", "yunet_fixed"}) {
    SCOPED_TRACE(variant);
    const auto found = make_yunet_detector(yunet_spec(variant), {})->detect(photo);
    ASSERT_EQ(found.size(), 1u);
    expect_box(found[0].box, cell_box(8, 10, 20).scaled(2.f));  // (144, 308) - (192, 340)
    ASSERT_EQ(found[0].keypoints.size(), 5u);
    for (int p = 0; p < 5; ++p) {
      EXPECT_NEAR(found[0].keypoints[p].x, (kKps[2 * p] + 10) * 8 * 2, 1e-3) << p;
      EXPECT_NEAR(found[0].keypoints[p].y, (kKps[2 * p + 1] + 20) * 8 * 2, 1e-3) << p;
    }
  }
}

TEST(YuNetDetector, FixedAndDynamicInputsFindTheSameFaces) {
  // Dynamic: the 300x200 photo runs as 320x224 (1120 stride-8 cells); fixed: as 640x640 (6400).
  const cv::Mat photo = three_colour_photo();
  expect_three_colours(make_yunet_detector(yunet_spec("yunet_fixed"), {})->detect(photo));
  // A face in the last cells of the photo, next to the zero padding: stride-8 cell (36, 24).
  cv::Mat corner(200, 300, CV_8UC3, cv::Scalar::all(0));
  corner(cv::Rect(288, 192, 8, 8)).setTo(kYellow);
  for (const std::string variant : {"yunet", "yunet_fixed"}) {
    SCOPED_TRACE(variant);
    const auto found = make_yunet_detector(yunet_spec(variant), {})->detect(corner);
    ASSERT_EQ(found.size(), 1u);
    expect_box(found[0].box, cell_box(8, 36, 24));  // (280, 186) - (304, 210): past the photo, as OpenCV's
  }
  // A batch is the images one by one.
  const cv::Mat both[2] = {photo, corner};
  const auto batch = make_yunet_detector(yunet_spec("yunet"), {})->detect_batch(both, {});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].size(), 3u);
  EXPECT_EQ(batch[1].size(), 1u);
}

TEST(YuNetDetector, OptionsAndThePackSetThresholdsSizesAndCounts) {
  // A yellow 8x4 strip fills the top half of stride-8 cell (5, 5): cls = obj = 0.5, score 0.5.
  cv::Mat photo(200, 300, CV_8UC3, cv::Scalar::all(0));
  photo(cv::Rect(40, 40, 8, 4)).setTo(kYellow);
  photo(cv::Rect(200, 40, 8, 8)).setTo(kYellow);  // and a full face, score 1, in cell (25, 5)
  const auto detector = make_yunet_detector(yunet_spec("yunet"), {});
  EXPECT_EQ(detector->detect(photo).size(), 1u);  // the pack's 0.9
  DetectOptions options;
  options.score_threshold = 0.4f;
  auto found = detector->detect(photo, options);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NEAR(found[1].score, 0.5f, 1e-5);
  // Both boxes are 24x16: the shorter side decides.
  options.min_face_px = 16;
  EXPECT_EQ(detector->detect(photo, options).size(), 2u);
  options.min_face_px = 16.5f;
  EXPECT_TRUE(detector->detect(photo, options).empty());
  auto one = yunet_spec("yunet");
  one.max_faces = 1;
  options.min_face_px = 0;
  found = make_yunet_detector(one, {})->detect(photo, options);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, 1.f, 1e-5);
}

TEST(YuNetDetector, MissingOrMisshapenOutputsAreModelErrorsNamingTheFile) {
  const std::pair<std::string, std::string> broken[] = {{"yunet_missing", "kps_32"}, {"yunet_wrong", "bbox_16"}};
  for (const auto& [variant, output] : broken) {
    const auto spec = yunet_spec(variant);
    try {
      make_yunet_detector(spec, {});
      ADD_FAILURE() << variant << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      EXPECT_NE(std::string(e.what()).find(spec.file.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(output), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// SFace against OpenCV 4.6's own cv::FaceRecognizerSF.

const std::filesystem::path kSface = kModels / "sface" / "face_recognition_sface_2021dec.onnx";

// A deterministic 320x320 photo: smooth noise (blurred), with sharp-edged shapes on top.
cv::Mat textured_photo(bool sharp_edges) {
  cv::Mat photo(320, 320, CV_8UC3);
  cv::RNG rng(20231);
  rng.fill(photo, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(256));
  cv::GaussianBlur(photo, photo, cv::Size(0, 0), 4.0);
  cv::normalize(photo, photo, 0, 255, cv::NORM_MINMAX);
  if (sharp_edges) {
    cv::circle(photo, {150, 150}, 40, cv::Scalar(30, 200, 90), cv::FILLED);
    cv::rectangle(photo, cv::Rect(110, 190, 90, 25), cv::Scalar(240, 20, 20), cv::FILLED);
    cv::line(photo, {60, 60}, {260, 250}, cv::Scalar(255, 255, 255), 3);
  }
  return photo;
}

// Keypoints in YuNet's order, as detected faces would give them: the ArcFace template scaled, rotated
// and moved, plus a slightly non-similar (perturbed) set.
std::vector<std::array<Point, 5>> keypoint_sets() {
  std::vector<std::array<Point, 5>> sets;
  const auto tmpl = arcface_template_112();
  const struct { float scale, degrees, tx, ty; } poses[] = {{1.f, 0, 100, 100}, {1.6f, 15, 80, 70}, {0.8f, -25, 120, 140},
                                                            {2.1f, 5, 40, 30}};
  for (const auto& pose : poses) {
    const double a = pose.scale * std::cos(pose.degrees * CV_PI / 180), b = pose.scale * std::sin(pose.degrees * CV_PI / 180);
    std::array<Point, 5> k;
    for (int i = 0; i < 5; ++i) k[i] = Similarity{a, b, pose.tx, pose.ty}.apply(tmpl[i]);
    sets.push_back(k);
  }
  auto perturbed = sets[1];
  perturbed[0].x += 2.5f, perturbed[2].y -= 3.f, perturbed[4].x -= 1.5f;
  sets.push_back(perturbed);
  return sets;
}

cv::Mat face_row(const std::array<Point, 5>& k) {
  cv::Mat row(1, 15, CV_32F, cv::Scalar(0));  // x, y, w, h, 5 x (x, y), score: FaceDetectorYN's layout
  for (int i = 0; i < 5; ++i) row.at<float>(0, 4 + 2 * i) = k[i].x, row.at<float>(0, 5 + 2 * i) = k[i].y;
  return row;
}

double max_abs_difference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  double m = 0;
  cv::minMaxLoc(d.reshape(1), nullptr, &m);
  return m;
}

TEST(SFaceAlignment, ArcfaceAlignerGivesOpenCvsAlignCropChip) {
  // FaceRecognizerSF's getSimilarityTransformMatrix is Umeyama onto the same 5-point template, in float
  // for the points, with the template's mean hard-coded to 4 decimals: (56.0262, 71.9008) for
  // (56.02616, 71.90078). So its transform is facesearch's (insightface's) moved by (4e-5, 2e-5) px, and
  // warpAffine quantises source positions to 1/32 px: the chips differ by at most one such step at an
  // edge (255 / 32 = 8 levels), and by at most 1 level where the picture is smooth.
  const auto tmpl = arcface_template_112();
  double mean_x = 0, mean_y = 0;
  for (const Point& p : tmpl) mean_x += p.x / 5.0, mean_y += p.y / 5.0;
  const double shift_x = 56.0262 - mean_x, shift_y = 71.9008 - mean_y;
  EXPECT_LT(std::abs(shift_x), 1e-4);
  EXPECT_LT(std::abs(shift_y), 1e-4);

  const auto recognizer = cv::FaceRecognizerSF::create(kSface.string(), "");
  ASSERT_FALSE(recognizer.empty());
  const auto aligner = make_arcface_aligner(112);
  for (const bool sharp : {false, true}) {
    const cv::Mat photo = textured_photo(sharp);
    double worst = 0, worst_shifted = 0, mean_sum = 0;
    for (const auto& k : keypoint_sets()) {
      const cv::Mat ours = aligner->align(photo, k);
      cv::Mat theirs;
      recognizer->alignCrop(photo, face_row(k), theirs);
      ASSERT_EQ(theirs.size(), cv::Size(112, 112));
      ASSERT_EQ(theirs.type(), CV_8UC3);
      worst = std::max(worst, max_abs_difference(ours, theirs));
      cv::Mat diff;
      cv::absdiff(ours, theirs, diff);
      mean_sum += cv::mean(diff.reshape(1))[0];
      // facesearch's transform with OpenCV's rounded template mean.
      const Similarity m = fit_similarity(k, tmpl);
      const cv::Matx23d shifted(m.a, -m.b, m.tx + shift_x, m.b, m.a, m.ty + shift_y);
      cv::Mat same;
      cv::warpAffine(photo, same, shifted, cv::Size(112, 112), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      worst_shifted = std::max(worst_shifted, max_abs_difference(same, theirs));
    }
    const double mean_diff = mean_sum / keypoint_sets().size();
    std::printf("[ measured ] %s photo, %zu faces: arcface_5pt vs FaceRecognizerSF::alignCrop: max |diff| %.0f, "
                "mean %.4f; with OpenCV's rounded template mean: max %.0f\n",
                sharp ? "sharp-edged" : "smooth", keypoint_sets().size(), worst, mean_diff, worst_shifted);
    EXPECT_LE(worst, sharp ? 8.0 : 1.0);
    EXPECT_LT(mean_diff, 0.01);
    EXPECT_LE(worst_shifted, 1.0);
  }
}

TEST(SFaceFeatures, OpenCvFeatureMatchesTheOnnxRuntimePathWithRgbRawPixels) {
  const auto recognizer = cv::FaceRecognizerSF::create(kSface.string(), "");
  ASSERT_FALSE(recognizer.empty());
  const OnnxSession session(kSface, {});
  EXPECT_EQ(session.input_name(), "data");
  ASSERT_EQ(session.output_names(), std::vector<std::string>{"fc1"});
  EXPECT_EQ(session.input_shape(), (std::vector<std::int64_t>{1, 3, 112, 112}));

  const cv::Mat photo = textured_photo(true);
  const auto aligner = make_arcface_aligner(112);
  InputSpec rgb_raw;  // FaceRecognizerSF::feature: blobFromImage(chip, 1, 112x112, 0, swapRB = true)
  rgb_raw.width = rgb_raw.height = 112;
  rgb_raw.rgb = true;
  rgb_raw.mean = {0, 0, 0};
  rgb_raw.scale = 1.f;
  InputSpec bgr_raw = rgb_raw;
  bgr_raw.rgb = false;
  const std::int64_t shape[4] = {1, 3, 112, 112};
  std::vector<float> blob(3 * 112 * 112);
  double worst_all = 0, norm_all = 0;
  for (const auto& k : keypoint_sets()) {
    const cv::Mat chip = aligner->align(photo, k);
    cv::Mat expected;
    recognizer->feature(chip, expected);
    ASSERT_EQ(expected.total(), 128u);
    expected = expected.reshape(1, 1);
    write_chw(chip, rgb_raw, blob.data());
    const auto got = session.run(blob, shape);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].shape, (std::vector<std::int64_t>{1, 128}));
    ASSERT_EQ(got[0].data.size(), 128u);
    double worst = 0, norm = 0;
    for (int i = 0; i < 128; ++i) {
      worst = std::max(worst, std::abs(double(got[0].data[i]) - expected.at<float>(0, i)));
      norm = std::max(norm, std::abs(double(expected.at<float>(0, i))));
    }
    EXPECT_LT(worst, 1e-4 * std::max(1.0, norm)) << "largest value " << norm;
    worst_all = std::max(worst_all, worst), norm_all = std::max(norm_all, norm);
    // The channel order matters to this model: BGR gives another feature.
    write_chw(chip, bgr_raw, blob.data());
    const auto swapped = session.run(blob, shape);
    double apart = 0;
    for (int i = 0; i < 128; ++i) apart = std::max(apart, std::abs(double(swapped[0].data[i]) - expected.at<float>(0, i)));
    EXPECT_GT(apart, 0.01);
  }
  std::printf("[ measured ] FaceRecognizerSF::feature vs OnnxSession (RGB, raw 0..255): max |diff| %.2g, values up to %.3g\n",
              worst_all, norm_all);
}

}  // namespace
}  // namespace facesearch
