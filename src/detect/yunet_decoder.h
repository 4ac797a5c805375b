// Decoding of OpenCV zoo's YuNet detector outputs (face_detection_yunet_2023mar.onnx), step for step as
// OpenCV 4.8+'s cv::FaceDetectorYN (modules/objdetect/src/face_detect.cpp: padWithDivisor, postProcess,
// then cv::dnn::NMSBoxes on integer rectangles), separate from the ONNX session so that every step can be
// tested on synthetic tensors. OpenCV 4.6's FaceDetectorYN decodes the older 2022mar model (prior boxes,
// outputs loc/conf/iou) and cannot run this one.
#pragma once

#include <span>
#include <vector>

#include "core/types.h"

namespace facesearch::yunet {

inline constexpr int kStrides[3] = {8, 16, 32};
inline constexpr int kDivisor = 32;  // the input is padded bottom/right to a multiple of the largest stride

// OpenCV's padW / padH: (int((size - 1) / 32) + 1) * 32, e.g. 300 -> 320, 320 -> 320, 321 -> 352.
int padded_size(int size);

// How a photo is fitted into the detector's bounded input: resized keeping its aspect ratio so that it
// fits bound_width x bound_height, never enlarged. (OpenCV runs at whatever size the caller sets; the zoo
// demo sets the photo's own size, which has no bound.) scale_x = photo width / width: input pixels times
// it are photo pixels.
struct Fit {
  int width = 0;  // of the resized photo
  int height = 0;
  float scale_x = 1;
  float scale_y = 1;
};
// Sides rounded to the nearest pixel, at least 1. Throws Error{kInvalidArgument} for non-positive sizes.
Fit fit_photo(int photo_width, int photo_height, int bound_width, int bound_height);

// One stride level's outputs for one image, row-major over the rows x cols cells of the padded input
// (rows = padded height / stride): cls [N], obj [N], bbox [N, 4] (dx, dy, log w, log h in strides),
// kps [N, 10] (5 x (x, y) in strides from the cell's corner).
struct Level {
  int stride = 8;
  std::span<const float> cls;
  std::span<const float> obj;
  std::span<const float> bbox;
  std::span<const float> kps;
};

// Thresholds, defaults from the zoo demo (opencv_zoo models/face_detection_yunet/demo.py).
struct Params {
  float score_threshold = 0.9f;
  float nms_threshold = 0.3f;
  int top_k = 5000;  // the best top_k candidates enter NMS (cv::dnn::NMSBoxes' top_k)
};

// cv::Rect2i, as OpenCV builds it for NMS: Rect2i(int(x1), int(y1), int(w), int(h)), truncated toward 0.
struct IntRect {
  int x = 0, y = 0, width = 0, height = 0;
};
IntRect truncate_to_int(float x1, float y1, float width, float height);

// OpenCV's rectOverlap: intersection area / union area of integer rectangles (area = width * height, no
// +1 pixel), 1 when both are empty.
float overlap(const IntRect& a, const IntRect& b);

// cv::dnn::NMSBoxes(rects, scores, score_threshold, nms_threshold, indices, eta = 1, top_k): candidates
// scoring strictly above score_threshold, sorted by score descending (stable: ties keep index order), cut
// to the best top_k (when top_k > 0), then each kept when its overlap with every kept one is
// <= nms_threshold. Returns the kept indices, best first.
std::vector<size_t> nms_boxes(std::span<const IntRect> rects, std::span<const float> scores, float score_threshold,
                              float nms_threshold, int top_k);

// FaceDetectorYN::postProcess: every cell with score = sqrt(clamp(cls, 0, 1) * clamp(obj, 0, 1)) >=
// score_threshold, decoded (centre (c + dx, r + dy) * stride, size e^(log w) * stride, keypoints
// (c + kx, r + ky) * stride) in input pixels; then, when there is more than one, nms_boxes on their
// integer rectangles (as OpenCV, a lone face skips NMS, so only it survives scoring exactly the
// threshold). Boxes and keypoints are multiplied by fit.scale_x / scale_y into photo pixels; keypoints
// in YuNet's order: right eye, left eye, nose tip, right and left mouth corners (the subject's right is
// the image's left: the ArcFace template's order). Best first. Throws Error{kModel} naming the stride
// when a level's sizes do not fit the padded_width x padded_height grid.
std::vector<Detection> decode(std::span<const Level> levels, int padded_width, int padded_height, const Params& params,
                              const Fit& fit);

}  // namespace facesearch::yunet
