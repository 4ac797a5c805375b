// Phone-size photos made from ../shared/testdata/faces at bench and test time (issue 11): the photos
// people search are 12-megapixel phone photos (4032x3024), testdata's are small (people/ median 250 px,
// scenes/ about 1000 px). Each source photo is decoded upright, scaled (bicubic) so its longer side is
// 4032 px, and encoded as a JPEG of quality 90 with 4:2:0 chroma, as phones save them. Nothing of this
// is committed; `facesearch_phone_bench` writes the set into build/ and the tests make theirs in memory.
// Upscaled photos are softer than a phone's, so they measure speed, memory and detection completeness,
// not how well fine detail is recognised.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "image/image.h"

namespace facesearch::eval {

inline constexpr int kPhoneLongSidePx = 4032;
inline constexpr int kPhoneJpegQuality = 90;
// What a set written earlier must say it was made by to be used again (bump when the photos change).
inline constexpr const char* kPhoneSetVersion = "4032 px, sides a multiple of 4, bicubic, JPEG 90 (2026-12-01)";

// `photo` as a phone-size JPEG: the encoded bytes.
inline std::vector<std::uint8_t> phone_size_jpeg(const std::filesystem::path& photo, int long_side = kPhoneLongSidePx,
                                                 int quality = kPhoneJpegQuality) {
  DecodeOptions full;
  full.min_long_side_px = 0;
  const DecodedImage src = decode_image_file(photo, full);
  const double s = double(long_side) / std::max(src.bgr.cols, src.bgr.rows);
  // Both sides a multiple of 4 pixels, as a camera's are (4032x3024, 4032x2268, 4000x3000).
  auto side = [&](int n) { return std::max(4, int(std::lround(n * s / 4.0)) * 4); };
  cv::Mat big;
  cv::resize(src.bgr, big, cv::Size(side(src.bgr.cols), side(src.bgr.rows)), 0, 0, cv::INTER_CUBIC);
  std::vector<std::uint8_t> out;
  // libjpeg's default for colour is 4:2:0 chroma, as phones save (OpenCV 4.6 has no flag for it).
  if (!cv::imencode(".jpg", big, out, std::vector<int>{cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error(ErrorCode::kIo, photo.string() + ": cannot encode the phone-size copy");
  return out;
}

// The photos the phone-size set is made of, relative to `faces_dir`: every scenes/ photo and, for
// portraits, the first photo (by name) of every other person in people/ (35 + 11 today). noface/
// photos are a set of their own (false faces are counted there).
inline std::vector<std::string> phone_set_sources(const std::filesystem::path& faces_dir, const std::string& part) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  auto photos_in = [](const fs::path& dir) {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && has_image_extension(e.path())) v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
  };
  if (part == "people") {
    std::vector<fs::path> people;
    for (const auto& e : fs::directory_iterator(faces_dir / "people"))
      if (e.is_directory()) people.push_back(e.path());
    std::sort(people.begin(), people.end());
    for (size_t i = 0; i < people.size(); i += 2) {
      const auto v = photos_in(people[i]);
      if (!v.empty()) out.push_back(fs::relative(v.front(), faces_dir).string());
    }
  } else {
    for (const auto& p : photos_in(faces_dir / part)) out.push_back(fs::relative(p, faces_dir).string());
  }
  return out;
}

}  // namespace facesearch::eval
