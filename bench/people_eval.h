// Search-quality evaluation on a labelled folder (people/<identity>/<photo>): every photo is a query
// (its largest face) against every other photo; a photo is returned when any of its faces scores at
// or above the threshold. Shared by the accuracy test (tests/) and the accuracy report (bench/).
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pipeline/image_scanner.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"

namespace facesearch::eval {

struct LabelledImage {
  std::filesystem::path path;
  std::string identity;
  std::vector<FaceRecord> faces;
};

// Runs the pipeline over every photo under `people_dir` once.
inline std::vector<LabelledImage> analyse_people(const FacePipeline& pipeline, const std::filesystem::path& people_dir,
                                                 int jobs = 0) {
  const std::filesystem::path targets[] = {people_dir};
  const auto files = collect_images(targets);
  std::map<std::filesystem::path, LabelledImage> by_path;
  ScanOptions scan;
  scan.jobs = jobs;
  scan_images(
      pipeline, files, scan,
      [&](ScannedImage&& img) {
        LabelledImage li;
        li.identity = img.path.parent_path().filename().string();
        li.path = img.path;
        li.faces = std::move(img.faces);
        by_path[li.path] = std::move(li);
      },
      [](ScanFailure&&) {});
  std::vector<LabelledImage> out;
  for (auto& [p, li] : by_path) out.push_back(std::move(li));
  return out;
}

struct Scores {
  size_t queries = 0;           // photos with a face to query with
  size_t photos_without_face = 0;
  // For each query and each other photo: the best similarity of any of its faces (-1 when it has none)
  // and whether it shows the same person.
  std::vector<std::pair<float, bool>> pairs;
};

inline Scores score_pairs(const std::vector<LabelledImage>& images) {
  Scores s;
  for (const auto& img : images)
    if (img.faces.empty()) ++s.photos_without_face;
  for (size_t q = 0; q < images.size(); ++q) {
    const auto& query = images[q];
    if (query.faces.empty()) continue;
    ++s.queries;
    const auto& largest = *std::max_element(query.faces.begin(), query.faces.end(), [](const auto& a, const auto& b) {
      return a.face.box.area() < b.face.box.area();
    });
    for (size_t t = 0; t < images.size(); ++t) {
      if (t == q) continue;
      float best = -1;
      for (const auto& f : images[t].faces) best = std::max(best, similarity(largest.embedding, f.embedding));
      s.pairs.emplace_back(best, images[t].identity == query.identity);
    }
  }
  return s;
}

struct PrecisionRecall {
  float threshold = 0;
  double precision = 0, recall = 0, f1 = 0;
  size_t true_pos = 0, false_pos = 0, false_neg = 0;
};

inline PrecisionRecall at_threshold(const Scores& s, float threshold) {
  PrecisionRecall pr;
  pr.threshold = threshold;
  for (const auto& [score, same] : s.pairs) {
    const bool returned = score >= threshold;
    if (returned && same) ++pr.true_pos;
    if (returned && !same) ++pr.false_pos;
    if (!returned && same) ++pr.false_neg;
  }
  pr.precision = pr.true_pos + pr.false_pos ? double(pr.true_pos) / (pr.true_pos + pr.false_pos) : 1.0;
  pr.recall = pr.true_pos + pr.false_neg ? double(pr.true_pos) / (pr.true_pos + pr.false_neg) : 0.0;
  pr.f1 = pr.precision + pr.recall > 0 ? 2 * pr.precision * pr.recall / (pr.precision + pr.recall) : 0;
  return pr;
}

// Mean average precision over queries (ranking quality independent of any threshold).
inline double mean_average_precision(const std::vector<LabelledImage>& images) {
  double sum = 0;
  size_t n = 0;
  for (size_t q = 0; q < images.size(); ++q) {
    if (images[q].faces.empty()) continue;
    const auto& largest = *std::max_element(images[q].faces.begin(), images[q].faces.end(),
                                            [](const auto& a, const auto& b) { return a.face.box.area() < b.face.box.area(); });
    std::vector<std::pair<float, bool>> ranked;
    size_t relevant = 0;
    for (size_t t = 0; t < images.size(); ++t) {
      if (t == q) continue;
      const bool same = images[t].identity == images[q].identity;
      relevant += same;
      float best = -1;
      for (const auto& f : images[t].faces) best = std::max(best, similarity(largest.embedding, f.embedding));
      ranked.emplace_back(best, same);
    }
    if (relevant == 0) continue;
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    double ap = 0;
    size_t hits = 0;
    for (size_t i = 0; i < ranked.size(); ++i)
      if (ranked[i].second) ap += double(++hits) / (i + 1);
    sum += ap / relevant;
    ++n;
  }
  return n ? sum / n : 0;
}

}  // namespace facesearch::eval
