// Decoding of MediaPipe's full-range BlazeFace outputs (face_detection_full_range), separate from the
// ONNX session so that it can be tested on synthetic tensors. Coordinates here are pixels of the
// 192x192 network input unless a declaration says otherwise.
#pragma once

#include <span>
#include <vector>

#include "core/types.h"

namespace facesearch::mediapipe_face {

// The network: input 192x192, one anchor per cell of a 48x48 grid (stride 4), 16 regressors per anchor
// (box x, y, w, h, then 6 keypoints x, y), one score logit. The converted graph's face output
// ("Identity", [N,2304,17]) holds per anchor the logit first, then the 16 regressors.
inline constexpr int kInputSize = 192;
inline constexpr int kGrid = 48;
inline constexpr int kAnchors = kGrid * kGrid;  // 2304
inline constexpr int kRegressors = 16;
inline constexpr int kValuesPerAnchor = 1 + kRegressors;

// Anchor `a`'s centre in input pixels: MediaPipe's SsdAnchorsCalculator, row-major over the grid.
Point anchor_centre(int a);

// Boxes and scores of the anchors whose score (sigmoid of the clipped logit) reaches `min_score`, in
// input pixels, in anchor order. `face_head` is one image's [2304 x 17] face output.
std::vector<Detection> decode(std::span<const float> face_head, float min_score);

// MediaPipe's NonMaxSuppressionCalculator with algorithm WEIGHTED: the best box absorbs every box that
// overlaps it by more than `iou_threshold` (IoU), its corners becoming their score-weighted mean; it
// keeps the best score. At most `max_keep` boxes, best first.
std::vector<Detection> weighted_nms(std::vector<Detection> detections, float iou_threshold, int max_keep);

// BlazeFace frames a face differently from face-api.js's SSD, whose boxes the 68-point landmarker was
// trained on: this maps a BlazeFace box to the SSD box of the same face (fitted on testdata, see
// mediapipe_face_decoder.cpp's constants and docs/ACCURACY.md).
Box to_ssd_box(const Box& blazeface_box);

}  // namespace facesearch::mediapipe_face
