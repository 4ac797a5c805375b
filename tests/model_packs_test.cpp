// InsightFace packs end to end on synthetic models (tools/synthetic_models/make_scrfd_arcface.py): the
// graphs have the real models' input/output names and layouts and compute simple functions of the
// pixels, so every expected number below is worked out by hand from insightface 0.7's code:
//   detector: score of an 8-px cell = clip(mean red of the cell after (x - 127.5) / 128, 0, 1); box
//     distances per stride 8: (l, t, r, b) = (1, 2, 3, 4) strides; keypoints (dx, dy) = (-1, -0.5),
//     (1, -0.5), (0, 0.25), (-0.75, 1), (0.75, 1) strides from the anchor centre (x * 8, y * 8);
//   recogniser: 14x14 average pooling of the (x - 127.5) / 127.5 RGB chip into the first 192 of 512 values.
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/aligner.h"
#include "core/error.h"
#include "index/vector_index.h"
#include "detect/detector.h"
#include "embed/embedder.h"
#include "library/pack_verify.h"
#include "models/onnx_graph_head.h"
#include "models/pack_description.h"
#include "models/pack_detail.h"
#include "models/pack_registry.h"
#include "pipeline/face_pipeline.h"
#include "test_support.h"

namespace facesearch {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

const fs::path kSynthetic = fs::path(FACESEARCH_SYNTHETIC_MODELS_DIR) / "insightface";
constexpr float kRedScore = (255 - 127.5f) / 128;  // a cell wholly of red 255

// A grey photo with "faces": squares of red 255 whose green and blue say who it is.
struct Square {
  int x, y, side;
  int green, blue;
  int red = 255;
};
cv::Mat photo(int width, int height, std::initializer_list<Square> squares) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(128, 128, 128));
  for (const auto& s : squares) img(cv::Rect(s.x, s.y, s.side, s.side)).setTo(cv::Scalar(s.blue, s.green, s.red));
  return img;
}

ModelPack buffalo_l() { return load_pack_folder(kSynthetic / "buffalo_l", "buffalo_l"); }

void expect_point(Point p, float x, float y, const std::string& what) {
  EXPECT_NEAR(p.x, x, 1e-3) << what;
  EXPECT_NEAR(p.y, y, 1e-3) << what;
}

TEST(InsightFacePack, DescribedAsFaceAnalysisPicksItsModels) {
  const auto j = nlohmann::json::parse(describe_pack_folder(kSynthetic / "buffalo_l", "buffalo_l"));
  EXPECT_EQ(j["detector"]["kind"], "scrfd");
  EXPECT_EQ(j["detector"]["file"], "det_10g.onnx");
  EXPECT_EQ(j["detector"]["input_size"], nlohmann::json({640, 640}));
  EXPECT_FLOAT_EQ(j["detector"]["mean"][0].get<float>(), 127.5f);
  EXPECT_FLOAT_EQ(j["detector"]["scale"].get<float>(), 1.f / 128);
  EXPECT_FLOAT_EQ(j["detector"]["score_threshold"].get<float>(), 0.5f);
  EXPECT_FLOAT_EQ(j["detector"]["nms_iou"].get<float>(), 0.4f);
  EXPECT_EQ(j["embedder"]["kind"], "arcface");
  EXPECT_EQ(j["embedder"]["file"], "w600k_r50.onnx");
  EXPECT_EQ(j["embedder"]["dim"], 512);
  EXPECT_FLOAT_EQ(j["embedder"]["mean"][0].get<float>(), 127.5f);
  EXPECT_FLOAT_EQ(j["embedder"]["scale"].get<float>(), 1.f / 127.5f);
  EXPECT_EQ(j["aligner"]["kind"], "arcface_5pt");
  EXPECT_FLOAT_EQ(j["threshold"].get<float>(), 0.5f);
  EXPECT_TRUE(j["non_commercial"].get<bool>());
  EXPECT_EQ(j["unused"].size(), 3u);  // 1k3d68, 2d106det (192 px: landmarks), genderage (96 px)

  const ModelPack pack = buffalo_l();
  EXPECT_FALSE(pack.landmarker.has_value());
  EXPECT_EQ(pack.embedder.sha256.size(), 64u);
  EXPECT_NE(pack.fingerprint.find("buffalo_l:"), std::string::npos);
}

TEST(InsightFacePack, GraphThatNormalisesItselfGetsRawPixels) {
  // antelopev2's glintr100 (an mxnet export) starts with _minus0 / _mul0: insightface feeds it 0..255.
  const auto head = read_onnx_graph_head(kSynthetic / "antelopev2" / "glintr100.onnx");
  ASSERT_GE(head.size(), 2u);
  EXPECT_EQ(head[0].name, "_minus0");
  EXPECT_EQ(head[0].op_type, "Sub");
  EXPECT_EQ(head[1].name, "_mul0");
  EXPECT_TRUE(graph_normalises_input(head));
  EXPECT_FALSE(graph_normalises_input(read_onnx_graph_head(kSynthetic / "buffalo_l" / "w600k_r50.onnx")));
  const ModelPack pack = load_pack_folder(kSynthetic / "antelopev2", "antelopev2");
  EXPECT_EQ(pack.embedder.input.mean[0], 0.f);
  EXPECT_EQ(pack.embedder.input.scale, 1.f);

  TempDir tmp;
  std::ofstream(tmp.path() / "not_onnx.onnx") << "hello, not a model";
  EXPECT_THROW(read_onnx_graph_head(tmp.path() / "not_onnx.onnx"), Error);
}

TEST(InsightFacePack, FoldersThatAreNotPacksSayWhatIsMissing) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "only_rec");
  fs::copy_file(kSynthetic / "buffalo_l" / "w600k_r50.onnx", tmp.path() / "only_rec" / "w600k_r50.onnx");
  try {
    describe_pack_folder(tmp.path() / "only_rec", "only_rec");
    ADD_FAILURE() << "a folder without a detector was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("no face detector"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("w600k_r50.onnx: recognition"), std::string::npos) << e.what();
  }
  try {
    describe_pack_folder(kSynthetic / "scrfd_noKps", "scrfd_noKps");
    ADD_FAILURE() << "a detector without keypoints was accepted for alignment";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without keypoints"), std::string::npos) << e.what();
  }
  fs::create_directories(tmp.path() / "empty");
  EXPECT_THROW(describe_pack_folder(tmp.path() / "empty", "empty"), Error);
}

TEST(InsightFacePack, PacksUnzippedIntoAFolderOfTheirOwnNameAreFound) {
  // insightface unzips antelopev2.zip into ~/.insightface/models/antelopev2/antelopev2/.
  TempDir tmp;
  const fs::path nested = tmp.path() / "root" / "antelopev2" / "antelopev2";
  fs::create_directories(nested);
  for (const auto& e : fs::directory_iterator(kSynthetic / "antelopev2")) fs::copy_file(e.path(), nested / e.path().filename());
  const testing::ScopedEnv root("FACESEARCH_INSIGHTFACE_ROOT", (tmp.path() / "root").string());
  const testing::ScopedEnv cache("XDG_CACHE_HOME", (tmp.path() / "cache").string());
  const auto entry = find_pack("antelopev2");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->source, PackSource::kInsightFace);
  EXPECT_EQ(entry->dir, nested);
  EXPECT_EQ(load_named_pack("antelopev2").detector.kind, "scrfd");
}

// Packs are looked up in the user's folder, then in the one installed with facesearch (`make install`,
// the .deb), then in InsightFace's; a name found earlier shadows the same name later.
TEST(PackRegistry, UsersOwnPacksComeBeforeThoseInstalledWithFacesearch) {
  TempDir tmp;
  const pack_detail::PackRoots roots{tmp.path() / "user", tmp.path() / "system", tmp.path() / "insightface"};
  auto make_pack = [](const fs::path& dir, const char* file) {
    fs::create_directories(dir);
    std::ofstream(dir / file) << "{}";
  };
  make_pack(roots.installed / "shared", "manifest.json");
  make_pack(roots.installed / "mine", "manifest.json");
  make_pack(roots.system / "shared", "manifest.json");
  make_pack(roots.system / "bundled", "manifest.json");
  make_pack(roots.system / "no_manifest", "model.onnx");  // only InsightFace's folders are described
  make_pack(roots.insightface / "bundled", "det_10g.onnx");
  make_pack(roots.insightface / "theirs", "det_10g.onnx");

  const auto packs = pack_detail::list_packs_under(roots);
  std::vector<std::string> listed;
  for (const auto& p : packs) listed.push_back(p.name + " " + pack_source_name(p.source) + " " + p.dir.string());
  const std::vector<std::string> expected{
      "mine installed " + (roots.installed / "mine").string(),
      "shared installed " + (roots.installed / "shared").string(),
      "bundled system " + (roots.system / "bundled").string(),
      "theirs insightface " + (roots.insightface / "theirs").string(),
  };
  EXPECT_EQ(listed, expected);

  // Without the user's folders (a fresh account), the system's packs are the ones found.
  const auto fresh = pack_detail::list_packs_under({tmp.path() / "nobody", roots.system, tmp.path() / "none"});
  ASSERT_EQ(fresh.size(), 2u);
  EXPECT_EQ(fresh[1].name, "shared");
  EXPECT_EQ(fresh[1].source, PackSource::kSystem);
  EXPECT_EQ(fresh[1].dir, roots.system / "shared");
}

TEST(PackRegistry, SystemPacksLieBesideTheExecutable) {
  // PREFIX/bin/facesearch finds PREFIX/share/facesearch/models, wherever PREFIX is.
  const fs::path exe = fs::canonical("/proc/self/exe");
  EXPECT_EQ(system_packs_root(), exe.parent_path().parent_path() / "share" / "facesearch" / "models");
}

TEST(InsightFacePack, ModelsOfSeveralInputsAreListedAsUnused) {
  const auto j = nlohmann::json::parse(describe_pack_folder(kSynthetic / "swapper_pack", "swapper_pack"));
  EXPECT_EQ(j["embedder"]["file"], "w600k_r50.onnx");
  ASSERT_EQ(j["unused"].size(), 1u);
  EXPECT_EQ(j["unused"][0]["file"], "inswapper_128.onnx");
  EXPECT_NE(j["unused"][0]["task"].get<std::string>().find("face swapping"), std::string::npos) << j["unused"];
}

TEST(InsightFacePack, VerifyTellsAFileThatChangedSinceFirstSeen) {
  TempDir tmp;
  const testing::ScopedEnv cache("XDG_CACHE_HOME", (tmp.path() / "cache").string());
  const fs::path dir = tmp.path() / "buffalo_x";
  fs::create_directories(dir);
  for (const char* f : {"det_10g.onnx", "w600k_r50.onnx"}) fs::copy_file(kSynthetic / "buffalo_l" / f, dir / f);
  for (const auto& check : verify_pack(load_pack_folder(dir, "buffalo_x"))) EXPECT_TRUE(check.ok) << check.detail;
  // Another (valid) recogniser put in its place: the pack is described anew, and verify says what changed.
  fs::copy_file(kSynthetic / "antelopev2" / "glintr100.onnx", dir / "w600k_r50.onnx", fs::copy_options::overwrite_existing);
  const ModelPack changed = load_pack_folder(dir, "buffalo_x");
  bool embedder_failed = false;
  for (const auto& check : verify_pack(changed)) {
    if (check.role != "embedder") continue;
    embedder_failed = !check.ok;
    EXPECT_NE(check.detail.find("when first seen"), std::string::npos) << check.detail;
  }
  EXPECT_TRUE(embedder_failed);
}

// A 1280x960 photo: letterboxed to 640x480 (det_scale 0.5) at the top-left of the 640x640 input.
TEST(ScrfdDetector, DecodesBoxAndKeypointsThroughTheLetterbox) {
  const ModelPack pack = buffalo_l();
  const auto detector = make_detector(pack.detector, RuntimeOptions{});
  EXPECT_EQ(detector->keypoints(), 5);
  // 16x16 at (400, 480) -> exactly the 8x8 input cell at (200, 240): stride-8 cell (25, 30).
  const auto found = detector->detect(photo(1280, 960, {{400, 480, 16, 0, 0}}));
  ASSERT_EQ(found.size(), 1u);  // both anchors of the cell decode the same box: NMS keeps one
  const Detection& d = found[0];
  EXPECT_NEAR(d.score, kRedScore, 1e-4);
  EXPECT_EQ(d.detector, "scrfd");
  // distance2bbox at centre (200, 240), stride 8, (l, t, r, b) = (1, 2, 3, 4), then / 0.5.
  EXPECT_NEAR(d.box.x1, (200 - 8) * 2, 1e-3);
  EXPECT_NEAR(d.box.y1, (240 - 16) * 2, 1e-3);
  EXPECT_NEAR(d.box.x2, (200 + 24) * 2, 1e-3);
  EXPECT_NEAR(d.box.y2, (240 + 32) * 2, 1e-3);
  ASSERT_EQ(d.keypoints.size(), 5u);
  expect_point(d.keypoints[0], (200 - 8) * 2, (240 - 4) * 2, "left eye");
  expect_point(d.keypoints[1], (200 + 8) * 2, (240 - 4) * 2, "right eye");
  expect_point(d.keypoints[2], 200 * 2, (240 + 2) * 2, "nose");
  expect_point(d.keypoints[3], (200 - 6) * 2, (240 + 8) * 2, "left mouth corner");
  expect_point(d.keypoints[4], (200 + 6) * 2, (240 + 8) * 2, "right mouth corner");
}

TEST(ScrfdDetector, PortraitPhotosFillTheHeight) {
  // 480x960: im_ratio 2 > 1, so new_height 640, new_width int(640 / 2) = 320, det_scale 640 / 960.
  const ModelPack pack = buffalo_l();
  const auto detector = make_detector(pack.detector, RuntimeOptions{});
  // A 12x12 square at (120, 240): bilinear resizing by 2/3 samples source x = 1.5 * i + 0.25, so input
  // pixels 80..87 are wholly red: the stride-8 cell (10, 20), anchor centre (80, 160).
  const auto found = detector->detect(photo(480, 960, {{120, 240, 12, 0, 0}}));
  ASSERT_EQ(found.size(), 1u);
  const float scale = 640.f / 960.f;
  EXPECT_NEAR(found[0].score, kRedScore, 1e-3);
  EXPECT_NEAR(found[0].box.x1, (80 - 8) / scale, 1e-2);
  EXPECT_NEAR(found[0].box.y1, (160 - 16) / scale, 1e-2);
  EXPECT_NEAR(found[0].box.x2, (80 + 24) / scale, 1e-2);
  EXPECT_NEAR(found[0].box.y2, (160 + 32) / scale, 1e-2);
  expect_point(found[0].keypoints[2], 80 / scale, (160 + 2) / scale, "nose");
}

TEST(ScrfdDetector, NmsKeepsTheBrighterOfOverlappingFacesAndChannelOrderIsRgb) {
  const ModelPack pack = buffalo_l();
  const auto detector = make_detector(pack.detector, RuntimeOptions{});
  // Neighbouring cells (boxes 8 px apart, 32x48: IoU (25 * 49) / (2 * 33 * 49 - 25 * 49) = 0.61 > 0.4).
  auto found = detector->detect(photo(640, 480, {{200, 240, 8, 0, 0, 255}, {208, 240, 8, 0, 0, 230}}));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, kRedScore, 1e-4);
  EXPECT_NEAR(found[0].box.x1, 200 - 8, 1e-3);
  // Far apart: both kept, best first; the dimmer one scores (230 - 127.5) / 128.
  found = detector->detect(photo(640, 480, {{80, 80, 8, 0, 0, 230}, {400, 200, 8, 0, 0, 255}}));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NEAR(found[0].score, kRedScore, 1e-4);
  EXPECT_NEAR(found[1].score, (230 - 127.5f) / 128, 1e-4);
  // Blue is not red: an image fed as BGR would fire here.
  EXPECT_TRUE(detector->detect(photo(640, 480, {{200, 240, 8, 0, 255, 128}})).empty());
  // Below the 0.5 threshold: red 190 scores 0.488.
  EXPECT_TRUE(detector->detect(photo(640, 480, {{200, 240, 8, 0, 0, 190}})).empty());
  DetectOptions lower;
  lower.score_threshold = 0.45f;
  EXPECT_EQ(detector->detect(photo(640, 480, {{200, 240, 8, 0, 0, 190}}), lower).size(), 1u);
}

TEST(ScrfdDetector, DetSizeSetsTheInputOfModelsThatTakeAnySize) {
  // An 8-px face in a 1280x960 photo: 4 px at the default 640 (a quarter of a cell: score 0.25, missed);
  // at det_size 1280 the photo is not shrunk (det_scale 1) and the face fills the stride-8 cell (50, 60).
  const auto detector = make_detector(buffalo_l().detector, RuntimeOptions{});
  const cv::Mat img = photo(1280, 960, {{400, 480, 8, 0, 0}});
  EXPECT_TRUE(detector->detect(img).empty());
  DetectOptions big;
  big.input_px = 1280;
  const auto found = detector->detect(img, big);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, kRedScore, 1e-4);
  EXPECT_NEAR(found[0].box.x1, 400 - 8, 1e-3);
  EXPECT_NEAR(found[0].box.y1, 480 - 16, 1e-3);
  EXPECT_NEAR(found[0].box.x2, 400 + 24, 1e-3);
  EXPECT_NEAR(found[0].box.y2, 480 + 32, 1e-3);
}

TEST(ScrfdDetector, BatchedExportDecodesTheSame) {
  // antelopev2's synthetic detector gives [1, anchors, C] outputs (insightface's `batched`).
  const ModelPack batched = load_pack_folder(kSynthetic / "antelopev2", "antelopev2");
  const ModelPack plain = buffalo_l();
  const cv::Mat img = photo(1280, 960, {{400, 480, 16, 0, 0}, {96, 96, 16, 0, 0}});
  const auto a = make_detector(batched.detector, RuntimeOptions{})->detect(img);
  const auto b = make_detector(plain.detector, RuntimeOptions{})->detect(img);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FLOAT_EQ(a[i].box.x1, b[i].box.x1);
    EXPECT_FLOAT_EQ(a[i].box.y2, b[i].box.y2);
    EXPECT_FLOAT_EQ(a[i].keypoints[4].x, b[i].keypoints[4].x);
  }
}

TEST(ArcFaceEmbedder, NormalisesRgbAsInsightFaceAndBatches) {
  const ModelPack pack = buffalo_l();
  const auto embedder = make_embedder(pack, RuntimeOptions{});
  ASSERT_EQ(embedder->dim(), 512);
  const cv::Mat chip(112, 112, CV_8UC3, cv::Scalar(10, 20, 200));  // BGR
  std::vector<float> v(512);
  embedder->embed(std::span<const cv::Mat>(&chip, 1), v);
  EXPECT_NEAR(v[0], (200 - 127.5f) / 127.5f, 1e-5);   // channel 0 is red
  EXPECT_NEAR(v[64], (20 - 127.5f) / 127.5f, 1e-5);   // green
  EXPECT_NEAR(v[128], (10 - 127.5f) / 127.5f, 1e-5);  // blue
  EXPECT_EQ(v[200], 0.f);

  // The mxnet-style graph normalises itself with / 128: fed raw pixels, it gives (x - 127.5) / 128.
  const ModelPack antelope = load_pack_folder(kSynthetic / "antelopev2", "antelopev2");
  make_embedder(antelope, RuntimeOptions{})->embed(std::span<const cv::Mat>(&chip, 1), v);
  EXPECT_NEAR(v[0], (200 - 127.5f) / 128, 1e-5);

  // Batches of 8 (10 chips: 8 + 2) give what one-by-one calls give.
  std::mt19937 rng(7);
  std::vector<cv::Mat> chips;
  for (int i = 0; i < 10; ++i) {
    cv::Mat c(112, 112, CV_8UC3);
    cv::randu(c, cv::Scalar::all(0), cv::Scalar::all(256));
    chips.push_back(c);
  }
  std::vector<float> batch(10 * 512), one(512);
  embedder->embed(chips, batch);
  for (int i = 0; i < 10; ++i) {
    embedder->embed(std::span<const cv::Mat>(&chips[i], 1), one);
    for (int k = 0; k < 512; k += 17) ASSERT_NEAR(batch[i * 512 + k], one[k], 1e-5) << "chip " << i;
  }
}

TEST(InsightFacePipeline, AlignsOnTheDetectorKeypointsAndFindsTheSamePerson) {
  const FacePipeline pipeline(buffalo_l(), RuntimeOptions{});
  auto analyse = [&](const cv::Mat& img) {
    DecodedImage decoded;
    decoded.bgr = img;
    decoded.width = img.cols, decoded.height = img.rows;
    return pipeline.analyze(decoded, {});
  };
  const auto alice = analyse(photo(640, 480, {{80, 96, 8, 255, 0}}));
  const auto alice_big = analyse(photo(1280, 960, {{400, 480, 16, 255, 0}}));
  const auto bob = analyse(photo(640, 480, {{320, 240, 8, 0, 255}}));
  const auto group = analyse(photo(640, 480, {{80, 80, 8, 255, 0}, {400, 200, 8, 0, 255}}));
  ASSERT_EQ(alice.size(), 1u);
  ASSERT_EQ(alice_big.size(), 1u);
  ASSERT_EQ(bob.size(), 1u);
  ASSERT_EQ(group.size(), 2u);
  // The face's landmarks are the detector's keypoints.
  ASSERT_EQ(alice[0].face.landmarks.size(), 5u);
  expect_point(alice[0].face.landmarks[0], 80 - 8, 96 - 4, "left eye");
  EXPECT_EQ(alice[0].face.detector, "scrfd");
  // The embedding is ArcFace's of the 5-point chip, L2-normalised.
  const cv::Mat img = photo(640, 480, {{80, 96, 8, 255, 0}});
  const cv::Mat chip = make_arcface_aligner(112)->align(img, alice[0].face.landmarks);
  std::vector<float> expected(512);
  make_embedder(pipeline.pack(), RuntimeOptions{})->embed(std::span<const cv::Mat>(&chip, 1), expected);
  l2_normalize(expected);
  for (int k = 0; k < 192; ++k) ASSERT_NEAR(alice[0].embedding[k], expected[k], 1e-5) << k;

  const float threshold = pipeline.pack().threshold;
  EXPECT_GT(similarity(alice[0].embedding, alice_big[0].embedding), 0.95f);
  EXPECT_GT(similarity(alice[0].embedding, group[0].embedding), 0.95f);  // left face of the group
  EXPECT_GT(similarity(bob[0].embedding, group[1].embedding), 0.95f);
  EXPECT_LT(similarity(alice[0].embedding, bob[0].embedding), threshold);
}

TEST(InsightFacePipeline, DlibStrategiesAreRefusedForOtherDetectors) {
  try {
    FacePipeline pipeline(buffalo_l(), RuntimeOptions{}, DetectionStrategy::kMediapipe);
    ADD_FAILURE() << "--detector mediapipe accepted for an SCRFD pack";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("scrfd"), std::string::npos) << e.what();
  }
}

// OpenCV zoo's pair in one folder (tools/synthetic_models/make_yunet_sface.py: a yellow 8-px cell fires
// YuNet's stride 8 with score 1; box centre (col + 0.5, row + 0.25) strides, 3 x 2 strides).
TEST(OpenCvZooPack, YuNetAndSFaceAreDescribedAndRunAsOpenCv) {
  TempDir tmp;
  const fs::path synthetic = FACESEARCH_SYNTHETIC_MODELS_DIR;
  const fs::path dir = tmp.path() / "yunet-sface";
  fs::create_directories(dir);
  fs::copy_file(synthetic / "yunet" / "face_detection_yunet_2023mar.onnx", dir / "face_detection_yunet_2023mar.onnx");
  fs::copy_file(synthetic / "sface" / "face_recognition_sface_2021dec.onnx", dir / "face_recognition_sface_2021dec.onnx");
  const ModelPack pack = load_pack_folder(dir, "yunet-sface");
  EXPECT_EQ(pack.detector.kind, "yunet");
  EXPECT_FALSE(pack.detector.input.rgb);  // blobFromImage defaults: BGR, raw pixels
  EXPECT_EQ(pack.detector.input.scale, 1.f);
  EXPECT_FLOAT_EQ(pack.detector.score_threshold, 0.9f);
  EXPECT_FLOAT_EQ(pack.detector.nms_iou, 0.3f);
  EXPECT_EQ(pack.embedder.kind, "sface");
  EXPECT_TRUE(pack.embedder.input.rgb);  // FaceRecognizerSF: swapRB, no normalisation
  EXPECT_EQ(pack.embedder.input.mean[0], 0.f);
  EXPECT_EQ(pack.embedder.input.scale, 1.f);
  EXPECT_EQ(pack.embedder.dim, 128);
  EXPECT_FLOAT_EQ(pack.threshold, 0.363f);
  EXPECT_FALSE(pack.non_commercial);
  EXPECT_NE(pack.license.find("Apache-2.0"), std::string::npos);

  const FacePipeline pipeline(pack, RuntimeOptions{});
  auto analyse = [&](const cv::Mat& img) {
    DecodedImage decoded;
    decoded.bgr = img;
    decoded.width = img.cols, decoded.height = img.rows;
    return pipeline.analyze(decoded, {});
  };
  auto yellow = [](int x, int y) {
    cv::Mat img(480, 640, CV_8UC3, cv::Scalar(0, 0, 0));
    img(cv::Rect(x, y, 8, 8)).setTo(cv::Scalar(0, 255, 255));
    return img;
  };
  const auto a = analyse(yellow(80, 96));   // cell (10, 12)
  const auto b = analyse(yellow(320, 240)); // cell (40, 30)
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].face.detector, "yunet");
  EXPECT_NEAR(a[0].face.box.x1, (10 + 0.5f) * 8 - 12, 1e-3);
  EXPECT_NEAR(a[0].face.box.y1, (12 + 0.25f) * 8 - 8, 1e-3);
  EXPECT_NEAR(a[0].face.box.width(), 24, 1e-3);
  EXPECT_NEAR(a[0].face.box.height(), 16, 1e-3);
  ASSERT_EQ(a[0].face.landmarks.size(), 5u);
  ASSERT_EQ(a[0].embedding.size(), 128u);
  // The same face elsewhere in the photo: the same chip, the same embedding.
  EXPECT_GT(similarity(a[0].embedding, b[0].embedding), 0.999f);
}

// ---- the CLI, through the real binary -------------------------------------------------------------

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr
};

class ModelsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env_bin = std::getenv("FACESEARCH_BIN");
    bin_ = env_bin && *env_bin ? env_bin : FACESEARCH_BIN_DEFAULT;
    ASSERT_TRUE(fs::exists(bin_)) << bin_;
    fs::create_directories(photos());
    cv::imwrite((photos() / "alice1.png").string(), photo(640, 480, {{80, 96, 8, 255, 0}}));
    cv::imwrite((photos() / "alice2.png").string(), photo(1280, 960, {{400, 480, 16, 255, 0}}));
    cv::imwrite((photos() / "bob.png").string(), photo(640, 480, {{320, 240, 8, 0, 255}}));
    cv::imwrite((photos() / "group.png").string(), photo(640, 480, {{80, 80, 8, 255, 0}, {400, 200, 8, 0, 255}}));
    cv::imwrite((photos() / "nobody.png").string(), photo(640, 480, {}));
    cv::imwrite((tmp_.path() / "query.png").string(), photo(640, 480, {{200, 200, 8, 255, 0}}));
  }

  fs::path photos() const { return tmp_.path() / "photos"; }

  // Runs facesearch with a private HOME (no packs installed but the ones this test adds; the default pack
  // is reached through FACESEARCH_MODELS only where a test sets it) and the synthetic InsightFace root.
  CliRun run(const std::string& args, const fs::path& insightface_root = kSynthetic) const {
    const std::string cmd = "env -u FACESEARCH_MODELS -u FACESEARCH_DB HOME='" + tmp_.path().string() +
                            "' XDG_DATA_HOME='" + (tmp_.path() / "data").string() + "' XDG_CACHE_HOME='" +
                            (tmp_.path() / "cache").string() + "' FACESEARCH_INSIGHTFACE_ROOT='" +
                            insightface_root.string() + "' '" + bin_ + "' " + args + " 2>&1";
    CliRun r;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  }

  static std::vector<std::string> matched_files(const std::string& json_text) {
    const auto start = json_text.find('{');
    const auto j = nlohmann::json::parse(json_text.substr(start));
    std::vector<std::string> files;
    for (const auto& m : j["matches"]) files.push_back(fs::path(m["path"].get<std::string>()).filename().string());
    std::sort(files.begin(), files.end());
    return files;
  }

  TempDir tmp_;
  std::string bin_;
};

TEST_F(ModelsCli, SearchFoldersWithBuffaloL) {
  const CliRun r = run("search --model buffalo_l -q '" + (tmp_.path() / "query.png").string() + "' -t '" +
                    photos().string() + "' --format json --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(matched_files(r.out), (std::vector<std::string>{"alice1.png", "alice2.png", "group.png"})) << r.out;
  // The licence note is printed (stderr) unless --quiet.
  const CliRun loud = run("search --model buffalo_l -q '" + (tmp_.path() / "query.png").string() + "' -t '" +
                       photos().string() + "'");
  EXPECT_NE(loud.out.find("non-commercial"), std::string::npos) << loud.out;
}

TEST_F(ModelsCli, LibraryIsBoundToItsPack) {
  const std::string db = (tmp_.path() / "lib.db").string();
  CliRun r = run("index --model buffalo_l '" + photos().string() + "' --db '" + db + "' --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  // A later search needs no --model: the library names its pack.
  r = run("search -q '" + (tmp_.path() / "query.png").string() + "' --db '" + db + "' --format json --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(matched_files(r.out), (std::vector<std::string>{"alice1.png", "alice2.png", "group.png"})) << r.out;
  // A --rebuild that cannot run (a dlib-only --detector for an SCRFD pack) leaves the library as it was.
  r = run("index --rebuild --model antelopev2 --detector ssd --db '" + db + "' --quiet");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run("status --db '" + db + "' --format json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto status = nlohmann::json::parse(r.out);
  EXPECT_EQ(status["model"]["name"], "buffalo_l") << r.out;
  EXPECT_EQ(status["faces"], 5) << r.out;
  // Another pack is refused, with the way forward.
  r = run("index --model antelopev2 --db '" + db + "' --quiet");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("bound to one pack"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--rebuild --model antelopev2"), std::string::npos) << r.out;
  // ... until it is rebuilt with it.
  r = run("index --rebuild --model antelopev2 --db '" + db + "' --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run("status --db '" + db + "' --format json");
  EXPECT_NE(r.out.find("antelopev2"), std::string::npos) << r.out;
  // The library's pack gone from disk: said by name, with the ways forward.
  r = run("search -q '" + (tmp_.path() / "query.png").string() + "' --db '" + db + "'", tmp_.path() / "no_packs");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("was built with model pack antelopev2, which is not installed"), std::string::npos) << r.out;
  // An unknown pack name lists the packs there are.
  r = run("search --model buffalo_xl -q '" + (tmp_.path() / "query.png").string() + "' --db '" + db + "'");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("no model pack named 'buffalo_xl'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("buffalo_l"), std::string::npos) << r.out;
}

TEST_F(ModelsCli, ListShowAddVerify) {
  CliRun r = run("models list --format json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& p : j["packs"]) by_name[p["name"]] = p;
  ASSERT_TRUE(by_name.count("buffalo_l")) << r.out;
  EXPECT_EQ(by_name["buffalo_l"]["source"], "insightface");
  EXPECT_EQ(by_name["buffalo_l"]["dir"], (kSynthetic / "buffalo_l").string());  // used in place
  EXPECT_TRUE(by_name["scrfd_noKps"].contains("error"));

  r = run("models show antelopev2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("raw 0..255"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("non-commercial"), std::string::npos) << r.out;

  // The staging folder of an add that was killed (its process is gone) is swept by the next add.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  const fs::path stale = tmp_.path() / "data" / "facesearch" / "models" / (".adding-" + std::to_string(child) + "-1");
  fs::create_directories(stale / "extracted");
  // Add a copy of the folder under another name: only the files the pack uses are copied.
  r = run("models add '" + (kSynthetic / "buffalo_l").string() + "' --name my_buffalo");
  ASSERT_EQ(r.status, 0) << r.out;
  const fs::path installed = tmp_.path() / "data" / "facesearch" / "models" / "my_buffalo";
  EXPECT_TRUE(fs::exists(installed / "manifest.json"));
  EXPECT_TRUE(fs::exists(installed / "det_10g.onnx"));
  EXPECT_FALSE(fs::exists(installed / "genderage.onnx"));
  EXPECT_FALSE(fs::exists(stale));
  r = run("models add '" + (kSynthetic / "buffalo_l").string() + "' --name my_buffalo");
  EXPECT_EQ(r.status, 2) << r.out;  // exists: a usage problem, with --replace named
  EXPECT_NE(r.out.find("--replace"), std::string::npos) << r.out;

  r = run("models verify my_buffalo");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("is intact"), std::string::npos) << r.out;
  // A damaged file: verify names it and fails.
  { std::ofstream(installed / "w600k_r50.onnx", std::ios::app) << "x"; }
  r = run("models verify my_buffalo");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL  embedder"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256 is"), std::string::npos) << r.out;

  // --det-size reaches the detector: a face too small at 640 is found at 1280.
  const fs::path small = tmp_.path() / "small";
  fs::create_directories(small);
  cv::imwrite((small / "far.png").string(), photo(1280, 960, {{400, 480, 8, 255, 0}}));
  r = run("search --model buffalo_l -q '" + (tmp_.path() / "query.png").string() + "' -t '" + small.string() +
          "' --format json --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(matched_files(r.out).empty()) << r.out;
  r = run("search --model buffalo_l --det-size 1280 -q '" + (tmp_.path() / "query.png").string() + "' -t '" +
          small.string() + "' --format json --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(matched_files(r.out), std::vector<std::string>{"far.png"}) << r.out;

  r = run("models show nope");
  EXPECT_EQ(r.status, 1) << r.out;

  // remove: installed packs only; the user's InsightFace folders are never deleted.
  r = run("models remove my_buffalo");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(fs::exists(installed));
  r = run("models remove buffalo_l");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("did not install"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(kSynthetic / "buffalo_l" / "det_10g.onnx"));
  r = run("models remove my_buffalo");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("no model pack named 'my_buffalo'"), std::string::npos) << r.out;
  r = run("models");
  EXPECT_EQ(r.status, 2) << r.out;
}

}  // namespace
}  // namespace facesearch
