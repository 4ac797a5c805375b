// Search quality on ../shared/testdata/faces/people: every photo as a query against all the others,
// at the model pack's default threshold. The floors are the figures measured with this pipeline
// (docs/ACCURACY.md); a change that lowers them is a regression.
#include <gtest/gtest.h>

#include "bench/people_eval.h"
#include "test_support.h"

namespace facesearch {
namespace {

// One test: analysing the 118 photos is the expensive part (~10 s on 2 cores), and CTest runs every
// test in its own process, so the three assertions share one analysis.
TEST(SearchQuality, PeopleFolderAtTheDefaultThreshold) {
  const FacePipeline pipeline(load_model_pack(testing::models_dir()), {});
  const auto images = eval::analyse_people(pipeline, testing::testdata_dir() / "faces" / "people");
  ASSERT_EQ(images.size(), 118u);

  // Precision and recall at the pack's default threshold.
  const auto scores = eval::score_pairs(images);
  const auto pr = eval::at_threshold(scores, pipeline.pack().threshold);
  std::printf("threshold %.2f: precision %.4f recall %.4f (TP %zu FP %zu FN %zu)\n", pr.threshold, pr.precision,
              pr.recall, pr.true_pos, pr.false_pos, pr.false_neg);
  EXPECT_FLOAT_EQ(pipeline.pack().threshold, 0.92f);
  // Measured with the default detection (hybrid): precision 0.9968, recall 0.9719; the SSD pipeline
  // of the first release gave 0.9966 / 0.9579.
  EXPECT_GE(pr.precision, 0.996);
  EXPECT_GE(pr.recall, 0.97);

  // Ranking puts the same person first (threshold-free).
  const double map = eval::mean_average_precision(images);
  std::printf("mAP %.4f\n", map);
  EXPECT_GE(map, 0.98);  // measured 0.9844 (SSD: 0.9666)

  // A face is found in at least 98% of the photos (issue 4's floor): measured all 118 (the fast
  // detector with its padded pass for frame-filling crops; SSD with its padded retry missed 4).
  size_t without = 0;
  for (const auto& img : images) without += img.faces.empty();
  EXPECT_LE(without, 2u);
}

}  // namespace
}  // namespace facesearch
