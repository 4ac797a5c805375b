// Decoding of InsightFace's SCRFD detector outputs (det_10g.onnx in buffalo_l, det_500m.onnx in
// buffalo_s, scrfd_10g_bnkps.onnx in antelopev2), step for step as insightface 0.7's
// model_zoo/scrfd.py (SCRFD.detect / SCRFD.forward / SCRFD.nms), separate from the ONNX session so that
// every step can be tested on synthetic tensors. Issue 5: the detector and the model packs around it
// are not wired into the pipeline yet.
#pragma once

#include <span>
#include <vector>

#include "core/types.h"

namespace facesearch::scrfd {

// How a photo is fitted into the square input: resized keeping its aspect ratio and placed at the
// top-left of a zero canvas. scale = resized height / photo height (insightface's det_scale): boxes
// in input pixels divided by it are photo pixels.
struct Letterbox {
  int width = 0;   // of the resized photo inside the input
  int height = 0;
  float scale = 1;
};
// insightface: im_ratio = h / w; if im_ratio > input_h / input_w the height fills the input and
// width = int(input_h / im_ratio), else the width fills it and height = int(input_w * im_ratio).
Letterbox letterbox(int photo_width, int photo_height, int input_width, int input_height);

// Anchor centres of one stride level in input pixels: grid (x, y) * stride, row-major (y outer), each
// centre repeated `anchors_per_cell` times in a row (np.stack([centres] * 2, axis=1)).
std::vector<Point> anchor_centres(int input_width, int input_height, int stride, int anchors_per_cell);

// One stride level's outputs for one image, row-major: scores [A] (already sigmoid in the graph),
// distances [A, 4] (left, top, right, bottom, in units of the stride), keypoints [A, 10] (5 x (dx, dy)
// in units of the stride) or empty for models without keypoints (6 outputs).
struct Level {
  int stride = 8;
  std::span<const float> scores;
  std::span<const float> distances;
  std::span<const float> keypoints;
};

// Every anchor scoring >= score_threshold, decoded (distance2bbox / distance2kps), in input pixels,
// divided by letterbox.scale, then insightface's NMS at nms_iou; best first. Throws Error{kModel} when
// a level's sizes do not fit its anchor grid.
std::vector<Detection> decode(std::span<const Level> levels, int input_width, int input_height, int anchors_per_cell,
                              const Letterbox& letterbox, float score_threshold, float nms_iou);

// insightface's SCRFD.nms: greedy, best score first, areas and intersections with the +1 pixel
// convention ((x2 - x1 + 1) * (y2 - y1 + 1)); a box is dropped when its overlap with a kept one is
// above `iou_threshold` (<= is kept). Returns the kept indices into `detections`, best first.
std::vector<size_t> nms(std::span<const Detection> detections, float iou_threshold);

}  // namespace facesearch::scrfd
