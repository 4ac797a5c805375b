// Search quality: every photo as a query against all the others of its set, at the model pack's
// default threshold, on ../shared/testdata/faces/people (22 people) and ../shared/testdata/lfw_dev
// (78 other people): the default pack (mobilefacenet-faceapi) on both, dlib-faceapi (the pack of
// libraries built before issue 13) on the first. The floors are the figures measured with this
// pipeline (docs/ACCURACY.md); a change that lowers them is a regression.
#include <gtest/gtest.h>

#include "bench/people_eval.h"
#include "models/pack_registry.h"
#include "search/search_report.h"
#include "test_support.h"

namespace facesearch {
namespace {

// One test: analysing the 118 photos is the expensive part (~10 s on 2 cores), and CTest runs every
// test in its own process, so the three assertions share one analysis.
TEST(SearchQuality, DlibPackOnThePeopleFolderAtItsThreshold) {
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

// The default pack, on both sets (issue 13's aims: precision >= 0.98 at recall >= 0.97 on people it
// was not tuned on, mAP >= 0.99).
TEST(SearchQuality, DefaultPackOnBothSetsAtItsThreshold) {
  const FacePipeline pipeline(load_named_pack(kDefaultPackName), {});
  EXPECT_FLOAT_EQ(pipeline.pack().threshold, 0.40f);
  struct Floor {
    const char* set;
    size_t photos;
    double precision, recall, map;
  };
  // Measured: people/ precision 1.0000, recall 0.9906, mAP 1.0000; lfw_dev precision 0.9806,
  // recall 0.9625, mAP 0.9923.
  for (const Floor& floor : {Floor{"faces/people", 118, 0.996, 0.985, 0.995}, Floor{"lfw_dev/people", 445, 0.975, 0.955, 0.99}}) {
    const auto images = eval::analyse_people(pipeline, testing::testdata_dir() / floor.set);
    ASSERT_EQ(images.size(), floor.photos) << floor.set;
    const auto pr = eval::at_threshold(eval::score_pairs(images), pipeline.pack().threshold);
    const double map = eval::mean_average_precision(images);
    std::printf("%s: precision %.4f recall %.4f (TP %zu FP %zu FN %zu) mAP %.4f\n", floor.set, pr.precision,
                pr.recall, pr.true_pos, pr.false_pos, pr.false_neg, map);
    EXPECT_GE(pr.precision, floor.precision) << floor.set;
    EXPECT_GE(pr.recall, floor.recall) << floor.set;
    EXPECT_GE(map, floor.map) << floor.set;
  }
}

// What a search does by default with the default pack: the query expanded with its confident matches
// and judged at the raised threshold (0.42), and several photos combined (judged at 0.45 for two).
// Issue 13's aim, precision >= 0.98 at recall >= 0.97, on both sets.
TEST(SearchQuality, DefaultPackExpandedAndSeveralPhotosOnBothSets) {
  const FacePipeline pipeline(load_named_pack(kDefaultPackName), {});
  const ModelPack& pack = pipeline.pack();
  ASSERT_TRUE(pack.query_expansion);
  // Measured: people/ expanded precision 1.0000 recall 1.0000, two photos 1.0000 / 1.0000; lfw_dev
  // expanded 0.9885 / 0.9762, two photos 0.9886 / 0.9872.
  for (const char* set : {"faces/people", "lfw_dev/people"}) {
    const auto images = eval::analyse_people(pipeline, testing::testdata_dir() / set);
    const auto expanded = eval::expanded_search(images, pack.query_expansion->top, pack.query_expansion->at_least);
    const auto pr = eval::at_threshold(expanded.scores, query_threshold(pack.threshold, pack, 1, true));
    const auto two = eval::two_photo_search(images, true, pack.query_expansion->top, pack.query_expansion->at_least);
    const auto pr2 = eval::at_threshold(two.scores, query_threshold(pack.threshold, pack, 2, true));
    std::printf("%s: expanded precision %.4f recall %.4f mAP %.4f; two photos precision %.4f recall %.4f mAP %.4f\n",
                set, pr.precision, pr.recall, expanded.map, pr2.precision, pr2.recall, two.map);
    EXPECT_GE(pr.precision, 0.98) << set;
    EXPECT_GE(pr.recall, 0.97) << set;
    EXPECT_GE(pr2.precision, 0.98) << set;
    EXPECT_GE(pr2.recall, 0.98) << set;
    EXPECT_GE(two.map, 0.99) << set;
  }
}

}  // namespace
}  // namespace facesearch
