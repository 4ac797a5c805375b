// Search quality on ../shared/testdata/faces/people: every photo as a query against all the others,
// at the model pack's default threshold. The floors are the figures measured with this pipeline
// (docs/ACCURACY.md); a change that lowers them is a regression.
#include <gtest/gtest.h>

#include "bench/people_eval.h"
#include "test_support.h"

namespace facesearch {
namespace {

class SearchQuality : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pipeline_ = new FacePipeline(load_model_pack(testing::models_dir()), {});
    images_ = new std::vector<eval::LabelledImage>(
        eval::analyse_people(*pipeline_, testing::testdata_dir() / "faces" / "people"));
  }
  static void TearDownTestSuite() {
    delete images_;
    delete pipeline_;
  }
  static inline FacePipeline* pipeline_ = nullptr;
  static inline std::vector<eval::LabelledImage>* images_ = nullptr;
};

TEST_F(SearchQuality, PrecisionAndRecallAtDefaultThreshold) {
  ASSERT_EQ(images_->size(), 118u);
  const auto scores = eval::score_pairs(*images_);
  const auto pr = eval::at_threshold(scores, pipeline_->pack().threshold);
  std::printf("threshold %.2f: precision %.4f recall %.4f (TP %zu FP %zu FN %zu)\n", pr.threshold, pr.precision,
              pr.recall, pr.true_pos, pr.false_pos, pr.false_neg);
  EXPECT_FLOAT_EQ(pipeline_->pack().threshold, 0.92f);
  EXPECT_GE(pr.precision, 0.996);
  EXPECT_GE(pr.recall, 0.955);
}

TEST_F(SearchQuality, RankingPutsTheSamePersonFirst) {
  const double map = eval::mean_average_precision(*images_);
  std::printf("mAP %.4f\n", map);
  EXPECT_GE(map, 0.96);
}

TEST_F(SearchQuality, AFaceIsFoundInAlmostEveryPhoto) {
  // SSD alone misses frame-filling crops; the padded retry recovers all but a handful.
  size_t without = 0;
  for (const auto& img : *images_) without += img.faces.empty();
  EXPECT_LE(without, 4u);
}

}  // namespace
}  // namespace facesearch
