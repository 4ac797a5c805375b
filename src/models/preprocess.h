// Pixel -> tensor conversion shared by the ONNX-backed stages.
#pragma once

#include <opencv2/core.hpp>

#include "models/model_pack.h"

namespace facesearch {

// Writes `bgr` (CV_8UC3, exactly spec.width x spec.height) into `dst` as one CHW float image:
// channel order per spec.rgb, value = (pixel - mean[c]) * scale. `dst` holds 3 * width * height floats.
void write_chw(const cv::Mat& bgr, const InputSpec& spec, float* dst);

// Resizes with area averaging when shrinking (no aliasing; by exact halvings first, then the rest:
// the fast path of OpenCV's INTER_AREA, within a grey level or two of one direct step) and bilinear
// when enlarging.
cv::Mat resize_for_network(const cv::Mat& src, cv::Size size);

}  // namespace facesearch
