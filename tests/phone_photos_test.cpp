// Phone-size photos (issue 11): testdata photos made 12-megapixel-like in memory (bench/phone_photos.h:
// 4032 px on the long side, JPEG quality 90) and decoded as `index` decodes them. The default detection
// must find the faces the SSD pipeline (SSD with its padded retry, `--detector ssd`) finds at >= 1% of
// the long side: in a crowd selfie, two crowds and a group, where the fast detector alone missed
// faces 200+ px wide and most of a crowd. Behaviour, not speed (that is `make bench`).
#include <gtest/gtest.h>

#include <thread>

#include "core/work_sharing.h"

#include "bench/phone_photos.h"
#include "test_support.h"

namespace facesearch {
namespace {

class PhonePhotos : public testing::DefaultPipelineSuite {
 protected:
  static DecodedImage phone_photo(const std::string& rel) {
    const auto bytes = eval::phone_size_jpeg(testing::testdata_dir() / "faces" / rel);
    return decode_image(bytes, rel, pipeline_->decode_options({}));
  }
};

TEST_F(PhonePhotos, DecodedAtHalfSizeAndReportedAtFullSize) {
  const auto img = phone_photo("scenes/fr_two_people.jpg");
  EXPECT_EQ(std::max(img.width, img.height), eval::kPhoneLongSidePx);
  EXPECT_EQ(img.scale, 2.f);  // 2016 px: the longer side stays at least 2000 px
  EXPECT_EQ(std::max(img.bgr.cols, img.bgr.rows), eval::kPhoneLongSidePx / 2);
}

TEST_F(PhonePhotos, DefaultFindsWhatSsdFindsInCrowdsAndGroups) {
  const FacePipeline ssd(pipeline_->pack(), {}, DetectionStrategy::kSsd);
  size_t reference = 0, found = 0;
  for (const char* rel : {"scenes/deepface_selfie-many-people.jpg", "scenes/ulfd_1.jpg", "scenes/ulfd_25.jpg",
                          "scenes/dlib_2008_001009.jpg", "scenes/fr_obama_and_biden.jpg"}) {
    const auto img = phone_photo(rel);
    const auto ours = pipeline_->locate(img, {});
    const auto theirs = ssd.locate(img, {});
    const float min_side = 0.01f * float(std::max(img.width, img.height));
    size_t ref = 0, hit = 0;
    for (const auto& s : theirs) {
      if (std::max(s.face.box.width(), s.face.box.height()) < min_side) continue;
      ++ref;
      for (const auto& o : ours)
        if (iou(s.face.box, o.face.box) >= 0.3f) {
          ++hit;
          break;
        }
    }
    std::printf("%s: SSD %zu at >= 1%%, default finds %zu of them (%zu faces in all)\n", rel, ref, hit, ours.size());
    // Every photo: at most one of SSD's faces missed (one in twenty in a crowd).
    EXPECT_GE(hit + std::max<size_t>(1, ref / 20), ref) << rel;
    reference += ref, found += hit;
  }
  // The aim: 97% (measured on these five: 155 of 158; on the 46-photo set 98.5%, docs/ACCURACY.md).
  ASSERT_GT(reference, 100u);
  EXPECT_GE(double(found), 0.97 * double(reference)) << found << " of " << reference;
}

// A face that fills a 12-MP frame (a close-up) is for the padded pass, which runs before the tiles
// where the whole-photo passes found nothing; the tiles then have no reason to run.
TEST_F(PhonePhotos, AFaceThatFillsTheFrameIsFound) {
  for (const char* rel : {"people/howard/faceapijs_howard1.png", "people/leonard/faceapijs_leonard1.png"}) {
    const auto img = phone_photo(rel);
    const auto faces = pipeline_->locate(img, {});
    ASSERT_EQ(faces.size(), 1u) << rel;
    EXPECT_GT(faces[0].face.box.width(), 0.6f * float(img.width)) << rel;
    EXPECT_EQ(faces[0].face.detector, "mediapipe_face_full/padded") << rel;
  }
}

// Idle scan workers take parts of a crowd photo's work (src/core/work_sharing.h): the same faces, the
// same points, the same vectors as on one thread.
TEST_F(PhonePhotos, IdleHelpersGiveTheSameFacesAndVectorsOnACrowd) {
  const auto img = phone_photo("scenes/ulfd_25.jpg");
  const auto alone = pipeline_->locate(img, {});
  WorkSharing sharing;
  std::vector<std::jthread> helpers;
  for (int i = 0; i < 2; ++i) helpers.emplace_back([&] { sharing.help(); });
  DetectOptions shared;
  shared.helpers = &sharing;
  const auto together = pipeline_->locate(img, shared);
  ASSERT_GT(alone.size(), 100u);
  ASSERT_EQ(together.size(), alone.size());
  std::vector<cv::Mat> chips;
  for (size_t i = 0; i < alone.size(); ++i) {
    EXPECT_EQ(together[i].face.box.x1, alone[i].face.box.x1) << i;
    EXPECT_EQ(together[i].face.box.y2, alone[i].face.box.y2) << i;
    EXPECT_EQ(together[i].face.landmarks[30].x, alone[i].face.landmarks[30].x) << i;
    EXPECT_EQ(cv::norm(together[i].chip, alone[i].chip, cv::NORM_INF), 0.0) << i;
    chips.push_back(alone[i].chip);
  }
  const size_t dim = size_t(pipeline_->embedding_dim());
  std::vector<float> one(chips.size() * dim), many(chips.size() * dim);
  pipeline_->embed(chips, one);
  pipeline_->embed(chips, many, nullptr, &sharing);
  EXPECT_EQ(one, many);
  sharing.close();
}

}  // namespace
}  // namespace facesearch
