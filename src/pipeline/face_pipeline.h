// The whole per-image path: decoded pixels -> detect -> landmarks -> align -> embed.
// Owns one instance of each stage, built from a model pack. All methods are thread-safe, so one
// pipeline serves every worker thread (the ONNX sessions are shared, weights loaded once).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "align/aligner.h"
#include "core/types.h"
#include "detect/detector.h"
#include "detect/landmarker.h"
#include "embed/embedder.h"
#include "image/image.h"
#include "models/model_pack.h"

namespace facesearch {

// Milliseconds spent in each stage (summed over images and threads).
struct StageTimes {
  double decode_ms = 0, detect_ms = 0, landmarks_ms = 0, align_ms = 0, embed_ms = 0;
  StageTimes& operator+=(const StageTimes& o) {
    decode_ms += o.decode_ms, detect_ms += o.detect_ms, landmarks_ms += o.landmarks_ms;
    align_ms += o.align_ms, embed_ms += o.embed_ms;
    return *this;
  }
};

// A face located in an image and cut out for the embedder.
struct LocatedFace {
  Face face;     // box and landmarks in full-resolution upright pixels
  cv::Mat chip;  // aligned chip, ready for Embedder::embed
};

// A face with its identity vector (L2-normalised for the cosine metric).
struct FaceRecord {
  Face face;
  std::vector<float> embedding;
};

// The tiled passes of the mediapipe and cascade strategies look for faces down to the larger of these
// (shorter box side, full-resolution pixels) unless DetectOptions asks for another size: 24 px and 1%
// of the photo's longer side (40 px in a 4000x3000 photo), which bounds the number of tiles in large
// photos. Measured (docs/ACCURACY.md): 24 px keeps every annotated scene face (20 px: one extra box,
// 32 px: mean error 0.15) at 3.3-3.8x the SSD pipeline's speed.
inline constexpr float kDefaultSmallestFacePx = 24;
inline constexpr float kDefaultSmallestFaceFraction = 0.01f;

// How faces are looked for in a photo: one options type for every caller (indexing, folder search,
// library search's query photo, benchmarks), passed whole.
struct AnalysisOptions {
  DetectOptions detect;  // sizes in full-resolution pixels (min_face_px, smallest_face_px, input_px)
  DecodeOptions decode;  // reduced JPEG decoding, the pixel limit
};

// Throws Error{kInvalidArgument} for options the pack cannot honour: a detector input size
// (detect.input_px) for a pack whose detector has a fixed size.
void check_analysis_options(const ModelPack& pack, const AnalysisOptions& options);

class FacePipeline {
 public:
  FacePipeline(ModelPack pack, const RuntimeOptions& runtime, DetectionStrategy detection = DetectionStrategy::kAuto);

  // The strategy in use (kAuto resolved).
  DetectionStrategy detection() const { return detection_; }

  const ModelPack& pack() const { return pack_; }

  // How photos should be decoded for this pack: packs that align on their detector's 5 keypoints
  // (InsightFace, OpenCV zoo) cut their chips from the full-resolution photo as their reference code
  // does, so large JPEGs are not decoded reduced for them; packs with the 68-point landmarker
  // (dlib-faceapi, mobilefacenet-faceapi) keep `requested`.
  DecodeOptions decode_options(DecodeOptions requested) const;
  int embedding_dim() const { return embedder_->dim(); }

  // Detect, landmark and align every face of an image, with no embedding yet, so callers can batch
  // chips of several images into one embedder call. Options are in full-resolution pixels; a
  // smallest_face_px of 0 means the defaults above, and it is never below min_face_px. Faces are
  // ordered left to right by box centre (ties top to bottom), which gives each a stable index.
  // options.helpers may take parts of the detection, landmarks and alignment.
  std::vector<LocatedFace> locate(const DecodedImage& image, const DetectOptions& options,
                                  StageTimes* times = nullptr) const;

  // Embeds chips in batches into `out` (chips.size() x embedding_dim(), normalised per the metric);
  // idle `helpers` may take batches (the same vectors either way).
  void embed(std::span<const cv::Mat> chips, std::span<float> out, StageTimes* times = nullptr,
             WorkSharing* helpers = nullptr) const;

  // locate + embed for one image.
  std::vector<FaceRecord> analyze(const DecodedImage& image, const DetectOptions& options,
                                  StageTimes* times = nullptr) const;

 private:
  ModelPack pack_;
  DetectionStrategy detection_;
  std::unique_ptr<Detector> detector_;
  std::unique_ptr<Landmarker> landmarker_;
  std::unique_ptr<Aligner> aligner_;
  std::unique_ptr<Embedder> embedder_;
};

// Scales `v` to unit length in place (left as is when it is all zeros).
void l2_normalize(std::span<float> v);

}  // namespace facesearch
