// Prints the precision/recall table of docs/ACCURACY.md: every photo of a labelled folder as a query
// against all the others, over a range of thresholds. Not a test: tests/search_quality_test.cpp asserts.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/people_eval.h"

int main(int argc, char** argv) {
  using namespace facesearch;
  const std::filesystem::path people = argc > 1 ? argv[1] : "../shared/testdata/faces/people";
  const char* models = std::getenv("FACESEARCH_MODELS");
  const ModelPack pack = load_model_pack(resolve_models_dir(models ? std::optional<std::filesystem::path>(models)
                                                                   : std::nullopt));
  const FacePipeline pipeline(pack, {});
  const auto images = eval::analyse_people(pipeline, people);
  const auto scores = eval::score_pairs(images);
  size_t same_pairs = 0;
  for (const auto& p : scores.pairs) same_pairs += p.second;
  std::printf("model pack %s, metric %s, default threshold %.2f\n", pack.name.c_str(), metric_name(pack.metric),
              pack.threshold);
  std::printf("%zu photos, %zu without a detected face, %zu queries, %zu query/photo pairs (%zu same person)\n",
              images.size(), scores.photos_without_face, scores.queries, scores.pairs.size(), same_pairs);
  std::printf("mAP %.4f\n\n", eval::mean_average_precision(images));
  std::printf("| threshold | precision | recall | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|\n");
  for (int t = 80; t <= 98; ++t) {
    const auto pr = eval::at_threshold(scores, t / 100.f);
    std::printf("| %.2f | %.4f | %.4f | %.4f | %zu | %zu | %zu |\n", pr.threshold, pr.precision, pr.recall, pr.f1,
                pr.true_pos, pr.false_pos, pr.false_neg);
  }
  return 0;
}
