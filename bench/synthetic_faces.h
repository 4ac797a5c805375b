// Synthetic libraries for benchmarks: N faces at the pack's dimension, shaped like the default pack's
// embeddings. People of 5-20 faces each; a face is its person's random direction plus a random one
// 0.73 times as long, so two faces of one person score ~0.65 and strangers ~0 (as mobilefacenet-faceapi's
// do), and query expansion finds confident matches. One photo per face, at a path that does not exist.
#pragma once

#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "pipeline/face_pipeline.h"
#include "store/catalog.h"

namespace facesearch::bench {

// Strangers spread like real ones: the people's directions are drawn with variance exp(-i / 23) along
// axis i instead of equally along every axis, so that strangers score 0 ± 0.10 (p99 0.23) as the
// default pack's real faces do (0.007 ± 0.096, p99 0.245, on testdata's people/ and lfw_dev), instead
// of 0 ± 0.044 (random directions in 512-d, which leave a graph walk nothing to follow).
inline constexpr double kRealisticPeopleTau = 23;

// The embeddings alone, row-major (faces x dim). `people_tau` > 0: the people's directions decay with
// that scale across the axes (kRealisticPeopleTau); 0: uniformly random directions.
inline std::vector<float> synthetic_embeddings(int dim, size_t faces, unsigned seed = 5, double people_tau = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::uniform_int_distribution<int> faces_per_person(5, 20);
  auto random_unit = [&] {
    std::vector<float> v(dim);
    for (auto& x : v) x = noise(rng);
    l2_normalize(v);
    return v;
  };
  std::vector<float> axis_scale(dim, 1.f);
  if (people_tau > 0)
    for (int k = 0; k < dim; ++k) axis_scale[k] = static_cast<float>(std::exp(-k / (2 * people_tau)));
  auto person_direction = [&] {
    std::vector<float> v(dim);
    for (int k = 0; k < dim; ++k) v[k] = noise(rng) * axis_scale[k];
    l2_normalize(v);
    return v;
  };
  std::vector<float> out;
  out.reserve(faces * static_cast<size_t>(dim));
  std::vector<float> person;
  int left = 0;
  for (size_t i = 0; i < faces; ++i) {
    if (left-- <= 0) person = people_tau > 0 ? person_direction() : random_unit(), left = faces_per_person(rng) - 1;
    std::vector<float> f = random_unit();
    for (int k = 0; k < dim; ++k) f[k] = person[k] + 0.73f * f[k];
    l2_normalize(f);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

inline void add_synthetic_faces(Catalog& catalog, int dim, size_t faces, unsigned seed = 5) {
  const std::vector<float> vectors = synthetic_embeddings(dim, faces, seed);
  Catalog::Transaction t(catalog);
  for (size_t i = 0; i < faces; ++i) {
    ImageRow row;
    row.path = "/synthetic/" + std::to_string(i) + ".jpg";
    row.size = 1, row.mtime_ns = 1, row.hash = std::to_string(i), row.status = "ok";
    FaceRow f;
    f.embedding.assign(vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
    f.face.detector = "synthetic";
    f.face.box = {100, 100, 200, 220};
    catalog.replace_faces(catalog.put_image(row), std::span<const FaceRow>(&f, 1));
  }
  t.commit();
}

}  // namespace facesearch::bench
