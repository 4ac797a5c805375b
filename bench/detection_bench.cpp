// `facesearch_detection_bench` (part of `make bench`): the detection strategies side by side on
// ../shared/testdata/faces — coverage (people/ photos with a face, boxes on noface/, annotated scene
// counts, faces in the unannotated scenes, a 40-px face pasted into a 4000x3000 canvas) and detection time
// per photo on one thread. Prints the tables of docs/ACCURACY.md "Detection strategy".
//
// Usage: facesearch_detection_bench [--data DIR] [--show FILE]   (--show: every detection of one photo)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <opencv2/imgproc.hpp>

#include "pipeline/face_pipeline.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "testdata_manifest.h"

namespace fs = std::filesystem;
using namespace facesearch;

namespace {

using Clock = std::chrono::steady_clock;

// A face of `face_px` (box height) pasted at (x, y) into a w x h canvas of mid grey: the face crop is
// people/Angelina/deepface_img5.jpg's face region.
cv::Mat pasted_face_canvas(const FacePipeline& pipeline, const fs::path& data, int w, int h, int face_px, int x, int y,
                           Box* where) {
  const auto src = decode_image_file(data / "people" / "Angelina" / "deepface_img5.jpg");
  const auto faces = pipeline.locate(src, {});
  cv::Mat canvas(h, w, CV_8UC3, cv::Scalar(120, 125, 130));
  if (faces.empty()) return canvas;
  const Box b = faces.front().face.box;
  // The crop: the box with a margin of half its size, scaled so the box is face_px tall.
  const float m = 0.5f * b.height();
  cv::Rect crop(int(std::max(0.f, b.x1 - m)), int(std::max(0.f, b.y1 - m)), 0, 0);
  crop.width = int(std::min(float(src.bgr.cols), b.x2 + m)) - crop.x;
  crop.height = int(std::min(float(src.bgr.rows), b.y2 + m)) - crop.y;
  const double s = double(face_px) / b.height();
  cv::Mat small;
  cv::resize(src.bgr(crop), small, cv::Size(std::max(1, int(crop.width * s)), std::max(1, int(crop.height * s))), 0, 0,
             cv::INTER_AREA);
  small.copyTo(canvas(cv::Rect(x, y, small.cols, small.rows)));
  *where = {float(x + (b.x1 - crop.x) * s), float(y + (b.y1 - crop.y) * s), float(x + (b.x2 - crop.x) * s),
            float(y + (b.y2 - crop.y) * s)};
  return canvas;
}

struct StrategyResult {
  std::string name;
  size_t people = 0, people_with_face = 0;
  size_t noface_boxes = 0;
  int scene_expected = 0, scene_found = 0, scene_abs_error = 0, scene_images = 0, scene_extra = 0;
  size_t unannotated_faces = 0;
  std::vector<std::string> unannotated;
  bool pasted_found = false;
  double detect_ms = 0, photos = 0;
};

}  // namespace

int main(int argc, char** argv) {
  fs::path data = "../shared/testdata/faces";
  fs::path show;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!std::strcmp(argv[i], "--show") && i + 1 < argc) show = argv[++i];
    else {
      std::fprintf(stderr, "usage: facesearch_detection_bench [--data DIR] [--show FILE]\n");
      return 2;
    }
  }
  const ModelPack pack = load_model_pack(resolve_models_dir(std::nullopt));
  const DetectionStrategy strategies[] = {DetectionStrategy::kSsd, DetectionStrategy::kMediapipe,
                                          DetectionStrategy::kCascade};
  if (!show.empty()) {
    const auto image = decode_image_file(show);
    for (const auto s : strategies) {
      const FacePipeline pipeline(pack, {}, s);
      for (const auto& f : pipeline.locate(image, {}))
        std::printf("%-9s %-32s score %.3f box %.0f,%.0f %.0fx%.0f\n", strategy_name(s), f.face.detector.c_str(),
                    f.face.score, f.face.box.x1, f.face.box.y1, f.face.box.width(), f.face.box.height());
    }
    return 0;
  }

  const auto counts = eval::annotated_scene_counts(data);
  const fs::path all[] = {data / "people", data / "noface", data / "scenes"};
  const auto files = collect_images(all);
  std::vector<StrategyResult> results;
  for (const auto s : strategies) {
    const FacePipeline pipeline(pack, {}, s);
    StrategyResult r;
    r.name = strategy_name(s);
    for (const auto& f : files) {
      const auto image = decode_image_file(f);
      StageTimes t;
      const auto faces = pipeline.locate(image, {}, &t);
      r.detect_ms += t.detect_ms, r.photos += 1;
      const std::string rel = fs::relative(f, data).string();
      if (rel.rfind("people/", 0) == 0) {
        ++r.people;
        r.people_with_face += !faces.empty();
      } else if (rel.rfind("noface/", 0) == 0) {
        r.noface_boxes += faces.size();
      } else if (const auto it = counts.find(rel); it != counts.end()) {
        const int found = static_cast<int>(faces.size());
        ++r.scene_images;
        r.scene_expected += it->second;
        r.scene_found += found;
        r.scene_abs_error += std::abs(found - it->second);
        r.scene_extra += std::max(0, found - it->second);
      } else {
        r.unannotated_faces += faces.size();
        r.unannotated.push_back(fs::path(rel).filename().string() + " " + std::to_string(faces.size()));
      }
    }
    Box truth;
    const cv::Mat canvas = pasted_face_canvas(pipeline, data, 4000, 3000, 40, 2900, 1700, &truth);
    DecodedImage big;
    big.bgr = canvas, big.width = canvas.cols, big.height = canvas.rows;
    for (const auto& f : pipeline.locate(big, {}))
      if (iou(f.face.box, truth) > 0.3f) r.pasted_found = true;
    results.push_back(std::move(r));
  }

  std::printf("## Detection strategies on %s (model pack %s)\n\n", data.c_str(), pack.name.c_str());
  std::printf("| strategy | people/ photos with a face | boxes on noface/ | annotated scenes: found / expected (extra) | "
              "mean abs error per scene | faces in unannotated scenes | 40-px face in 4000x3000 | detect ms per photo (1 thread) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results) {
    std::printf("| %s | %zu / %zu | %zu | %d / %d (%d) | %.3f | %zu | %s | %.1f |\n", r.name.c_str(), r.people_with_face,
                r.people, r.noface_boxes, r.scene_found, r.scene_expected, r.scene_extra,
                double(r.scene_abs_error) / std::max(1, r.scene_images), r.unannotated_faces,
                r.pasted_found ? "found" : "missed", r.detect_ms / std::max(1.0, r.photos));
  }
  std::printf("\nunannotated scenes (faces found):\n");
  for (const auto& r : results) {
    std::printf("  %-9s", r.name.c_str());
    for (const auto& u : r.unannotated) std::printf("  %s", u.c_str());
    std::printf("\n");
  }
  return 0;
}
