// Search-quality evaluation on a labelled folder (people/<identity>/<photo>): every photo is a query
// (its largest face) against every other photo; a photo is returned when any of its faces scores at
// or above the threshold. Shared by the accuracy test (tests/) and the accuracy report (bench/).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "pipeline/image_scanner.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "search/search_report.h"

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

// Every query/photo pair with the identities of both, for choosing a threshold without the people it
// is judged on (leave_one_identity_out).
struct LabelledPair {
  float score = 0;
  int query_identity = 0, target_identity = 0;
};
struct LabelledScores {
  std::vector<std::string> identities;
  std::vector<LabelledPair> pairs;
};

// The pairs of one set, each query against the other photos of the same set; identities are numbered
// across calls through `into` (a set's people are new people, even where a name repeats).
inline void add_labelled_pairs(const std::vector<LabelledImage>& images, const std::string& set_name,
                               LabelledScores& into) {
  std::map<std::string, int> ids;
  for (const auto& img : images)
    if (ids.emplace(img.identity, static_cast<int>(into.identities.size())).second)
      into.identities.push_back(set_name + "/" + img.identity);
  for (size_t q = 0; q < images.size(); ++q) {
    if (images[q].faces.empty()) continue;
    const auto& largest = *std::max_element(images[q].faces.begin(), images[q].faces.end(),
                                            [](const auto& a, const auto& b) { return a.face.box.area() < b.face.box.area(); });
    for (size_t t = 0; t < images.size(); ++t) {
      if (t == q) continue;
      float best = -1;
      for (const auto& f : images[t].faces) best = std::max(best, similarity(largest.embedding, f.embedding));
      into.pairs.push_back({best, ids[images[q].identity], ids[images[t].identity]});
    }
  }
}

// Leave one identity out: for each person, the threshold of best F1 (on a 0.01 grid) over the pairs
// that involve neither their photos as queries nor as targets, then their own queries judged at it.
struct LeaveOneOut {
  std::vector<float> thresholds;  // one per identity with a query
  size_t true_pos = 0, false_pos = 0, false_neg = 0;
  double precision() const { return true_pos + false_pos ? double(true_pos) / (true_pos + false_pos) : 1.0; }
  double recall() const { return true_pos + false_neg ? double(true_pos) / (true_pos + false_neg) : 0.0; }
};

inline LeaveOneOut leave_one_identity_out(const LabelledScores& s) {
  constexpr int kBins = 201;  // score s -> bin floor(s * 100) + 100, -1..1
  auto bin = [](float score) { return std::clamp(static_cast<int>(std::floor(score * 100.f + 1e-4f)) + 100, 0, kBins - 1); };
  using Hist = std::array<std::array<size_t, kBins>, 2>;  // [same][bin]
  Hist all{};
  std::vector<Hist> involving(s.identities.size(), Hist{});
  std::vector<bool> queried(s.identities.size(), false);
  for (const auto& p : s.pairs) {
    const bool same = p.query_identity == p.target_identity;
    ++all[same][bin(p.score)];
    ++involving[p.query_identity][same][bin(p.score)];
    if (p.target_identity != p.query_identity) ++involving[p.target_identity][same][bin(p.score)];
    queried[p.query_identity] = true;
  }
  LeaveOneOut out;
  for (size_t h = 0; h < s.identities.size(); ++h) {
    if (!queried[h]) continue;
    // Counts of the other people's pairs at or above each bin.
    size_t same_total = 0;
    for (int b = 0; b < kBins; ++b) same_total += all[1][b] - involving[h][1][b];
    double best_f1 = -1;
    int best_bin = 0;
    size_t tp = 0, fp = 0;
    for (int b = kBins - 1; b >= 0; --b) {
      tp += all[1][b] - involving[h][1][b];
      fp += all[0][b] - involving[h][0][b];
      const double p = tp + fp ? double(tp) / (tp + fp) : 1.0, r = same_total ? double(tp) / same_total : 0.0;
      const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
      if (f1 >= best_f1) best_f1 = f1, best_bin = b;  // ties: the lower threshold (more recall)
    }
    const float threshold = (best_bin - 100) / 100.f;
    out.thresholds.push_back(threshold);
    for (const auto& p : s.pairs) {
      if (p.query_identity != static_cast<int>(h)) continue;
      const bool same = p.query_identity == p.target_identity, returned = bin(p.score) >= best_bin;
      out.true_pos += returned && same;
      out.false_pos += returned && !same;
      out.false_neg += !returned && same;
    }
  }
  return out;
}

// The photos of `images` ranked for one query vector: for each photo other than those in `skip`, the
// best similarity of its faces and which face gave it.
struct Ranked {
  size_t image = 0, face = 0;
  float score = -1;
};
inline std::vector<Ranked> rank_photos(const std::vector<LabelledImage>& images, std::span<const float> query,
                                       std::span<const size_t> skip) {
  std::vector<Ranked> out;
  for (size_t t = 0; t < images.size(); ++t) {
    if (std::find(skip.begin(), skip.end(), t) != skip.end()) continue;
    Ranked r{t, 0, -1};
    for (size_t f = 0; f < images[t].faces.size(); ++f) {
      const float s = similarity(query, images[t].faces[f].embedding);
      if (s > r.score) r.score = s, r.face = f;
    }
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
  return out;
}

inline const FaceRecord& largest_face(const LabelledImage& img) {
  return *std::max_element(img.faces.begin(), img.faces.end(),
                           [](const auto& a, const auto& b) { return a.face.box.area() < b.face.box.area(); });
}

// Average precision of one ranking (same person = relevant).
inline double average_precision(const std::vector<LabelledImage>& images, const std::vector<Ranked>& ranked,
                                const std::string& identity) {
  size_t relevant = 0, hits = 0;
  double ap = 0;
  for (size_t i = 0; i < ranked.size(); ++i)
    if (images[ranked[i].image].identity == identity) ap += double(++hits) / (i + 1);
  for (const auto& r : ranked) relevant += images[r.image].identity == identity;
  return relevant ? ap / relevant : -1;
}

// A query strategy evaluated over every query: the pairs (best score of each other photo, same
// person) and the mean average precision.
struct StrategyResult {
  Scores scores;
  std::vector<std::pair<size_t, size_t>> query_target;  // the images of each of scores.pairs
  double map = 0;
};

// A strategy's pairs with the identities of both sides, for leave_one_identity_out (identities
// numbered across calls as add_labelled_pairs does).
inline void add_labelled_pairs(const std::vector<LabelledImage>& images, const StrategyResult& result,
                               const std::string& set_name, LabelledScores& into) {
  std::map<std::string, int> ids;
  for (const auto& img : images)
    if (ids.emplace(img.identity, static_cast<int>(into.identities.size())).second)
      into.identities.push_back(set_name + "/" + img.identity);
  for (size_t i = 0; i < result.scores.pairs.size(); ++i) {
    const auto [q, t] = result.query_target[i];
    into.pairs.push_back({result.scores.pairs[i].first, ids[images[q].identity], ids[images[t].identity]});
  }
}

// `query` plus the faces of its `top` best photos scoring >= `at_least`, by the product's own rule
// (expand_query: weighted by similarity^3, renormalised).
inline std::vector<float> expanded_query(const std::vector<LabelledImage>& images, const std::vector<float>& query,
                                         const std::vector<Ranked>& ranked, size_t top, float at_least) {
  std::vector<ExpansionCandidate> best_first;
  for (const Ranked& r : ranked) {
    if (r.score < at_least || best_first.size() >= top) break;
    best_first.push_back({r.score, images[r.image].faces[r.face].embedding});
  }
  std::vector<size_t> used;
  return expand_query(query, best_first, QueryExpansion{static_cast<int>(top), at_least}, used);
}

// Several photos of one person as one query, by the product's own rule (combine_query_faces: the
// normalised mean of their largest faces).
inline std::vector<float> mean_query(const std::vector<LabelledImage>& images, std::span<const size_t> photos) {
  std::vector<QueryFace> faces;
  for (const size_t p : photos) faces.push_back({.embedding = largest_face(images[p]).embedding});
  return combine_query_faces(faces).embedding;
}

// Query expansion: each query vector plus its `top` best photos' faces scoring >= `at_least`, weighted
// by similarity^3, renormalised, then searched again (top = 0: plain search).
inline StrategyResult expanded_search(const std::vector<LabelledImage>& images, size_t top, float at_least) {
  StrategyResult out;
  double ap_sum = 0;
  size_t ap_n = 0;
  for (size_t q = 0; q < images.size(); ++q) {
    if (images[q].faces.empty()) continue;
    ++out.scores.queries;
    const size_t skip[] = {q};
    std::vector<float> query = largest_face(images[q]).embedding;
    auto ranked = rank_photos(images, query, skip);
    if (top > 0) ranked = rank_photos(images, expanded_query(images, query, ranked, top, at_least), skip);
    for (const auto& r : ranked) {
      out.scores.pairs.emplace_back(r.score, images[r.image].identity == images[q].identity);
      out.query_target.emplace_back(q, r.image);
    }
    if (const double ap = average_precision(images, ranked, images[q].identity); ap >= 0) ap_sum += ap, ++ap_n;
  }
  out.map = ap_n ? ap_sum / ap_n : 0;
  return out;
}

// Several query photos of one person: every pair of photos of each person as the query, combined by
// the mean of their (normalised) embeddings or by the best of their two similarities; both photos
// are left out of the results. expand_top > 0: the mean then expanded as expanded_search does.
inline StrategyResult two_photo_search(const std::vector<LabelledImage>& images, bool mean, size_t expand_top = 0,
                                       float expand_at_least = 1) {
  StrategyResult out;
  double ap_sum = 0;
  size_t ap_n = 0;
  for (size_t a = 0; a < images.size(); ++a)
    for (size_t b = a + 1; b < images.size(); ++b) {
      if (images[a].identity != images[b].identity || images[a].faces.empty() || images[b].faces.empty()) continue;
      ++out.scores.queries;
      const size_t skip[] = {a, b};
      const auto& ea = largest_face(images[a]).embedding;
      const auto& eb = largest_face(images[b]).embedding;
      std::vector<Ranked> ranked;
      if (mean) {
        const std::vector<float> m = mean_query(images, skip);
        ranked = rank_photos(images, m, skip);
        if (expand_top > 0) ranked = rank_photos(images, expanded_query(images, m, ranked, expand_top, expand_at_least), skip);
      } else {
        ranked = rank_photos(images, ea, skip);
        const auto second = rank_photos(images, eb, skip);
        std::map<size_t, float> best;
        for (const auto& r : second) best[r.image] = r.score;
        for (auto& r : ranked) r.score = std::max(r.score, best[r.image]);
        std::sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) { return x.score > y.score; });
      }
      for (const auto& r : ranked) {
        out.scores.pairs.emplace_back(r.score, images[r.image].identity == images[a].identity);
        out.query_target.emplace_back(a, r.image);
      }
      if (const double ap = average_precision(images, ranked, images[a].identity); ap >= 0) ap_sum += ap, ++ap_n;
    }
  out.map = ap_n ? ap_sum / ap_n : 0;
  return out;
}

// Three query photos of one person, combined by the mean of their embeddings (every triple of each
// person's photos, at most `max_per_person` of them), the three left out of the results.
inline StrategyResult three_photo_search(const std::vector<LabelledImage>& images, size_t max_per_person = 40) {
  StrategyResult out;
  double ap_sum = 0;
  size_t ap_n = 0;
  std::map<std::string, std::vector<size_t>> by_person;
  for (size_t i = 0; i < images.size(); ++i)
    if (!images[i].faces.empty()) by_person[images[i].identity].push_back(i);
  for (const auto& [identity, photos] : by_person) {
    size_t made = 0;
    for (size_t a = 0; a < photos.size() && made < max_per_person; ++a)
      for (size_t b = a + 1; b < photos.size() && made < max_per_person; ++b)
        for (size_t c = b + 1; c < photos.size() && made < max_per_person; ++c, ++made) {
          ++out.scores.queries;
          const size_t skip[] = {photos[a], photos[b], photos[c]};
          const auto ranked = rank_photos(images, mean_query(images, skip), skip);
          for (const auto& r : ranked) {
            out.scores.pairs.emplace_back(r.score, images[r.image].identity == identity);
            out.query_target.emplace_back(photos[a], r.image);
          }
          if (const double ap = average_precision(images, ranked, identity); ap >= 0) ap_sum += ap, ++ap_n;
        }
  }
  out.map = ap_n ? ap_sum / ap_n : 0;
  return out;
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
