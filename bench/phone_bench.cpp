// `facesearch_phone_bench` (part of `make bench`, issue 11): phone-size photos. Writes the set
// (bench/phone_photos.h: testdata's scenes/ and a sample of people/ at 4032 px, JPEG quality 90) into
// OUT/photos and its noface/ photos into OUT/noface (kept between runs), then on one thread per photo:
// the faces the SSD pipeline (SSD with its padded retry, `--detector ssd`) finds at >= 1% of the
// photo's long side, how many of them the default detection finds (a box overlapping with IoU >= 0.3),
// the faces only the default finds, false faces on noface/, and the time of each stage. Throughput
// with two workers and peak memory come from `facesearch_bench --target OUT/photos`.
//
// Usage: facesearch_phone_bench [--data DIR] [--out DIR] [--show] [--only TEXT] [--smallest-face PX]
//   --show: every photo's row; --only: the photos whose name has TEXT; --smallest-face: as facesearch's
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "bench/phone_photos.h"
#include "core/file_io.h"
#include "pipeline/face_pipeline.h"
#include "index/vector_index.h"
#include "pipeline/photo_files.h"
#include "search/folder_search.h"
#include "core/process_memory.h"

namespace fs = std::filesystem;
using namespace facesearch;

namespace {

// Writes OUT/photos/<part>_<name>.jpg and OUT/noface/<name>.jpg unless present and made by this
// version of the set (DIR/.phone-set-PART says which made them; older ones are written again).
std::vector<fs::path> write_set(const fs::path& data, const std::string& part, const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path stamp = dir / (".phone-set-" + part);
  std::string made_by;
  if (std::ifstream in(stamp); in) std::getline(in, made_by);
  const bool stale = made_by != eval::kPhoneSetVersion;
  std::vector<fs::path> files;
  for (const auto& rel : eval::phone_set_sources(data, part)) {
    std::string name = rel;
    for (char& c : name) if (c == '/') c = '_';
    const fs::path dst = dir / (fs::path(name).replace_extension(".jpg"));
    if (stale || !fs::exists(dst)) {
      const auto bytes = eval::phone_size_jpeg(data / rel);
      const fs::path tmp = dst.string() + ".tmp";
      std::ofstream(tmp, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      fs::rename(tmp, dst);
    }
    files.push_back(dst);
  }
  if (stale) std::ofstream(stamp) << eval::kPhoneSetVersion << '\n';
  return files;
}

struct Found {
  std::vector<Box> boxes;
  StageTimes times;
  double decode_ms = 0;
  int long_side = 0;
};

DetectOptions g_detect;  // --smallest-face

Found run(const FacePipeline& pipeline, const fs::path& file) {
  Found f;
  const auto t0 = std::chrono::steady_clock::now();
  const DecodedImage img = decode_image_file(file, pipeline.decode_options({}));
  f.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  f.long_side = std::max(img.width, img.height);
  for (const auto& l : pipeline.locate(img, g_detect, &f.times)) f.boxes.push_back(l.face.box);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  facesearch::tune_process_memory(argv);  // as the facesearch command runs
  fs::path data = "../shared/testdata/faces", out = "build/phone-photos";
  bool show = false;
  std::string only;  // --only TEXT: the photos whose name contains TEXT
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!std::strcmp(argv[i], "--show")) show = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--smallest-face") && i + 1 < argc) g_detect.smallest_face_px = float(std::atof(argv[++i]));
    else {
      std::fprintf(stderr, "usage: facesearch_phone_bench [--data DIR] [--out DIR] [--show] [--only TEXT] [--smallest-face PX]\n");
      return 2;
    }
  }
  std::vector<fs::path> photos = write_set(data, "scenes", out / "photos");
  for (auto& p : write_set(data, "people", out / "photos")) photos.push_back(p);
  auto noface = write_set(data, "noface", out / "noface");
  if (!only.empty()) {
    std::erase_if(photos, [&](const fs::path& p) { return p.filename().string().find(only) == std::string::npos; });
    noface.clear();
  }
  std::printf("phone-size set in %s: %zu photos (scenes and people), %zu without faces, %d px long side, JPEG %d\n",
              out.c_str(), photos.size(), noface.size(), eval::kPhoneLongSidePx, eval::kPhoneJpegQuality);

  const ModelPack pack = load_model_pack(resolve_models_dir(std::nullopt));
  const FacePipeline fast(pack, {}, DetectionStrategy::kAuto);
  // The reference: SSD as face-api.js runs it, every photo padded to its 512x512 square (the product's
  // SSD takes 4:3 photos in its 512x384 and 384x512 graphs; how it compares is the last row).
  ModelPack square = pack;
  square.detector.fitted.reset();
  const FacePipeline ssd(square, {}, DetectionStrategy::kSsd);
  const FacePipeline ssd_fitted(pack, {}, DetectionStrategy::kSsd);

  size_t ssd_faces = 0, ssd_big = 0, matched = 0, fast_faces = 0, only_fast = 0;
  size_t fitted_faces = 0, fitted_matched = 0, only_fitted = 0;
  StageTimes t_fast, t_ssd, t_fitted;
  double dec_fast = 0, dec_ssd = 0, dec_fitted = 0;
  if (show) std::printf("\n| photo | SSD >= 1%% | default finds | default only | default faces | SSD < 2%% | SSD < 3%% |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& p : photos) {
    const Found a = run(fast, p), b = run(ssd, p), c = run(ssd_fitted, p);
    t_fast += a.times, t_ssd += b.times, dec_fast += a.decode_ms, dec_ssd += b.decode_ms;
    t_fitted += c.times, dec_fitted += c.decode_ms;
    const float min_side = 0.01f * float(b.long_side);
    // How many of the reference's faces at >= 1% `found` holds, and how many of its own the reference lacks.
    auto compare = [&](const std::vector<Box>& found, size_t& hit, size_t& only) {
      for (const Box& s : b.boxes) {
        if (std::max(s.width(), s.height()) < min_side) continue;
        for (const Box& f : found)
          if (iou(s, f) >= 0.3f) { ++hit; break; }
      }
      for (const Box& f : found) {
        bool in_ssd = false;
        for (const Box& s : b.boxes) in_ssd = in_ssd || iou(s, f) >= 0.3f;
        only += !in_ssd;
      }
    };
    size_t big = 0, hit = 0, only = 0;
    for (const Box& s : b.boxes) big += std::max(s.width(), s.height()) >= min_side;
    compare(a.boxes, hit, only);
    compare(c.boxes, fitted_matched, only_fitted);
    fitted_faces += c.boxes.size();
    ssd_faces += b.boxes.size(), ssd_big += big, matched += hit, fast_faces += a.boxes.size(), only_fast += only;
    size_t under2 = 0, under3 = 0;
    for (const Box& s : b.boxes) {
      const float f = std::min(s.width(), s.height()) / float(b.long_side);
      under2 += f < 0.02f, under3 += f < 0.03f;
    }
    if (show) std::printf("| %s | %zu | %zu | %zu | %zu | %zu | %zu |\n", p.filename().c_str(), big, hit, only, a.boxes.size(), under2, under3);
  }
  size_t noface_fast = 0, noface_ssd = 0, noface_fitted = 0;
  for (const auto& p : noface)
    noface_fast += run(fast, p).boxes.size(), noface_ssd += run(ssd, p).boxes.size(), noface_fitted += run(ssd_fitted, p).boxes.size();

  std::printf("\nCompleteness: SSD's faces (with its padded retry) at >= 1%% of the long side that the default finds\n");
  std::printf("| | faces | SSD's >= 1%% found | found only by it | false faces on noface/ |\n|---|---:|---:|---:|---:|\n");
  std::printf("| default | %zu | %zu of %zu (%.1f%%) | %zu | %zu |\n", fast_faces, matched, ssd_big,
              100.0 * double(matched) / double(std::max<size_t>(ssd_big, 1)), only_fast, noface_fast);
  std::printf("| SSD, 512x512 (the reference) | %zu | %zu of %zu | - | %zu |\n", ssd_faces, ssd_big, ssd_big, noface_ssd);
  std::printf("| --detector ssd (4:3 inputs) | %zu | %zu of %zu (%.1f%%) | %zu | %zu |\n", fitted_faces, fitted_matched, ssd_big,
              100.0 * double(fitted_matched) / double(std::max<size_t>(ssd_big, 1)), only_fitted, noface_fitted);

  const double n = double(photos.size());
  std::printf("\nOne thread, milliseconds per photo\n| | decode | detect | landmarks | align | total |\n|---|---:|---:|---:|---:|---:|\n");
  auto row = [&](const char* name, const StageTimes& t, double dec) {
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", name, dec / n, t.detect_ms / n, t.landmarks_ms / n,
                t.align_ms / n, (dec + t.detect_ms + t.landmarks_ms + t.align_ms) / n);
  };
  row("default", t_fast, dec_fast);
  row("--detector ssd", t_fitted, dec_fitted);
  row("SSD, 512x512", t_ssd, dec_ssd);
  std::printf("(embedding is not run here; `facesearch_bench --target %s` has it, with two workers)\n",
              (out / "photos").c_str());
  return 0;
}
