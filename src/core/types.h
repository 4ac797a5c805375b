// Typed results shared by every stage. Coordinates are in pixels of the upright (EXIF-applied)
// full-resolution image unless a declaration says otherwise.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace facesearch {

struct Point {
  float x = 0;
  float y = 0;
};

// Axis-aligned box, corners (x1, y1) top-left and (x2, y2) bottom-right, x2 >= x1, y2 >= y1.
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
  float area() const { return std::max(0.f, width()) * std::max(0.f, height()); }
  Box scaled(float s) const { return {x1 * s, y1 * s, x2 * s, y2 * s}; }
};

// Intersection over union of two boxes, 0 when either is empty.
inline float iou(const Box& a, const Box& b) {
  const float ix = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float iy = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = ix * iy;
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

// A face found by a detector: box and confidence in [0, 1], and which detector (pass) found it, e.g.
// "ssd_mobilenetv1", "mediapipe_face_full", "mediapipe_face_full/tiled" (recorded in the catalog).
struct Detection {
  Box box;
  float score = 0;
  std::string detector;
  std::vector<Point> keypoints;  // detectors that give them: 5 points (eyes, nose, mouth corners)
};

// A detected face after landmarking: 68 points (iBUG 300-W order) for the dlib pack,
// 5 points (eyes, nose, mouth corners) for packs whose detector gives keypoints.
struct Face {
  Box box;
  float score = 0;
  std::vector<Point> landmarks;
  std::string detector;  // as in Detection
};

}  // namespace facesearch
