// SCRFD decoding (src/detect/scrfd_decoder.cpp) against hand-computed expectations: letterbox scale,
// anchor grid, distance decoding, keypoints, score threshold, insightface's NMS. Part of issue 5 (the
// InsightFace packs), before the detector is wired into the pipeline.
#include <gtest/gtest.h>

#include "core/error.h"
#include "detect/scrfd_decoder.h"

namespace facesearch {
namespace {

TEST(ScrfdDecoding, LetterboxKeepsTheAspectRatioAsInsightface) {
  // Landscape: the width fills the 640 input, height int(640 * 720 / 1280) = 360, det_scale 0.5.
  auto l = scrfd::letterbox(1280, 720, 640, 640);
  EXPECT_EQ(l.width, 640);
  EXPECT_EQ(l.height, 360);
  EXPECT_FLOAT_EQ(l.scale, 0.5f);
  // Portrait: the height fills it, width int(640 / 2) = 320, det_scale 640 / 1000.
  l = scrfd::letterbox(500, 1000, 640, 640);
  EXPECT_EQ(l.width, 320);
  EXPECT_EQ(l.height, 640);
  EXPECT_FLOAT_EQ(l.scale, 0.64f);
  // Truncation, not rounding: int(640 / (500 / 333)) = int(426.24) = 426.
  l = scrfd::letterbox(333, 500, 640, 640);
  EXPECT_EQ(l.width, 426);
  EXPECT_FLOAT_EQ(l.scale, 1.28f);
  EXPECT_THROW(scrfd::letterbox(0, 10, 640, 640), Error);
}

TEST(ScrfdDecoding, AnchorCentresAreTheGridTimesTheStrideEachTwice) {
  const auto c = scrfd::anchor_centres(640, 640, 32, 2);
  ASSERT_EQ(c.size(), 20u * 20u * 2u);
  EXPECT_EQ(c[0].x, 0);
  EXPECT_EQ(c[0].y, 0);
  EXPECT_EQ(c[1].x, 0);  // the same centre for the cell's second anchor
  EXPECT_EQ(c[1].y, 0);
  EXPECT_EQ(c[2].x, 32);
  EXPECT_EQ(c[2].y, 0);
  EXPECT_EQ(c[40].x, 0);  // next row
  EXPECT_EQ(c[40].y, 32);
  EXPECT_EQ(c.back().x, 608);
  EXPECT_EQ(c.back().y, 608);
  EXPECT_EQ(scrfd::anchor_centres(640, 640, 8, 2).size(), 12800u);
  EXPECT_EQ(scrfd::anchor_centres(640, 640, 16, 1).size(), 1600u);
}

// Three levels (strides 8, 16, 32) of zeros, one anchor set by hand.
struct SyntheticOutputs {
  std::vector<float> scores[3], distances[3], keypoints[3];
  SyntheticOutputs() {
    const int strides[3] = {8, 16, 32};
    for (int l = 0; l < 3; ++l) {
      const size_t n = size_t(640 / strides[l]) * size_t(640 / strides[l]) * 2;
      scores[l].assign(n, 0.f), distances[l].assign(n * 4, 0.f), keypoints[l].assign(n * 10, 0.f);
    }
  }
  std::vector<scrfd::Level> levels(bool with_keypoints) const {
    std::vector<scrfd::Level> out;
    const int strides[3] = {8, 16, 32};
    for (int l = 0; l < 3; ++l)
      out.push_back({strides[l], scores[l], distances[l], with_keypoints ? std::span<const float>(keypoints[l]) : std::span<const float>()});
    return out;
  }
};

TEST(ScrfdDecoding, OneAnchorDecodesToTheHandComputedBoxAndKeypoints) {
  SyntheticOutputs o;
  // Stride 16 (level 1), cell x = 5, y = 3, second anchor: index (3 * 40 + 5) * 2 + 1 = 251, centre (80, 48).
  const size_t i = 251;
  o.scores[1][i] = 0.9f;
  const float d[4] = {1, 2, 3, 4};  // left, top, right, bottom in strides
  std::copy(d, d + 4, &o.distances[1][i * 4]);
  for (int p = 0; p < 5; ++p) o.keypoints[1][i * 10 + 2 * p] = 0.5f * p, o.keypoints[1][i * 10 + 2 * p + 1] = -0.5f;
  const scrfd::Letterbox half{640, 360, 0.5f};  // a 1280x720 photo
  const auto levels = o.levels(true);
  const auto found = scrfd::decode(levels, 640, 640, 2, half, 0.5f, 0.4f);
  ASSERT_EQ(found.size(), 1u);
  // Input pixels: (80 - 16, 48 - 32, 80 + 48, 48 + 64) = (64, 16, 128, 112); photo pixels: / 0.5.
  EXPECT_FLOAT_EQ(found[0].box.x1, 128);
  EXPECT_FLOAT_EQ(found[0].box.y1, 32);
  EXPECT_FLOAT_EQ(found[0].box.x2, 256);
  EXPECT_FLOAT_EQ(found[0].box.y2, 224);
  EXPECT_FLOAT_EQ(found[0].score, 0.9f);
  ASSERT_EQ(found[0].keypoints.size(), 5u);
  for (int p = 0; p < 5; ++p) {
    EXPECT_FLOAT_EQ(found[0].keypoints[p].x, (80 + 0.5f * p * 16) / 0.5f);
    EXPECT_FLOAT_EQ(found[0].keypoints[p].y, (48 - 8) / 0.5f);
  }
  // A 6-output model: the same box, no keypoints.
  const auto no_kps = scrfd::decode(o.levels(false), 640, 640, 2, half, 0.5f, 0.4f);
  ASSERT_EQ(no_kps.size(), 1u);
  EXPECT_TRUE(no_kps[0].keypoints.empty());
  EXPECT_FLOAT_EQ(no_kps[0].box.x2, 256);
}

TEST(ScrfdDecoding, ScoreThresholdIsInclusive) {
  SyntheticOutputs o;
  o.scores[0][10] = 0.5f;     // kept: scores >= threshold
  o.scores[2][3] = 0.4999f;  // dropped
  const auto found = scrfd::decode(o.levels(true), 640, 640, 2, {640, 640, 1.f}, 0.5f, 0.4f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FLOAT_EQ(found[0].score, 0.5f);
}

TEST(ScrfdDecoding, NmsUsesInsightfacesPlusOnePixelConvention) {
  auto det = [](float x1, float y1, float x2, float y2, float score) {
    Detection d;
    d.box = {x1, y1, x2, y2};
    d.score = score;
    return d;
  };
  // A: 10x10 (+1 areas: 100). B overlaps by 9 columns: 90 / (100 + 100 - 90) = 0.82 > 0.4, dropped.
  // C overlaps by 5 columns: 50 / 150 = 0.33 <= 0.4, kept. D lies elsewhere.
  const std::vector<Detection> ds = {det(1, 0, 10, 9, 0.8f), det(0, 0, 9, 9, 0.9f), det(5, 0, 14, 9, 0.7f),
                                     det(100, 100, 120, 120, 0.95f)};
  const auto keep = scrfd::nms(ds, 0.4f);
  ASSERT_EQ(keep.size(), 3u);
  EXPECT_EQ(keep[0], 3u);  // best first
  EXPECT_EQ(keep[1], 1u);
  EXPECT_EQ(keep[2], 2u);
  // Plain IoU (no +1) of A and C is 36 / 126 = 0.29, with +1 it is 0.33: at 0.3 insightface's
  // convention drops C, the plain one would keep it.
  EXPECT_EQ(scrfd::nms(ds, 0.3f).size(), 2u);
}

TEST(ScrfdDecoding, OutputsThatDoNotFitTheGridAreAModelError) {
  SyntheticOutputs o;
  o.scores[1].pop_back();
  try {
    scrfd::decode(o.levels(true), 640, 640, 2, {640, 640, 1.f}, 0.5f, 0.4f);
    ADD_FAILURE() << "decoded outputs of the wrong size";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("stride 16"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace facesearch
