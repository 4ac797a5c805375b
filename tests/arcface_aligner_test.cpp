// ArcFace 5-point alignment (src/align/arcface_aligner.cpp) against hand-built expectations: keypoints
// placed by a known similarity transform land on insightface's 112x112 template, and the chip is the
// image sampled through that transform. Part of issue 5 (the InsightFace packs).
#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "align/aligner.h"
#include "core/error.h"

namespace facesearch {
namespace {

TEST(ArcFaceAligner, KeypointsLandOnTheTemplate) {
  // chip -> image: scale 1.7, rotation 20 degrees, translation (150, 60).
  const double scale = 1.7, angle = 20 * CV_PI / 180;
  const Similarity to_image{scale * std::cos(angle), scale * std::sin(angle), 150, 60};
  const auto tmpl = arcface_template_112();
  ASSERT_EQ(tmpl.size(), 5u);
  EXPECT_FLOAT_EQ(tmpl[0].x, 38.2946f);
  EXPECT_FLOAT_EQ(tmpl[4].y, 92.2041f);

  // A textured image, with a coloured dot on each keypoint.
  cv::Mat image(400, 400, CV_8UC3);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(image, image, cv::Size(0, 0), 3);
  std::vector<Point> keypoints;
  const cv::Scalar colours[5] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}};
  for (int i = 0; i < 5; ++i) {
    const Point p = to_image.apply(tmpl[i]);
    keypoints.push_back(p);
    cv::circle(image, cv::Point(int(std::lround(p.x)), int(std::lround(p.y))), 4, colours[i], cv::FILLED);
  }

  const auto aligner = make_arcface_aligner();
  EXPECT_EQ(aligner->chip_size(), 112);
  const cv::Mat chip = aligner->align(image, keypoints);
  ASSERT_EQ(chip.size(), cv::Size(112, 112));
  for (int i = 0; i < 5; ++i) {
    const cv::Vec3b px = chip.at<cv::Vec3b>(int(std::lround(tmpl[i].y)), int(std::lround(tmpl[i].x)));
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(px[c], colours[i][c], 40) << "keypoint " << i << " channel " << c;
  }

  // The whole chip is the image sampled through the transform (insightface: cv2.warpAffine(img, M)).
  const cv::Matx23d chip_to_image(to_image.a, -to_image.b, to_image.tx, to_image.b, to_image.a, to_image.ty);
  cv::Mat expected;
  cv::warpAffine(image, expected, chip_to_image, cv::Size(112, 112), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
  cv::Mat diff;
  cv::absdiff(chip, expected, diff);
  double worst = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &worst);
  EXPECT_LE(worst, 2) << "chip differs from the image sampled through the known transform";
}

TEST(ArcFaceAligner, MistakesAreModelErrors) {
  EXPECT_THROW(make_arcface_aligner(128), Error);
  const auto aligner = make_arcface_aligner();
  const cv::Mat image(50, 50, CV_8UC3, cv::Scalar::all(0));
  const std::vector<Point> three = {{1, 1}, {2, 2}, {3, 3}};
  try {
    aligner->align(image, three);
    ADD_FAILURE() << "aligned 3 points";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
  }
}

}  // namespace
}  // namespace facesearch
