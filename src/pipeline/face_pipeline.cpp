#include "pipeline/face_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

namespace facesearch {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

namespace {

// Packs whose detector is not the dlib pack's SSD (SCRFD, YuNet) run it as their reference
// implementation does; the strategies that combine SSD with the fast detector are the dlib pack's.
DetectionStrategy checked_strategy(const ModelPack& pack, DetectionStrategy detection) {
  if (detection != DetectionStrategy::kAuto && pack.detector.kind != "ssd_mobilenetv1")
    throw Error(ErrorCode::kInvalidArgument,
                std::string("detection strategy ") + strategy_name(detection) + " is for the packs with face-api.js's SSD (mobilefacenet-faceapi, dlib-faceapi); model pack " +
                    pack.name + " has its own detector (" + pack.detector.kind + ")",
                Hint{Remedy::kLeaveDetectorDefault, strategy_name(detection)});
  return resolve_strategy(pack, detection);
}

}  // namespace

FacePipeline::FacePipeline(ModelPack pack, const RuntimeOptions& runtime, DetectionStrategy detection)
    : pack_(std::move(pack)),
      detection_(checked_strategy(pack_, detection)),
      detector_(make_detection_strategy(pack_, detection_, runtime)),
      landmarker_(make_landmarker(pack_, runtime)),
      aligner_(make_aligner(pack_)),
      embedder_(make_embedder(pack_, runtime)) {
  // Without a landmarker the detector's keypoints align the face (SCRFD, YuNet: 5 points).
  if (!landmarker_ && detector_->keypoints() == 0)
    throw Error(ErrorCode::kModel, "model pack " + pack_.name + ": its detector " + pack_.detector.file.filename().string() +
                                       " gives no keypoints and the pack has no landmarker, so faces cannot be aligned");
}

DecodeOptions FacePipeline::decode_options(DecodeOptions requested) const {
  if (pack_.aligner.kind == "arcface_5pt" && !pack_.landmarker) requested.min_long_side_px = 0;
  return requested;
}

std::vector<LocatedFace> FacePipeline::locate(const DecodedImage& image, const DetectOptions& options,
                                              StageTimes* times) const {
  StageTimes local;
  const float scale = image.scale;
  DetectOptions decoded_options = options;
  decoded_options.min_face_px = options.min_face_px / scale;  // the caller speaks full-resolution pixels
  const float smallest = options.smallest_face_px > 0
                             ? options.smallest_face_px
                             : std::max(kDefaultSmallestFacePx,
                                        kDefaultSmallestFaceFraction * float(std::max(image.width, image.height)));
  decoded_options.smallest_face_px = std::max(smallest, options.min_face_px) / scale;

  auto t0 = Clock::now();
  auto detections = detector_->detect(image.bgr, decoded_options);
  local.detect_ms = ms_since(t0);
  std::sort(detections.begin(), detections.end(), [](const Detection& a, const Detection& b) {
    const float ax = a.box.x1 + a.box.x2, bx = b.box.x1 + b.box.x2;
    return ax != bx ? ax < bx : a.box.y1 < b.box.y1;
  });

  // Landmarks and alignment in the landmarker's batches, which idle helpers may take (a crowd's
  // hundred faces); each part's time counts, whichever thread ran it.
  std::vector<LocatedFace> faces(detections.size());
  const size_t part_size = landmarker_ ? landmarker_->batch() : std::max<size_t>(1, detections.size());
  const size_t parts = (detections.size() + part_size - 1) / part_size;
  std::vector<StageTimes> part_times(parts);
  run_parts(options.helpers, parts, [&](size_t part) {
    const size_t start = part * part_size, end = std::min(detections.size(), start + part_size);
    auto t = Clock::now();
    std::vector<std::vector<Point>> marks;
    if (landmarker_) {
      std::vector<Box> boxes;
      for (size_t i = start; i < end; ++i) boxes.push_back(detections[i].box);
      marks = landmarker_->landmarks(image.bgr, boxes);
    } else {
      for (size_t i = start; i < end; ++i) marks.push_back(std::move(detections[i].keypoints));
    }
    part_times[part].landmarks_ms = ms_since(t);
    t = Clock::now();
    for (size_t i = start; i < end; ++i) {
      auto& points = marks[i - start];
      faces[i].chip = aligner_->align(image.bgr, points);
      Face& f = faces[i].face;
      f.box = detections[i].box.scaled(scale);
      f.score = detections[i].score;
      f.detector = std::move(detections[i].detector);
      for (auto& p : points) p = {p.x * scale, p.y * scale};
      f.landmarks = std::move(points);
    }
    part_times[part].align_ms = ms_since(t);
  });
  for (const auto& t : part_times) local += t;
  if (times) *times += local;
  return faces;
}

void FacePipeline::embed(std::span<const cv::Mat> chips, std::span<float> out, StageTimes* times,
                         WorkSharing* helpers) const {
  if (out.size() < chips.size() * static_cast<size_t>(embedder_->dim()))
    throw Error(ErrorCode::kInvalidArgument, "embed: output buffer too small");
  // In the embedder's own batches, which idle helpers may take; each batch's time counts.
  const std::vector<size_t> sizes = embedder_->batches(chips.size());
  std::vector<size_t> starts(sizes.size());
  for (size_t b = 1; b < sizes.size(); ++b) starts[b] = starts[b - 1] + sizes[b - 1];
  std::vector<double> ms(sizes.size());
  const size_t dim = static_cast<size_t>(embedder_->dim());
  run_parts(helpers, sizes.size(), [&](size_t b) {
    const auto t0 = Clock::now();
    const auto part = out.subspan(starts[b] * dim, sizes[b] * dim);
    embedder_->embed(chips.subspan(starts[b], sizes[b]), part);
    if (pack_.metric == Metric::kCosine)
      for (size_t i = 0; i < sizes[b]; ++i) l2_normalize(part.subspan(i * dim, dim));
    ms[b] = ms_since(t0);
  });
  if (times)
    for (const double m : ms) times->embed_ms += m;
}

std::vector<FaceRecord> FacePipeline::analyze(const DecodedImage& image, const DetectOptions& options,
                                              StageTimes* times) const {
  auto located = locate(image, options, times);
  std::vector<cv::Mat> chips;
  for (const auto& l : located) chips.push_back(l.chip);
  const size_t dim = static_cast<size_t>(embedding_dim());
  std::vector<float> vectors(chips.size() * dim);
  embed(chips, vectors, times);
  std::vector<FaceRecord> records(located.size());
  for (size_t i = 0; i < located.size(); ++i) {
    records[i].face = std::move(located[i].face);
    records[i].embedding.assign(vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
  }
  return records;
}

void check_analysis_options(const ModelPack& pack, const AnalysisOptions& options) {
  if (options.detect.input_px > 0 && pack.detector.kind != "scrfd" && pack.detector.kind != "yunet")
    throw Error(ErrorCode::kInvalidArgument,
                "the detector input size is for the SCRFD and YuNet detectors of InsightFace and OpenCV zoo packs; "
                "model pack " + pack.name + " detects with " + pack.detector.kind,
                Hint{Remedy::kDetectorSizeFixed, pack.detector.kind});
}

void l2_normalize(std::span<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

}  // namespace facesearch
