#include "detect/yunet_decoder.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"

namespace facesearch::yunet {

int padded_size(int size) { return ((size - 1) / kDivisor + 1) * kDivisor; }

Fit fit_photo(int photo_width, int photo_height, int bound_width, int bound_height) {
  if (photo_width <= 0 || photo_height <= 0 || bound_width <= 0 || bound_height <= 0)
    throw Error(ErrorCode::kInvalidArgument, "yunet fit: sizes must be positive");
  const double s = std::min({1.0, double(bound_width) / photo_width, double(bound_height) / photo_height});
  Fit f;
  f.width = std::clamp(static_cast<int>(std::lround(photo_width * s)), 1, bound_width);
  f.height = std::clamp(static_cast<int>(std::lround(photo_height * s)), 1, bound_height);
  f.scale_x = static_cast<float>(double(photo_width) / f.width);
  f.scale_y = static_cast<float>(double(photo_height) / f.height);
  return f;
}

IntRect truncate_to_int(float x1, float y1, float width, float height) {
  return {static_cast<int>(x1), static_cast<int>(y1), static_cast<int>(width), static_cast<int>(height)};
}

float overlap(const IntRect& a, const IntRect& b) {
  const int area_a = a.width * a.height, area_b = b.width * b.height;
  if (area_a + area_b <= 0) return 1.f;  // cv::jaccardDistance: two empty rectangles are the same
  const int x1 = std::max(a.x, b.x), y1 = std::max(a.y, b.y);
  const int w = std::min(a.x + a.width, b.x + b.width) - x1;
  const int h = std::min(a.y + a.height, b.y + b.height) - y1;
  const double inter = (w > 0 && h > 0) ? double(w) * h : 0.0;
  // As OpenCV: 1 - float(Jaccard distance computed in double), so that ties with the threshold round alike.
  return 1.f - static_cast<float>(1.0 - inter / (area_a + area_b - inter));
}

std::vector<size_t> nms_boxes(std::span<const IntRect> rects, std::span<const float> scores, float score_threshold,
                              float nms_threshold, int top_k) {
  if (rects.size() != scores.size())
    throw Error(ErrorCode::kInvalidArgument, "yunet nms: " + std::to_string(rects.size()) + " boxes but " +
                                                 std::to_string(scores.size()) + " scores");
  std::vector<size_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] > score_threshold) order.push_back(i);  // GetMaxScoreIndex: strictly above
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  if (top_k > 0 && static_cast<size_t>(top_k) < order.size()) order.resize(static_cast<size_t>(top_k));
  std::vector<size_t> keep;
  for (const size_t i : order) {
    const bool overlaps_kept = std::any_of(keep.begin(), keep.end(), [&](size_t k) {
      return !(overlap(rects[i], rects[k]) <= nms_threshold);
    });
    if (!overlaps_kept) keep.push_back(i);
  }
  return keep;
}

std::vector<Detection> decode(std::span<const Level> levels, int padded_width, int padded_height, const Params& params,
                              const Fit& fit) {
  std::vector<Detection> faces;
  std::vector<IntRect> rects;
  for (const Level& level : levels) {
    const int cols = padded_width / level.stride, rows = padded_height / level.stride;
    const size_t n = static_cast<size_t>(rows) * cols;
    if (level.cls.size() != n || level.obj.size() != n || level.bbox.size() != n * 4 || level.kps.size() != n * 10)
      throw Error(ErrorCode::kModel,
                  "yunet output for stride " + std::to_string(level.stride) + ": a " + std::to_string(padded_width) +
                      "x" + std::to_string(padded_height) + " input has " + std::to_string(n) +
                      " cells, so cls and obj need " + std::to_string(n) + " values, bbox " + std::to_string(n * 4) +
                      " and kps " + std::to_string(n * 10) + "; got " + std::to_string(level.cls.size()) + ", " +
                      std::to_string(level.obj.size()) + ", " + std::to_string(level.bbox.size()) + ", " +
                      std::to_string(level.kps.size()));
    const float s = static_cast<float>(level.stride);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r) * cols + c;
        const float score = std::sqrt(std::clamp(level.cls[i], 0.f, 1.f) * std::clamp(level.obj[i], 0.f, 1.f));
        if (score < params.score_threshold) continue;
        const float* b = &level.bbox[i * 4];
        const float cx = (c + b[0]) * s, cy = (r + b[1]) * s;
        const float w = std::exp(b[2]) * s, h = std::exp(b[3]) * s;
        const float x1 = cx - w / 2.f, y1 = cy - h / 2.f;
        Detection d;
        d.score = score;
        d.box = {x1 * fit.scale_x, y1 * fit.scale_y, (x1 + w) * fit.scale_x, (y1 + h) * fit.scale_y};
        const float* k = &level.kps[i * 10];
        for (int p = 0; p < 5; ++p)
          d.keypoints.push_back({(k[2 * p] + c) * s * fit.scale_x, (k[2 * p + 1] + r) * s * fit.scale_y});
        faces.push_back(std::move(d));
        rects.push_back(truncate_to_int(x1, y1, w, h));
      }
    }
  }
  if (faces.size() <= 1) return faces;  // FaceDetectorYN runs NMSBoxes only on faces.rows > 1
  std::vector<float> scores(faces.size());
  std::transform(faces.begin(), faces.end(), scores.begin(), [](const Detection& d) { return d.score; });
  std::vector<Detection> kept;
  for (const size_t i : nms_boxes(rects, scores, params.score_threshold, params.nms_threshold, params.top_k))
    kept.push_back(std::move(faces[i]));
  return kept;
}

}  // namespace facesearch::yunet
