// Detection strategies (docs/ACCURACY.md, "Detection strategy", has the measurements behind them).
//
// The fast detector (MediaPipe's BlazeFace, 192x192 input, ~5 ms) runs over the whole photo; where the
// photo is too large for it to see a face of options.smallest_face_px, it also runs over overlapping
// tiles. Where all of that found nothing, it runs once more on the photo inside a black border
// (frame-filling faces: tight crops, passport photos), and the cascade strategy then tries the pack's
// main detector (SSD with its own padded retry). The hybrid strategy adds SSD over the whole photo and
// tries the border before the tiles. Duplicates across passes are merged by NMS; every detection says
// which pass found it. Tiles and second looks go in batches that idle threads may take
// (DetectOptions::helpers).
#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "detect/detector.h"

namespace facesearch {

std::vector<cv::Rect> plan_tiles(cv::Size image, int tile_side, int overlap) {
  std::vector<cv::Rect> tiles;
  if (image.width <= 0 || image.height <= 0 || tile_side <= 0) return tiles;
  overlap = std::clamp(overlap, 0, tile_side - 1);
  // Origins along one axis: the first at 0, the last flush with the far edge, the rest evenly spread
  // with steps of at most tile_side - overlap.
  auto origins = [&](int length) {
    if (length <= tile_side) return std::vector<int>{0};
    const int span = length - tile_side;
    const int steps = (span + (tile_side - overlap) - 1) / (tile_side - overlap);
    std::vector<int> out;
    for (int i = 0; i <= steps; ++i) out.push_back(static_cast<int>(static_cast<long long>(span) * i / steps));
    return out;
  };
  const int tw = std::min(tile_side, image.width), th = std::min(tile_side, image.height);
  for (const int y : origins(image.height))
    for (const int x : origins(image.width)) tiles.emplace_back(x, y, tw, th);
  return tiles;
}

namespace {

class TiledCascade final : public Detector {
 public:
  // Where the photo and its tiles gave nothing: the fast detector on the padded photo (one session
  // for both), then `last_resort` when given; each only on the images still without a face.
  // `whole_photo` (the hybrid strategy: SSD) runs on every photo as well; the tile levels then stop
  // where its smallest face begins (whole_photo_min_face of the long side). Frame-filling faces, which
  // SSD finds only padded, are the padded fast pass's, as in the mediapipe strategy, which then runs
  // before the tiles.
  TiledCascade(std::unique_ptr<Detector> fast, int fast_input_px, std::unique_ptr<Detector> last_resort,
               std::unique_ptr<Detector> whole_photo, float whole_photo_min_face, const TilingParams& params)
      : fast_(std::move(fast)),
        fast_input_px_(fast_input_px),
        whole_photo_(std::move(whole_photo)),
        whole_photo_min_face_(whole_photo_min_face),
        params_(params) {
    fallbacks_.push_back(with_padding(*fast_));
    if (last_resort) fallbacks_.push_back(std::move(last_resort));
  }

  std::vector<std::vector<Detection>> detect_batch(std::span<const cv::Mat> images,
                                                   const DetectOptions& options) const override {
    auto result = fast_->detect_batch(images, options);
    std::vector<std::vector<Detection>> whole(images.size());
    if (whole_photo_) {
      // The main detector runs on every photo but a portrait: one face, found by the fast detector,
      // at least portrait_face of the longer side.
      std::vector<size_t> todo;
      std::vector<cv::Mat> batch;
      for (size_t i = 0; i < images.size(); ++i) {
        const float long_side = float(std::max(images[i].cols, images[i].rows));
        const bool portrait = params_.portrait_face > 0 && result[i].size() == 1 &&
                              std::min(result[i][0].box.width(), result[i][0].box.height()) >= params_.portrait_face * long_side;
        if (!portrait) todo.push_back(i), batch.push_back(images[i]);
      }
      if (!batch.empty()) {
        auto found = whole_photo_->detect_batch(batch, options);
        for (size_t k = 0; k < todo.size(); ++k) whole[todo[k]] = std::move(found[k]);
      }
    }
    for (size_t i = 0; i < images.size(); ++i) {
      if (!whole_photo_) break;
      // The main detector's doubtful boxes (under whole_photo_score) that the fast detector did not
      // find get the tiles' second look.
      auto& found = result[i];
      std::vector<Detection> doubtful;
      for (auto& d : whole[i]) {
        const bool seen = d.score >= params_.whole_photo_score ||
                          std::any_of(found.begin(), found.end(), [&](const Detection& f) { return iou(f.box, d.box) > 0.3f; });
        (seen ? found : doubtful).push_back(std::move(d));
      }
      for (auto& d : verify(images[i], std::move(doubtful), options)) found.push_back(std::move(d));
    }
    // With a whole-photo detector, a photo where both whole-photo passes found nothing gets the padded
    // pass before any tiles: a face that fills the frame (a close-up, a tight crop) is found there, and
    // a photo whose faces are all large needs no tiles (wants_tiles). Tiles first spent half a second
    // on such a 12-MP photo (40 tiles, nothing found) before the padded pass found its face.
    std::vector<char> padded_tried(images.size(), 0);
    if (whole_photo_) run_fallback(padded(), images, result, padded_tried, options);
    for (size_t i = 0; i < images.size(); ++i) {
      auto& found = result[i];
      if (wants_tiles(images[i], found)) {
        auto tiled = detect_in_tiles(images[i], found, options);
        found.insert(found.end(), std::make_move_iterator(tiled.begin()), std::make_move_iterator(tiled.end()));
      }
      found = non_max_suppression(std::move(found), params_.merge_iou, params_.max_faces);
    }
    look_around_cut_faces(images, result, padded_tried, options);
    for (const auto& fallback : fallbacks_) run_fallback(*fallback, images, result, padded_tried, options);
    return result;
  }

 private:
  // `fallback` on the images still without a face, in one batch; the padded pass not twice on one image
  // (`padded_tried` says where it ran).
  void run_fallback(const Detector& fallback, std::span<const cv::Mat> images, std::vector<std::vector<Detection>>& result,
                    std::vector<char>& padded_tried, const DetectOptions& options) const {
    const bool is_padded = &fallback == &padded();
    std::vector<size_t> empty;
    std::vector<cv::Mat> retry;
    for (size_t i = 0; i < images.size(); ++i)
      if (result[i].empty() && !(is_padded && padded_tried[i])) empty.push_back(i), retry.push_back(images[i]);
    if (empty.empty()) return;
    auto again = fallback.detect_batch(retry, options);
    for (size_t k = 0; k < empty.size(); ++k) {
      result[empty[k]] = std::move(again[k]);
      if (is_padded) padded_tried[empty[k]] = 1;
    }
  }

  // Without a whole-photo detector, tiles always run (the mediapipe and cascade strategies). With one,
  // only in photos where the whole-photo passes found nothing (a lone small face: tiles are what finds
  // it) or a face smaller than tile_gate times the whole-photo detector's smallest (people at a
  // distance, where smaller ones are likely too). Not in a photo whose faces are all larger: a small
  // face beside them is found only from that size up (docs/ACCURACY.md).
  bool wants_tiles(const cv::Mat& image, const std::vector<Detection>& found) const {
    if (!whole_photo_ || found.empty()) return true;
    const float floor = whole_photo_min_face_ * float(std::max(image.cols, image.rows));
    return std::any_of(found.begin(), found.end(), [&](const Detection& d) {
      return std::min(d.box.width(), d.box.height()) < params_.tile_gate * floor;
    });
  }

  // Level 0's tiles make a face of options.smallest_face_px appear params_.fast_min_face_px wide in the
  // detector's input. A tile's detector sees whole only the faces that fit in the overlap (a sixth of
  // the tile), so coarser levels follow, each tile_growth times larger, until a tile would cover the
  // photo (the full-photo pass covers the rest). Faces touching a tile edge inside the photo are cut:
  // dropped, since the overlap puts each of them whole in a neighbour. So are faces larger than the
  // overlap (with a margin): a tile may hold only part of one (measured: the top half of a head found as
  // a face), and the next level or the full-photo pass sees them whole.
  std::vector<Detection> detect_in_tiles(const cv::Mat& image, const std::vector<Detection>& found,
                                         const DetectOptions& options) const {
    std::vector<Detection> out;
    if (options.smallest_face_px <= 0) return out;
    const int long_side = std::max(image.cols, image.rows);
    int tile = static_cast<int>(std::ceil(options.smallest_face_px * float(fast_input_px_) / params_.fast_min_face_px));
    tile = std::max(tile, fast_input_px_);
    // A level whose tiles are at least 0.8 of the photo adds nothing (with the default parameters): the
    // previous level sees faces whole up to 1.5 * (tile / 2.5) / 6 = tile / 10 >= long_side / 12.5, and the
    // whole-photo pass sees them from 12 / 192 = long_side / 16. With a whole-photo detector that sees
    // faces from whole_photo_min_face_ of the long side, a level whose smallest face is that large adds
    // nothing either.
    const float level_limit = whole_photo_ ? std::min(0.8f * float(long_side),
                                                      whole_photo_min_face_ * float(long_side) * float(fast_input_px_) /
                                                          params_.fast_min_face_px)
                                           : 0.8f * float(long_side);
    // Every level's tiles in batches of params_.tile_batch (a batch never spans two levels), run on
    // this thread and on idle helpers; the boxes are gathered in batch order whoever ran them.
    struct Batch {
      std::vector<cv::Rect> rects;
      float largest;  // the largest face a tile of this level sees whole
    };
    std::vector<Batch> batches;
    for (; float(tile) < level_limit; tile = static_cast<int>(std::ceil(float(tile) * params_.tile_growth))) {
      const int overlap = tile / 6;
      const auto rects = plan_tiles(image.size(), tile, overlap);
      for (size_t start = 0; start < rects.size(); start += params_.tile_batch) {
        const size_t end = std::min(rects.size(), start + params_.tile_batch);
        batches.push_back({std::vector<cv::Rect>(rects.begin() + long(start), rects.begin() + long(end)), 1.5f * float(overlap)});
      }
    }
    std::vector<std::vector<Detection>> found_in(batches.size());
    run_parts(options.helpers, batches.size(), [&](size_t b) {
      const Batch& batch = batches[b];
      std::vector<cv::Mat> crops;
      for (const cv::Rect& r : batch.rects) crops.push_back(image(r));
      const auto found = fast_->detect_batch(crops, options);
      for (size_t t = 0; t < batch.rects.size(); ++t) {
        const cv::Rect& r = batch.rects[t];
        constexpr float kEdgePx = 2.f;
        for (auto d : found[t]) {
          const bool cut = (r.x > 0 && d.box.x1 < kEdgePx) || (r.y > 0 && d.box.y1 < kEdgePx) ||
                           (r.x + r.width < image.cols && d.box.x2 > float(r.width) - kEdgePx) ||
                           (r.y + r.height < image.rows && d.box.y2 > float(r.height) - kEdgePx);
          if (cut || std::max(d.box.width(), d.box.height()) > batch.largest) continue;
          d.box = {d.box.x1 + float(r.x), d.box.y1 + float(r.y), d.box.x2 + float(r.x), d.box.y2 + float(r.y)};
          d.detector += "/tiled";
          found_in[b].push_back(std::move(d));
        }
      }
    });
    // A doubtful box on a face the other passes found already needs no second look: the merge would
    // keep that face either way.
    for (auto& part : found_in)
      for (auto& d : part)
        if (d.score >= params_.verify_below ||
            std::none_of(found.begin(), found.end(), [&](const Detection& f) { return iou(f.box, d.box) > params_.merge_iou; }))
          out.push_back(std::move(d));
    return verify(image, std::move(out), options);
  }

  // A tight crop of one face (a profile picture, a face cut out of a photo) can give the fast detector
  // a part of the face, cut by the frame (measured: the left half of a 150-px crop, howard2 in
  // testdata), and then the padded pass, which finds frame-filling faces, never ran. Where the photo's
  // only face is cut by the frame and large (a quarter of the shorter side or more), the padded pass
  // looks too, and a face it finds around the cut one (holding most of it, at least twice its area)
  // takes its place. One small inference call, only on such photos.
  // Not where the padded pass ran already (its face cannot hold itself twice over).
  void look_around_cut_faces(std::span<const cv::Mat> images, std::vector<std::vector<Detection>>& result,
                             const std::vector<char>& padded_tried, const DetectOptions& options) const {
    constexpr float kEdgePx = 2.f, kLarge = 0.25f, kHeld = 0.7f, kLarger = 2.f;
    std::vector<size_t> todo;
    std::vector<cv::Mat> batch;
    for (size_t i = 0; i < images.size(); ++i) {
      if (result[i].size() != 1 || padded_tried[i]) continue;
      const Box& b = result[i][0].box;
      const float w = float(images[i].cols), h = float(images[i].rows);
      const bool cut = b.x1 < kEdgePx || b.y1 < kEdgePx || b.x2 > w - kEdgePx || b.y2 > h - kEdgePx;
      if (cut && std::min(b.width(), b.height()) >= kLarge * std::min(w, h)) todo.push_back(i), batch.push_back(images[i]);
    }
    if (todo.empty()) return;
    const auto around = padded().detect_batch(batch, options);
    for (size_t k = 0; k < todo.size(); ++k) {
      Detection& cut = result[todo[k]][0];
      const float area = cut.box.area();
      const Detection* best = nullptr;
      for (const Detection& d : around[k]) {
        const Box in{std::max(d.box.x1, cut.box.x1), std::max(d.box.y1, cut.box.y1), std::min(d.box.x2, cut.box.x2),
                     std::min(d.box.y2, cut.box.y2)};
        if (in.area() >= kHeld * area && d.box.area() >= kLarger * area && (!best || d.score > best->score))
          best = &d;
      }
      if (best) cut = *best;
    }
  }

  // Second look at the doubtful tiled boxes (TilingParams::verify_below): each in a square crop
  // verify_context times its size, batched.
  std::vector<Detection> verify(const cv::Mat& image, std::vector<Detection> found, const DetectOptions& options) const {
    std::vector<size_t> doubtful;
    std::vector<cv::Mat> crops;
    std::vector<cv::Rect> rects;
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i].score >= params_.verify_below) continue;
      const Box& b = found[i].box;
      const float side = params_.verify_context * std::max(b.width(), b.height());
      const float cx = (b.x1 + b.x2) / 2, cy = (b.y1 + b.y2) / 2;
      const cv::Rect want(int(std::lround(cx - side / 2)), int(std::lround(cy - side / 2)), int(std::lround(side)),
                          int(std::lround(side)));
      const cv::Rect r = want & cv::Rect(0, 0, image.cols, image.rows);
      if (r.width < 2 || r.height < 2) continue;
      doubtful.push_back(i), rects.push_back(r), crops.push_back(image(r));
    }
    if (doubtful.empty()) return found;
    DetectOptions strict = options;
    strict.score_threshold = std::max(options.score_threshold, params_.verify_score);
    std::vector<char> keep(found.size(), 1);  // not vector<bool>: parts write neighbouring entries at once
    const size_t batches = (crops.size() + params_.tile_batch - 1) / params_.tile_batch;
    run_parts(options.helpers, batches, [&](size_t b) {
      const size_t start = b * params_.tile_batch, end = std::min(crops.size(), start + params_.tile_batch);
      const auto again = fast_->detect_batch(std::span(crops).subspan(start, end - start), strict);
      for (size_t k = start; k < end; ++k) {
        Detection& d = found[doubtful[k]];
        const cv::Rect& r = rects[k];
        const Detection* best = nullptr;
        for (const auto& a : again[k - start]) {
          const Box in_image{a.box.x1 + float(r.x), a.box.y1 + float(r.y), a.box.x2 + float(r.x), a.box.y2 + float(r.y)};
          if (iou(in_image, d.box) > 0.3f && (!best || a.score > best->score)) best = &a;
        }
        if (!best) {
          keep[doubtful[k]] = 0;
          continue;
        }
        d.score = std::max(d.score, best->score);
      }
    });
    std::vector<Detection> kept;
    for (size_t i = 0; i < found.size(); ++i)
      if (keep[i]) kept.push_back(std::move(found[i]));
    return kept;
  }

  std::unique_ptr<Detector> fast_;
  int fast_input_px_;
  std::unique_ptr<Detector> whole_photo_;
  float whole_photo_min_face_ = 0;
  // Where nothing was found: the padded fast pass (fallbacks_[0]), then the last resort when given.
  std::vector<std::unique_ptr<Detector>> fallbacks_;
  const Detector& padded() const { return *fallbacks_.front(); }  // the fast detector inside a black border
  TilingParams params_;
};

}  // namespace

const char* strategy_name(DetectionStrategy strategy) {
  switch (strategy) {
    case DetectionStrategy::kAuto: return "auto";
    case DetectionStrategy::kSsd: return "ssd";
    case DetectionStrategy::kMediapipe: return "mediapipe";
    case DetectionStrategy::kCascade: return "cascade";
    case DetectionStrategy::kHybrid: return "hybrid";
  }
  return "?";
}

std::optional<DetectionStrategy> parse_detection_strategy(std::string_view name) {
  for (const auto s : {DetectionStrategy::kAuto, DetectionStrategy::kSsd, DetectionStrategy::kMediapipe,
                       DetectionStrategy::kCascade, DetectionStrategy::kHybrid})
    if (name == strategy_name(s)) return s;
  return std::nullopt;
}

DetectionStrategy resolve_strategy(const ModelPack& pack, DetectionStrategy strategy) {
  if (strategy != DetectionStrategy::kAuto) return strategy;
  return pack.fast_detector ? DetectionStrategy::kHybrid : DetectionStrategy::kSsd;
}

std::unique_ptr<Detector> make_detection_strategy(const ModelPack& pack, DetectionStrategy strategy,
                                                  const RuntimeOptions& runtime, const TilingParams& tiling) {
  strategy = resolve_strategy(pack, strategy);
  if (strategy == DetectionStrategy::kSsd) return make_detector(pack, runtime);
  if (!pack.fast_detector)
    throw Error(ErrorCode::kModel,
                std::string("model pack ") + pack.name + " has no fast detector for the " + strategy_name(strategy) +
                    " strategy",
                Hint{Remedy::kDetectorSsdOrRebuild, strategy_name(strategy)});
  const DetectorSpec& fast = *pack.fast_detector;
  const bool hybrid = strategy == DetectionStrategy::kHybrid;
  // The hybrid's SSD keeps as many faces as the strategy does (a crowd photo has more than face-api's 100).
  DetectorSpec main = pack.detector;
  main.max_faces = std::max(main.max_faces, tiling.max_faces);
  return std::make_unique<TiledCascade>(make_detector(fast, runtime), fast.input.width,
                                        strategy == DetectionStrategy::kCascade ? make_detector(pack, runtime) : nullptr,
                                        hybrid ? make_detector(main, runtime) : nullptr,
                                        hybrid ? tiling.ssd_min_face_px / float(pack.detector.input.width) : 0.f, tiling);
}

}  // namespace facesearch
