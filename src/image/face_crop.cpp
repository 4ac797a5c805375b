#include "image/face_crop.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace facesearch {
namespace {

// The crop's square in full-resolution pixels: its centre and side.
struct CropSquare {
  float cx = 0, cy = 0, side = 0;
};

CropSquare crop_square(const Box& box) {
  return {(box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2,
          kFaceCropMargin * std::max(box.x2 - box.x1, box.y2 - box.y1)};
}

}  // namespace

int face_crop_min_long_side(const Box& box, int long_side_px, int size_px) {
  const float side = crop_square(box).side;
  if (long_side_px <= 0 || side <= 0) return 0;
  return static_cast<int>(std::ceil(long_side_px * std::min(1.0f, size_px / side)));
}

cv::Mat face_crop(const DecodedImage& image, const Box& box, int size_px) {
  const CropSquare sq = crop_square(box);
  const float k = 1.f / image.scale;  // full-resolution -> decoded pixels
  const int x = static_cast<int>(std::floor((sq.cx - sq.side / 2) * k));
  const int y = static_cast<int>(std::floor((sq.cy - sq.side / 2) * k));
  const int n = std::max(1, static_cast<int>(std::ceil(sq.side * k)));
  cv::Mat square(n, n, CV_8UC3, cv::Scalar(240, 240, 240));
  const cv::Rect want(x, y, n, n), have = want & cv::Rect(0, 0, image.bgr.cols, image.bgr.rows);
  if (have.area() > 0) image.bgr(have).copyTo(square(cv::Rect(have.x - x, have.y - y, have.width, have.height)));
  cv::Mat out;
  cv::resize(square, out, cv::Size(size_px, size_px), 0, 0, n > size_px ? cv::INTER_AREA : cv::INTER_CUBIC);
  return out;
}

cv::Mat fit_within(const cv::Mat& bgr, int max_px) {
  const int long_side = std::max(bgr.cols, bgr.rows);
  if (max_px <= 0 || long_side <= max_px) return bgr;
  const double f = double(max_px) / long_side;
  cv::Mat out;
  cv::resize(bgr, out, cv::Size(std::max(1, int(bgr.cols * f + 0.5)), std::max(1, int(bgr.rows * f + 0.5))), 0, 0,
             cv::INTER_AREA);
  return out;
}

std::vector<std::uint8_t> encode_jpeg(const cv::Mat& bgr, int quality) {
  std::vector<std::uint8_t> out;
  bool ok = false;
  try {
    ok = cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kIo, std::string("cannot encode a JPEG image: ") + e.what());
  }
  if (!ok) throw Error(ErrorCode::kIo, "cannot encode a JPEG image");
  return out;
}

}  // namespace facesearch
