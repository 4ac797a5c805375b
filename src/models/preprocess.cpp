#include "models/preprocess.h"

#include <opencv2/imgproc.hpp>

namespace facesearch {

void write_chw(const cv::Mat& bgr, const InputSpec& spec, float* dst) {
  CV_Assert(bgr.type() == CV_8UC3 && bgr.cols == spec.width && bgr.rows == spec.height);
  const int plane = spec.width * spec.height;
  // Source channel feeding each destination channel.
  const int src_ch[3] = {spec.rgb ? 2 : 0, 1, spec.rgb ? 0 : 2};
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int c = 0; c < 3; ++c) {
      float* out = dst + c * plane + y * spec.width;
      const float mean = spec.mean[c];
      const int sc = src_ch[c];
      for (int x = 0; x < bgr.cols; ++x) out[x] = (static_cast<float>(row[x][sc]) - mean) * spec.scale;
    }
  }
}

cv::Mat resize_for_network(const cv::Mat& src, cv::Size size) {
  if (src.size() == size) return src;
  cv::Mat out;
  const bool shrinking = size.width < src.cols || size.height < src.rows;
  cv::resize(src, out, size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace facesearch
