#include "detect/scrfd_decoder.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"

namespace facesearch::scrfd {

Letterbox letterbox(int photo_width, int photo_height, int input_width, int input_height) {
  if (photo_width <= 0 || photo_height <= 0 || input_width <= 0 || input_height <= 0)
    throw Error(ErrorCode::kInvalidArgument, "scrfd letterbox: sizes must be positive");
  const double im_ratio = double(photo_height) / photo_width;
  const double model_ratio = double(input_height) / input_width;
  Letterbox l;
  if (im_ratio > model_ratio) {
    l.height = input_height;
    l.width = static_cast<int>(l.height / im_ratio);  // Python int(): truncation
  } else {
    l.width = input_width;
    l.height = static_cast<int>(l.width * im_ratio);
  }
  l.width = std::max(l.width, 1), l.height = std::max(l.height, 1);
  l.scale = static_cast<float>(double(l.height) / photo_height);
  return l;
}

std::vector<Point> anchor_centres(int input_width, int input_height, int stride, int anchors_per_cell) {
  const int h = input_height / stride, w = input_width / stride;  // insightface: input_height // stride
  std::vector<Point> out;
  out.reserve(static_cast<size_t>(h) * w * anchors_per_cell);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int a = 0; a < anchors_per_cell; ++a) out.push_back({float(x * stride), float(y * stride)});
  return out;
}

std::vector<size_t> nms(std::span<const Detection> detections, float iou_threshold) {
  std::vector<size_t> order(detections.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // np.argsort(scores)[::-1]: descending; ties keep no particular order there, here the later index first.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return detections[a].score > detections[b].score; });
  auto area = [](const Box& b) { return (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1); };
  std::vector<size_t> keep;
  std::vector<bool> dropped(detections.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    if (dropped[i]) continue;
    const Box& a = detections[order[i]].box;
    keep.push_back(order[i]);
    for (size_t j = i + 1; j < order.size(); ++j) {
      if (dropped[j]) continue;
      const Box& b = detections[order[j]].box;
      const float w = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1) + 1);
      const float h = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1) + 1);
      const float inter = w * h;
      const float ovr = inter / (area(a) + area(b) - inter);
      if (ovr > iou_threshold) dropped[j] = true;  // insightface keeps np.where(ovr <= thresh)
    }
  }
  return keep;
}

std::vector<Detection> decode(std::span<const Level> levels, int input_width, int input_height, int anchors_per_cell,
                              const Letterbox& letterbox, float score_threshold, float nms_iou) {
  std::vector<Detection> candidates;
  for (const Level& level : levels) {
    const auto centres = anchor_centres(input_width, input_height, level.stride, anchors_per_cell);
    const size_t n = centres.size();
    const bool with_keypoints = !level.keypoints.empty();
    if (level.scores.size() != n || level.distances.size() != n * 4 || (with_keypoints && level.keypoints.size() != n * 10))
      throw Error(ErrorCode::kModel, "scrfd output for stride " + std::to_string(level.stride) + ": expected " +
                                         std::to_string(n) + " anchors (scores), " + std::to_string(n * 4) +
                                         " distances and " + std::to_string(n * 10) + " keypoint values; got " +
                                         std::to_string(level.scores.size()) + ", " + std::to_string(level.distances.size()) +
                                         ", " + std::to_string(level.keypoints.size()));
    const float s = static_cast<float>(level.stride);
    for (size_t i = 0; i < n; ++i) {
      if (!(level.scores[i] >= score_threshold)) continue;
      const Point c = centres[i];
      const float* d = &level.distances[i * 4];
      Detection det;
      det.score = level.scores[i];
      det.box = {(c.x - d[0] * s) / letterbox.scale, (c.y - d[1] * s) / letterbox.scale,
                 (c.x + d[2] * s) / letterbox.scale, (c.y + d[3] * s) / letterbox.scale};
      if (with_keypoints) {
        const float* k = &level.keypoints[i * 10];
        for (int p = 0; p < 5; ++p)
          det.keypoints.push_back({(c.x + k[2 * p] * s) / letterbox.scale, (c.y + k[2 * p + 1] * s) / letterbox.scale});
      }
      candidates.push_back(std::move(det));
    }
  }
  std::vector<Detection> out;
  for (const size_t i : nms(candidates, nms_iou)) out.push_back(std::move(candidates[i]));
  return out;
}

}  // namespace facesearch::scrfd
