// Measures MediaPipe's full-range detector (the pack's fast_detector) against the pack's SSD detector on
// testdata/faces and fits the box calibration of src/detect/mediapipe_face_decoder.cpp (to_ssd_box).
// Prints: faces found per folder, the fitted constants, box IoU against SSD before and after the
// calibration (also fitted on one folder and checked on the other), detector times, scene counts.
// Not a test (tests/mediapipe_detector_test.cpp asserts); figures go to docs/ACCURACY.md.
//
//   build/tools/facesearch_mediapipe_calibration [TESTDATA_FACES_DIR]   (default ../shared/testdata/faces)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "align/aligner.h"
#include "bench/testdata_manifest.h"
#include "core/error.h"
#include "detect/detector.h"
#include "detect/landmarker.h"
#include "embed/embedder.h"
#include "image/image.h"
#include "pipeline/face_pipeline.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"

namespace {

using namespace facesearch;
using Clock = std::chrono::steady_clock;

struct Photo {
  std::filesystem::path path;
  std::string folder;  // people, scenes, noface
  cv::Mat bgr;
};

struct Pair {
  std::string folder;
  Box ssd;
  Box blaze;         // BlazeFace's own (native) box
  Box blaze_in_use;  // the detector's calibrated box for the same face
  const cv::Mat* image = nullptr;
};

// How an SSD box relates to the BlazeFace box of the same face, relative to the BlazeFace box's size.
struct Calibration {
  double width_scale = 1, height_scale = 1, shift_x = 0, shift_y = 0;
  Box apply(const Box& b) const {
    const double w = b.width(), h = b.height();
    const double cx = (b.x1 + b.x2) / 2.0 + shift_x * w, cy = (b.y1 + b.y2) / 2.0 + shift_y * h;
    const double hw = width_scale * w / 2, hh = height_scale * h / 2;
    return {float(cx - hw), float(cy - hh), float(cx + hw), float(cy + hh)};
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::lround(q * (v.size() - 1)))];
}

// Medians are robust to the odd pair where one detector's box takes in a neighbour's hair.
Calibration fit(const std::vector<const Pair*>& pairs) {
  std::vector<double> sw, sh, dx, dy;
  for (const Pair* p : pairs) {
    const Box& s = p->ssd;
    const Box& b = p->blaze;
    sw.push_back(s.width() / b.width());
    sh.push_back(s.height() / b.height());
    dx.push_back(((s.x1 + s.x2) / 2 - (b.x1 + b.x2) / 2) / b.width());
    dy.push_back(((s.y1 + s.y2) / 2 - (b.y1 + b.y2) / 2) / b.height());
  }
  return {median(sw), median(sh), median(dx), median(dy)};
}

void report_iou(const char* what, const std::vector<const Pair*>& pairs, const Calibration& c) {
  std::vector<double> ious;
  for (const Pair* p : pairs) ious.push_back(iou(p->ssd, c.apply(p->blaze)));
  const double mean = ious.empty() ? 0 : std::accumulate(ious.begin(), ious.end(), 0.0) / ious.size();
  std::printf("  %-44s n=%3zu  IoU mean %.3f  median %.3f  p10 %.3f  min %.3f\n", what, ious.size(), mean,
              median(ious), quantile(ious, 0.1), ious.empty() ? 0 : *std::min_element(ious.begin(), ious.end()));
}

std::map<std::string, int> scene_counts(const std::filesystem::path& faces) {
  return eval::annotated_scene_counts(faces);
}

double time_ms(const Detector& d, const std::vector<Photo>& photos, int rounds) {
  for (const auto& p : photos) d.detect(p.bgr);  // warm-up
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r)
    for (const auto& p : photos) d.detect(p.bgr);
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / (rounds * photos.size());
}

}  // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path faces = argc > 1 ? argv[1] : "../shared/testdata/faces";
  const ModelPack pack = load_model_pack(resolve_models_dir({}));
  if (!pack.fast_detector) throw Error(ErrorCode::kModel, "model pack " + pack.dir.string() + " has no fast_detector");
  RuntimeOptions one_thread;
  one_thread.intra_op_threads = 1;
  const auto ssd = make_detector(pack, one_thread);                  // as the pipeline runs it (padded retry)
  const auto ssd_bare = make_detector(pack.detector, one_thread);
  const auto blaze = make_detector(*pack.fast_detector, one_thread);  // calibrated boxes
  const auto native = make_mediapipe_detector(*pack.fast_detector, one_thread, BoxFraming::kNative);
  const auto blaze_retry = with_padded_retry(make_detector(*pack.fast_detector, one_thread));
  std::printf("model pack %s; fast detector %s, score threshold %.2f, NMS IoU %.2f\n\n", pack.dir.c_str(),
              pack.fast_detector->kind.c_str(), pack.fast_detector->score_threshold, pack.fast_detector->nms_iou);

  std::vector<Photo> photos;
  for (const char* folder : {"people", "scenes", "noface"}) {
    const std::filesystem::path dir[] = {faces / folder};
    for (const auto& f : collect_images(dir)) photos.push_back({f, folder, decode_image_file(f).bgr});
  }

  std::map<std::string, int> total, with_face_blaze, with_face_retry, with_face_ssd, faces_blaze;
  std::vector<Pair> pairs;
  std::map<std::string, std::pair<int, int>> found_in_scene;  // fast detector, SSD
  float noface_max_score = 0;
  // The smallest face each detector finds, as a fraction of the photo's longer side (box width).
  double smallest_blaze = 1, smallest_ssd = 1;
  std::vector<double> ssd_faces_missed;  // SSD faces with no fast-detector face on them
  for (const auto& p : photos) {
    const auto s = ssd->detect(p.bgr);
    DetectOptions low;
    low.score_threshold = 0.3f;  // to see how close the misses and false boxes come
    const auto b = blaze->detect(p.bgr);
    const auto b_low = blaze->detect(p.bgr, low);
    const auto br = blaze_retry->detect(p.bgr);
    const auto n = native->detect(p.bgr);
    ++total[p.folder];
    with_face_blaze[p.folder] += !b.empty();
    with_face_retry[p.folder] += !br.empty();
    with_face_ssd[p.folder] += !s.empty();
    faces_blaze[p.folder] += static_cast<int>(b.size());
    if (p.folder == "noface")
      for (const auto& d : b_low) noface_max_score = std::max(noface_max_score, d.score);
    const double long_side = std::max(p.bgr.cols, p.bgr.rows);
    for (const auto& d : b) smallest_blaze = std::min(smallest_blaze, d.box.width() / long_side);
    for (const auto& d : s) {
      smallest_ssd = std::min(smallest_ssd, d.box.width() / long_side);
      const bool found = std::any_of(b.begin(), b.end(), [&](const Detection& x) { return iou(x.box, d.box) >= 0.3f; });
      if (!found && p.folder != "noface") ssd_faces_missed.push_back(d.box.width() / long_side);
    }
    if (p.folder == "scenes")
      found_in_scene["scenes/" + p.path.filename().string()] = {static_cast<int>(b.size()), static_cast<int>(s.size())};
    if (p.folder == "people" && b.empty())
      std::printf("  no face (fast detector): %s (best score at 0.3: %.2f; SSD: %zu face(s))\n", p.path.c_str(),
                  b_low.empty() ? 0.f : b_low[0].score, s.size());
    // Pair each SSD face with the BlazeFace face that overlaps it most (greedy on native boxes, IoU >= 0.3),
    // leaving out boxes cut by the image border, whose size says little.
    if (n.size() != b.size()) throw Error(ErrorCode::kInference, p.path.string() + ": framing changed the face count");
    std::vector<bool> used(n.size(), false);
    for (const auto& sf : s) {
      int best = -1;
      float best_iou = 0.3f;
      for (size_t k = 0; k < n.size(); ++k) {
        const float o = iou(sf.box, n[k].box);
        if (!used[k] && o >= best_iou) best = static_cast<int>(k), best_iou = o;
      }
      if (best < 0) continue;
      used[best] = true;
      const Box& nb = n[best].box;
      const bool cut = nb.x1 <= 0 || nb.y1 <= 0 || nb.x2 >= p.bgr.cols || nb.y2 >= p.bgr.rows;
      if (!cut) pairs.push_back({p.folder, sf.box, nb, b[best].box, &p.bgr});  // same order: same NMS
    }
  }
  std::printf("\nfaces found (score >= %.2f):\n", pack.fast_detector->score_threshold);
  for (const char* folder : {"people", "scenes", "noface"})
    std::printf("  %-7s %3d photos: fast detector finds a face in %3d (%d faces), with padded retry %3d; SSD+retry %3d\n",
                folder, total[folder], with_face_blaze[folder], faces_blaze[folder], with_face_retry[folder],
                with_face_ssd[folder]);
  std::printf("  noface: best fast-detector score at threshold 0.3: %.3f\n", noface_max_score);
  std::printf("  smallest face found (box width / photo's longer side): fast detector %.3f, SSD %.3f\n", smallest_blaze,
              smallest_ssd);
  std::printf("  SSD faces the fast detector misses: %zu, their width / longer side: median %.3f, 90%% under %.3f\n",
              ssd_faces_missed.size(), median(ssd_faces_missed), quantile(ssd_faces_missed, 0.9));

  std::printf("\nscenes/ faces found: fast detector, SSD+retry, annotated count (MANIFEST.tsv):\n");
  const auto counts = scene_counts(faces);
  int found_total = 0, expected_total = 0, abs_error = 0;
  for (const auto& [rel, found] : found_in_scene) {
    const auto known = counts.find(rel);
    std::printf("  %-40s %2d %2d %s\n", rel.c_str(), found.first, found.second,
                known == counts.end() ? "?" : std::to_string(known->second).c_str());
    if (known == counts.end()) continue;
    found_total += found.first, expected_total += known->second, abs_error += std::abs(found.first - known->second);
  }
  std::printf("  annotated photos: %d of %d faces found, sum |error| %d\n", found_total, expected_total, abs_error);

  std::vector<const Pair*> all, people, scenes;
  for (const auto& p : pairs) {
    all.push_back(&p);
    (p.folder == "people" ? people : scenes).push_back(&p);
  }
  const Calibration c = fit(all);
  std::printf("\ncalibration fitted on %zu matched faces (%zu people/, %zu scenes/), medians:\n", all.size(),
              people.size(), scenes.size());
  std::printf("  width scale %.4f  height scale %.4f  centre shift x %.4f  y %.4f (of the BlazeFace box size)\n",
              c.width_scale, c.height_scale, c.shift_x, c.shift_y);
  report_iou("uncalibrated BlazeFace vs SSD, all", all, {});
  report_iou("calibrated (fit on all) vs SSD, all", all, c);
  report_iou("calibrated (fit on all) vs SSD, people/", people, c);
  report_iou("calibrated (fit on all) vs SSD, scenes/", scenes, c);
  report_iou("fit on people/, checked on scenes/", scenes, fit(people));
  report_iou("fit on scenes/, checked on people/", people, fit(scenes));
  // What the detector gives with its compiled-in constants (src/detect/mediapipe_face_decoder.cpp).
  std::vector<Pair> compiled;
  for (const Pair* p : all) compiled.push_back({p->folder, p->ssd, p->blaze_in_use, p->blaze_in_use, p->image});
  std::vector<const Pair*> compiled_ptrs;
  for (const auto& p : compiled) compiled_ptrs.push_back(&p);
  report_iou("the detector's boxes (compiled-in calibration)", compiled_ptrs, {});

  // What the landmarker and the descriptor make of each box: the 68 points and the dlib descriptor from
  // the SSD box against those from the BlazeFace box of the same face, raw and calibrated.
  const auto landmarker = make_landmarker(pack, one_thread);
  const auto aligner = make_aligner(pack);
  const auto embedder = make_embedder(pack, one_thread);
  auto describe = [&](const cv::Mat& img, const Box& box, std::vector<Point>& points) {
    points = landmarker->landmarks(img, std::span<const Box>(&box, 1)).front();
    const cv::Mat chip = aligner->align(img, points);
    std::vector<float> v(embedder->dim());
    embedder->embed(std::span<const cv::Mat>(&chip, 1), v);
    l2_normalize(v);
    return v;
  };
  std::printf("\n68 landmarks and descriptors from the BlazeFace box vs from the SSD box (%zu faces):\n", all.size());
  for (const auto& [what, cal] : {std::pair{"uncalibrated", Calibration{}}, std::pair{"calibrated (fit on all)", c}}) {
    // (the fit on all equals the compiled-in constants once they have been updated from this output)
    std::vector<double> cosines, errors;
    for (const Pair* p : all) {
      std::vector<Point> ref, got;
      const auto a = describe(*p->image, p->ssd, ref);
      const auto b = describe(*p->image, cal.apply(p->blaze), got);
      cosines.push_back(similarity(a, b));
      double e = 0;  // mean point distance, in units of the SSD box width
      for (size_t k = 0; k < ref.size(); ++k) e += std::hypot(ref[k].x - got[k].x, ref[k].y - got[k].y);
      errors.push_back(e / ref.size() / p->ssd.width());
    }
    std::printf("  %-24s landmark error mean %.4f p90 %.4f of the box width; descriptor cosine mean %.4f p10 %.4f min %.4f\n",
                what, std::accumulate(errors.begin(), errors.end(), 0.0) / errors.size(), quantile(errors, 0.9),
                std::accumulate(cosines.begin(), cosines.end(), 0.0) / cosines.size(), quantile(cosines, 0.1),
                *std::min_element(cosines.begin(), cosines.end()));
  }

  std::vector<Photo> timed;
  for (const auto& p : photos)
    if (p.folder != "noface") timed.push_back(p);
  std::printf("\ndetector time per photo, 1 thread, %zu photos of people/ and scenes/ (decoded), mean of 3 rounds:\n",
              timed.size());
  std::printf("  fast detector %.1f ms, SSD (no retry) %.1f ms\n", time_ms(*blaze, timed, 3), time_ms(*ssd_bare, timed, 3));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "facesearch_mediapipe_calibration: %s\n", e.what());
  return 1;
}
