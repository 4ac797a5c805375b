// MediaPipe's post-processing for face_detection_full_range, with the options of
// mediapipe/modules/face_detection/face_detection_full_range_common.pbtxt (quoted by name below).
#include "detect/mediapipe_face_decoder.h"

#include <algorithm>
#include <cmath>

namespace facesearch::mediapipe_face {
namespace {

// SsdAnchorsCalculatorOptions: num_layers 1, strides [4], input_size 192x192 -> one 48x48 feature map;
// anchor_offset_x/y 0.5 (anchors sit at cell centres); aspect_ratios [1.0] with
// interpolated_scale_aspect_ratio 0.0 -> one anchor per cell (48 * 48 = 2304, the graph's row count);
// fixed_anchor_size true -> every anchor is 1.0 x 1.0 (normalised), so min_scale 0.1484375 and
// max_scale 0.75 play no part.
constexpr int kStride = 4;
constexpr float kAnchorOffset = 0.5f;
constexpr float kAnchorSize = 1.0f;
static_assert(kInputSize / kStride == kGrid);

// TensorsToDetectionsCalculatorOptions: num_coords 16, box_coord_offset 0, keypoint_coord_offset 4,
// num_keypoints 6 (eyes, nose tip, mouth, ear tragions; unused here: the 68-point landmarker follows);
// reverse_output_order true -> boxes are (x_centre, y_centre, w, h); x_scale = y_scale = w_scale =
// h_scale = 192 -> regressors are in input pixels relative to the anchor; apply_exponential_on_box_size
// unset (false) -> linear sizes; sigmoid_score true with score_clipping_thresh 100.
constexpr float kXScale = 192.f, kYScale = 192.f, kWScale = 192.f, kHScale = 192.f;
constexpr float kScoreClip = 100.f;

// Calibration to SSD-like boxes (to_ssd_box). BlazeFace's boxes are square (height/width 1.00 on
// every testdata face) and centred lower; SSD's are taller than wide (median 1.33, 1.08..1.57) and
// reach higher up the forehead. SSD box = BlazeFace box (w x h) scaled by (kSsdWidthScale,
// kSsdHeightScale) about its centre, the centre moved by (kSsdShiftX * w, kSsdShiftY * h).
// Fitted by tools/mediapipe_box_calibration.cpp: medians over the 182 faces that both detectors find
// (IoU >= 0.3) in testdata/faces people/ and scenes/. IoU with SSD's box: mean 0.714 -> 0.789
// (people/ 0.816, scenes/ 0.764); fitted on one folder and checked on the other, 0.74-0.79. The
// landmarker hardly minds: descriptors from the calibrated box vs from the SSD box have cosine 0.9963
// on average (0.9956 uncalibrated). docs/ACCURACY.md, "MediaPipe full-range detector".
constexpr float kSsdWidthScale = 0.8652f;
constexpr float kSsdHeightScale = 1.1451f;
constexpr float kSsdShiftX = -0.0061f;
constexpr float kSsdShiftY = -0.0675f;

}  // namespace

Point anchor_centre(int a) {
  const int row = a / kGrid, col = a % kGrid;
  return {(col + kAnchorOffset) / kGrid * kInputSize, (row + kAnchorOffset) / kGrid * kInputSize};
}

std::vector<Detection> decode(std::span<const float> face_head, float min_score) {
  std::vector<Detection> out;
  if (face_head.size() < static_cast<size_t>(kAnchors) * kValuesPerAnchor) return out;
  // sigmoid(x) >= min_score  <=>  x >= logit(min_score): most anchors are rejected without an exp().
  const float p = std::clamp(min_score, 1e-6f, 1.f - 1e-6f);
  const float min_logit = std::log(p / (1.f - p));
  for (int a = 0; a < kAnchors; ++a) {
    const float* v = &face_head[static_cast<size_t>(a) * kValuesPerAnchor];
    const float logit = std::clamp(v[0], -kScoreClip, kScoreClip);
    if (!(logit >= min_logit)) continue;  // also drops NaN, which clamp passes through
    const float* r = v + 1;  // x, y, w, h (reverse_output_order), then keypoints
    const Point anchor = anchor_centre(a);
    // MediaPipe (normalised): c = r / scale * anchor_size + anchor_centre; times 192 for pixels.
    const float cx = r[0] / kXScale * kAnchorSize * kInputSize + anchor.x;
    const float cy = r[1] / kYScale * kAnchorSize * kInputSize + anchor.y;
    const float w = r[2] / kWScale * kAnchorSize * kInputSize;
    const float h = r[3] / kHScale * kAnchorSize * kInputSize;
    if (!(w > 0 && h > 0)) continue;
    Detection d;
    d.box = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
    d.score = 1.f / (1.f + std::exp(-logit));
    out.push_back(d);
  }
  return out;
}

std::vector<Detection> weighted_nms(std::vector<Detection> detections, float iou_threshold, int max_keep) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  std::vector<Detection> rest;
  while (!detections.empty() && static_cast<int>(kept.size()) < max_keep) {
    const Detection& best = detections.front();
    double x1 = 0, y1 = 0, x2 = 0, y2 = 0, total = 0;
    rest.clear();
    for (const auto& d : detections) {
      if (iou(best.box, d.box) > iou_threshold || &d == &best) {
        x1 += double(d.box.x1) * d.score, y1 += double(d.box.y1) * d.score;
        x2 += double(d.box.x2) * d.score, y2 += double(d.box.y2) * d.score;
        total += d.score;
      } else {
        rest.push_back(d);
      }
    }
    Detection merged = best;
    if (total > 0)
      merged.box = {float(x1 / total), float(y1 / total), float(x2 / total), float(y2 / total)};
    kept.push_back(merged);
    detections.swap(rest);
  }
  return kept;
}

Box to_ssd_box(const Box& b) {
  const float w = b.width(), h = b.height();
  const float cx = (b.x1 + b.x2) / 2 + kSsdShiftX * w;
  const float cy = (b.y1 + b.y2) / 2 + kSsdShiftY * h;
  const float hw = kSsdWidthScale * w / 2, hh = kSsdHeightScale * h / 2;
  return {cx - hw, cy - hh, cx + hw, cy + hh};
}

}  // namespace facesearch::mediapipe_face
