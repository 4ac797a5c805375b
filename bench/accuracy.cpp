// Prints the precision/recall table of docs/ACCURACY.md: every photo of a labelled folder as a query
// against all the others, over a range of thresholds around the pack's default. Not a test:
// tests/search_quality_test.cpp asserts.
//   facesearch_accuracy [PEOPLE_DIR...] [--model NAME]
// (default sets: testdata/faces/people and testdata/lfw_dev/people; default pack: $FACESEARCH_MODELS,
// else the default pack), then the threshold chosen leaving one identity out over all sets together.
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <string>

#include <cmath>
#include <numeric>
#include <map>
#include <algorithm>

#include "bench/people_eval.h"
#include "embed/embedder.h"
#include "models/pack_registry.h"
#include "search/search_report.h"

int main(int argc, char** argv) {
  using namespace facesearch;
  std::vector<std::filesystem::path> sets;
  std::string model;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--model" && i + 1 < argc) {
      model = argv[++i];
    } else {
      sets.emplace_back(argv[i]);
    }
  }
  if (sets.empty()) sets = {"../shared/testdata/faces/people", "../shared/testdata/lfw_dev/people"};
  const char* models = std::getenv("FACESEARCH_MODELS");
  const ModelPack pack = !model.empty() ? load_named_pack(model)
                                        : load_model_pack(resolve_models_dir(
                                              models ? std::optional<std::filesystem::path>(models) : std::nullopt));
  const FacePipeline pipeline(pack, {});
  std::printf("model pack %s, metric %s, default threshold %.2f\n", pack.name.c_str(), metric_name(pack.metric),
              pack.threshold);
  const int centre = static_cast<int>(std::lround(pack.threshold * 100));
  eval::LabelledScores all_sets, all_sets_expanded, all_sets_two, all_sets_two_expanded, all_sets_three;
  std::vector<eval::LabelledImage> images;  // the first set's, for the scoring rules below
  for (const auto& people : sets) {
    auto set_images = eval::analyse_people(pipeline, people);
    const auto scores = eval::score_pairs(set_images);
    eval::add_labelled_pairs(set_images, people.parent_path().filename().string(), all_sets);
    size_t same_pairs = 0;
    for (const auto& p : scores.pairs) same_pairs += p.second;
    std::printf("\n## %s\n\n", people.string().c_str());
    std::printf("%zu photos, %zu without a detected face, %zu queries, %zu query/photo pairs (%zu same person)\n",
                set_images.size(), scores.photos_without_face, scores.queries, scores.pairs.size(), same_pairs);
    std::printf("mAP %.4f\n\n", eval::mean_average_precision(set_images));
    std::printf("| threshold | precision | recall | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|\n");
    for (int t = centre - 12; t <= std::min(centre + 6, 99); ++t) {
      const auto pr = eval::at_threshold(scores, t / 100.f);
      std::printf("| %.2f | %.4f | %.4f | %.4f | %zu | %zu | %zu |\n", pr.threshold, pr.precision, pr.recall, pr.f1,
                  pr.true_pos, pr.false_pos, pr.false_neg);
    }
    // Query strategies (issue 13): plain, expanded with the best few confident matches, two photos
    // of the person as one query (mean of embeddings, or best of the two).
    std::printf("\n| query | threshold | precision | recall | F1 | mAP | best F1 (threshold) |\n|---|---|---|---|---|---|---|\n");
    // Each at the threshold the product applies to that kind of query (search_report.h: query_threshold).
    auto report = [&](const std::string& name, const eval::StrategyResult& r, int photos = 1, bool expanded = false) {
      const float applied = query_threshold(pack.threshold, pack, photos, expanded);
      const auto at = eval::at_threshold(r.scores, applied);
      eval::PrecisionRecall best;
      for (int t = centre - 15; t <= centre + 15; ++t) {
        const auto pr = eval::at_threshold(r.scores, t / 100.f);
        if (pr.f1 > best.f1) best = pr;
      }
      std::printf("| %s | %.3f | %.4f | %.4f | %.4f | %.4f | %.4f (%.2f) |\n", name.c_str(), applied,
                  at.precision, at.recall, at.f1, r.map, best.f1, best.threshold);
    };
    report("plain", eval::expanded_search(set_images, 0, 0));
    if (pack.query_expansion) {
      const auto expanded = eval::expanded_search(set_images, pack.query_expansion->top, pack.query_expansion->at_least);
      eval::add_labelled_pairs(set_images, expanded, people.parent_path().filename().string(), all_sets_expanded);
    }
    for (const size_t top : {3, 5})
      for (const float part : {1 / 6.f, 1 / 4.f, 1 / 3.f}) {
        // "Confident": that part of the way from the threshold to 1 (0.50, 0.55, 0.60 at 0.40).
        const float at_least = pack.threshold + part * (1 - pack.threshold);
        report("expanded: top " + std::to_string(top) + " >= " + std::to_string(at_least).substr(0, 5),
               eval::expanded_search(set_images, top, at_least), 1, true);
      }
    const auto two = eval::two_photo_search(set_images, true);
    report("two photos, mean", two, 2);
    eval::add_labelled_pairs(set_images, two, people.parent_path().filename().string(), all_sets_two);
    if (pack.query_expansion) {
      const auto two_expanded =
          eval::two_photo_search(set_images, true, pack.query_expansion->top, pack.query_expansion->at_least);
      report("two photos, mean, expanded", two_expanded, 2, true);
      eval::add_labelled_pairs(set_images, two_expanded, people.parent_path().filename().string(), all_sets_two_expanded);
    }
    report("two photos, best of", eval::two_photo_search(set_images, false));
    const auto three = eval::three_photo_search(set_images);
    report("three photos, mean", three, 3);
    eval::add_labelled_pairs(set_images, three, people.parent_path().filename().string(), all_sets_three);
    if (images.empty()) images = std::move(set_images);
  }

  // The threshold each person would get if chosen without them, over every set together.
  auto print_loo = [&](const char* what, const eval::LabelledScores& scores) {
    const auto loo = eval::leave_one_identity_out(scores);
    if (loo.thresholds.empty()) return;
    auto sorted = loo.thresholds;
    std::sort(sorted.begin(), sorted.end());
    std::map<float, int> histogram;
    for (float t : sorted) ++histogram[t];
    std::printf("\n## leave one identity out, %s (%zu people of %zu sets)\n\n", what, sorted.size(), sets.size());
    std::printf("best-F1 threshold without the person: min %.2f, median %.2f, max %.2f (", sorted.front(),
                sorted[sorted.size() / 2], sorted.back());
    for (const auto& [t, n] : histogram) std::printf(" %.2f x%d", t, n);
    std::printf(" )\nthe held-out people's queries at their threshold: precision %.4f, recall %.4f (TP %zu FP %zu FN %zu)\n",
                loo.precision(), loo.recall(), loo.true_pos, loo.false_pos, loo.false_neg);
  };
  {
    // How much of a face's embedding is the person: the mean similarity of two photos of one person
    // (a query made of k photos' mean needs threshold / sqrt(rho + (1 - rho) / k): see docs/ACCURACY.md).
    double sum = 0, sum_sq = 0;
    size_t n = 0;
    for (const auto& p : all_sets.pairs)
      if (p.query_identity == p.target_identity && p.score > -1) sum += p.score, sum_sq += double(p.score) * p.score, ++n;
    const double mean = n ? sum / n : 0;
    std::printf("\nsame person, two photos: mean similarity %.3f (sd %.3f, %zu pairs)\n", mean,
                n ? std::sqrt(std::max(0.0, sum_sq / n - mean * mean)) : 0.0, n);
  }
  print_loo("plain queries", all_sets);
  if (pack.query_expansion)
    print_loo(("expanded queries (top " + std::to_string(pack.query_expansion->top) + " >= " +
               std::to_string(pack.query_expansion->at_least).substr(0, 4) + ")").c_str(), all_sets_expanded);
  print_loo("two photos, mean", all_sets_two);
  if (pack.query_expansion) print_loo("two photos, mean, expanded", all_sets_two_expanded);
  print_loo("three photos, mean", all_sets_three);

  // The options for comparing dlib descriptors, each as a score where higher = more alike:
  // plain cosine (the pack's metric), dlib's Euclidean distance on raw descriptors (score = -distance,
  // dlib's rule is distance < 0.6), and cosine after removing the mean descriptor of this set.
  if (pack.embedder.kind != "dlib_resnet128") return 0;  // the rules below are dlib's
  std::printf("\n## comparison of scoring rules (raw descriptors re-embedded)\n\n");
  const auto embedder = make_embedder(pack, {});
  std::vector<std::vector<std::vector<float>>> raw(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const auto located = pipeline.locate(decode_image_file(images[i].path), {});
    for (const auto& l : located) {
      std::vector<float> v(embedder->dim());
      embedder->embed(std::span<const cv::Mat>(&l.chip, 1), v);
      raw[i].push_back(std::move(v));
    }
  }
  std::vector<double> mean(embedder->dim(), 0.0);
  size_t count = 0;
  for (const auto& img : raw)
    for (const auto& v : img) {
      for (size_t k = 0; k < v.size(); ++k) mean[k] += v[k];
      ++count;
    }
  for (auto& m : mean) m /= std::max<size_t>(count, 1);
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b, const std::vector<double>* centre) {
    double dot = 0, na = 0, nb = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      const double x = a[k] - (centre ? (*centre)[k] : 0), y = b[k] - (centre ? (*centre)[k] : 0);
      dot += x * y, na += x * x, nb += y * y;
    }
    return dot / std::sqrt(na * nb);
  };
  auto neg_euclid = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (size_t k = 0; k < a.size(); ++k) d += (a[k] - b[k]) * (a[k] - b[k]);
    return -std::sqrt(d);
  };
  struct Rule {
    const char* name;
    std::function<double(const std::vector<float>&, const std::vector<float>&)> score;
    double fixed_threshold;  // the rule's customary threshold
  };
  const Rule rules[] = {
      {"cosine (raw descriptors)", [&](const auto& a, const auto& b) { return cosine(a, b, nullptr); }, 0.92},
      {"-euclidean (dlib rule)", neg_euclid, -0.6},
      {"cosine, mean removed", [&](const auto& a, const auto& b) { return cosine(a, b, &mean); }, 0.5},
  };
  std::printf("| rule | best-F1 threshold | precision | recall | F1 | at customary threshold | precision | recall |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& rule : rules) {
    std::vector<std::pair<double, bool>> pairs;
    for (size_t q = 0; q < raw.size(); ++q) {
      if (raw[q].empty()) continue;
      size_t largest = 0;
      for (size_t f = 1; f < raw[q].size(); ++f)
        if (images[q].faces[f].face.box.area() > images[q].faces[largest].face.box.area()) largest = f;
      for (size_t t = 0; t < raw.size(); ++t) {
        if (t == q) continue;
        double best = -1e9;
        for (const auto& v : raw[t]) best = std::max(best, rule.score(raw[q][largest], v));
        pairs.emplace_back(best, images[t].identity == images[q].identity);
      }
    }
    auto pr_at = [&](double th) {
      size_t tp = 0, fp = 0, fn = 0;
      for (const auto& [s, same] : pairs) {
        if (s >= th && same) ++tp;
        if (s >= th && !same) ++fp;
        if (s < th && same) ++fn;
      }
      const double p = tp + fp ? double(tp) / (tp + fp) : 1, r = tp + fn ? double(tp) / (tp + fn) : 0;
      return std::tuple{p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0};
    };
    double best_th = 0, best_f1 = -1;
    for (const auto& [s, same] : pairs) {
      if (s < -1e8) continue;
      const auto [p, r, f1] = pr_at(s);
      if (f1 > best_f1) best_f1 = f1, best_th = s;
    }
    const auto [bp, br, bf] = pr_at(best_th);
    const auto [cp, cr, cf] = pr_at(rule.fixed_threshold);
    std::printf("| %s | %.3f | %.4f | %.4f | %.4f | %.2f | %.4f | %.4f |\n", rule.name, best_th, bp, br, bf,
                rule.fixed_threshold, cp, cr);
    (void)cf;
  }
  return 0;
}
