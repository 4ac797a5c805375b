// Pictures of results for people to look at: a square crop around a face, a smaller copy of a photo,
// as JPEG. One definition for the front ends that show them (the web page's crops, the CLI's --html page).
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "core/types.h"
#include "image/image.h"

namespace facesearch {

// The side of a face crop's square is this times the box's longer side: some hair, chin and ears around
// the face, so that people recognise it, with the face still filling most of a small thumbnail.
inline constexpr float kFaceCropMargin = 1.3f;

// The DecodeOptions::min_long_side_px that lets a photo whose longer side is `long_side_px` (full
// resolution; 0 when unknown) be decoded as reduced as possible while face_crop(image, box, size_px) keeps
// its full detail. 0 (no reduction) when the size is unknown or the face is small.
int face_crop_min_long_side(const Box& box, int long_side_px, int size_px);

// A size_px x size_px BGR square centred on `box` (full-resolution upright pixels), kFaceCropMargin times
// its longer side, cut from `image` whatever its reduction (image.scale); what lies outside the photo is
// light grey. Area interpolation when shrinking, cubic when enlarging.
cv::Mat face_crop(const DecodedImage& image, const Box& box, int size_px);

// `bgr` with its longer side at most `max_px` (area interpolation); a smaller image is returned as it is.
cv::Mat fit_within(const cv::Mat& bgr, int max_px);

// The JPEG file of `bgr` (CV_8UC3), quality 1..100 (OpenCV's libjpeg). Throws Error{kIo} when OpenCV
// cannot encode it.
std::vector<std::uint8_t> encode_jpeg(const cv::Mat& bgr, int quality);

}  // namespace facesearch
