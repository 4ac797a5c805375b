// Detection through the whole pipeline on real photos: no faces where there are none, the annotated
// counts in scenes/, upright boxes for EXIF-rotated photos, and every tricky file in bad/.
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/face_pipeline.h"
#include "search/folder_search.h"
#include "test_support.h"

namespace facesearch {
namespace {

class Detection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pipeline_ = new FacePipeline(load_model_pack(testing::models_dir()), {}); }
  static void TearDownTestSuite() { delete pipeline_; }

  static std::vector<FaceRecord> faces_of(const std::string& rel) {
    const auto image = decode_image_file(testing::testdata_dir() / "faces" / rel);
    return pipeline_->analyze(image, {});
  }
  static inline FacePipeline* pipeline_ = nullptr;
};

// Known face counts from ../shared/testdata/faces/MANIFEST.tsv (path \t identity \t faces ...).
std::map<std::string, int> known_scene_counts() {
  std::ifstream in(testing::testdata_dir() / "faces" / "MANIFEST.tsv");
  std::map<std::string, int> counts;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string path, identity, faces;
    std::getline(ss, path, '\t');
    std::getline(ss, identity, '\t');
    std::getline(ss, faces, '\t');
    if (path.rfind("scenes/", 0) == 0 && !faces.empty() && std::isdigit(static_cast<unsigned char>(faces[0])))
      counts[path] = std::stoi(faces);
  }
  return counts;
}

TEST_F(Detection, NoFaceOnPhotosWithoutPeople) {
  const std::filesystem::path dir[] = {testing::testdata_dir() / "faces" / "noface"};
  const auto files = collect_images(dir);
  ASSERT_EQ(files.size(), 10u);
  for (const auto& f : files) {
    const auto faces = pipeline_->analyze(decode_image_file(f), {});
    EXPECT_TRUE(faces.empty()) << f << ": " << faces.size() << " false face(s), first score "
                               << (faces.empty() ? 0 : faces[0].face.score);
  }
}

TEST_F(Detection, SceneCountsMatchAnnotations) {
  const auto counts = known_scene_counts();
  ASSERT_GE(counts.size(), 20u);
  int expected_total = 0, found_total = 0, abs_error = 0;
  for (const auto& [rel, expected] : counts) {
    const int found = static_cast<int>(faces_of(rel).size());
    expected_total += expected;
    found_total += found;
    abs_error += std::abs(found - expected);
    EXPECT_LE(std::abs(found - expected), 2) << rel << ": expected " << expected << ", found " << found;
  }
  const double mean_error = double(abs_error) / counts.size();
  std::printf("scenes: %d of %d annotated faces found, mean |error| %.3f faces per image over %zu images\n",
              found_total, expected_total, mean_error, counts.size());
  // Measured with SSD + padded retry (docs/ACCURACY.md): 51 of 55, no extra faces, mean error 0.20.
  EXPECT_GE(found_total, 51);
  EXPECT_LE(found_total, expected_total);
  EXPECT_LE(mean_error, 0.20 + 1e-9);
}

// Eyes above the mouth and the box inside the upright frame: the face was found upright.
void expect_upright_face(const FaceRecord& f, int width, int height) {
  ASSERT_EQ(f.face.landmarks.size(), 68u);
  float eyes_y = 0, mouth_y = 0;
  for (int i = 36; i < 48; ++i) eyes_y += f.face.landmarks[i].y / 12;
  for (int i = 48; i < 68; ++i) mouth_y += f.face.landmarks[i].y / 20;
  EXPECT_LT(eyes_y + 0.15f * f.face.box.height(), mouth_y);
  EXPECT_GE(f.face.box.x1, 0);
  EXPECT_GE(f.face.box.y1, 0);
  EXPECT_LE(f.face.box.x2, width);
  EXPECT_LE(f.face.box.y2, height);
}

TEST_F(Detection, ExifRotatedPhotosGiveUprightFacesInUprightCoordinates) {
  for (const auto& [rel, w, h, original] :
       {std::tuple{"bad/exif_orientation6_obama.jpg", 910, 1137, "people/obama/fr_obama.jpg"},
        std::tuple{"bad/exif_orientation8_obama2.jpg", 626, 1200, "people/obama/fr_obama2.jpg"}}) {
    const auto image = decode_image_file(testing::testdata_dir() / "faces" / rel);
    EXPECT_EQ(image.width, w) << rel;
    EXPECT_EQ(image.height, h) << rel;
    const auto faces = pipeline_->analyze(image, {});
    ASSERT_EQ(faces.size(), 1u) << rel;
    expect_upright_face(faces[0], w, h);
    // The rotated file is the same photo as its upright original: same box, same person.
    const auto ref = faces_of(original);
    ASSERT_EQ(ref.size(), 1u) << original;
    EXPECT_GT(iou(ref[0].face.box, faces[0].face.box), 0.8f) << rel;
    EXPECT_GT(similarity(ref[0].embedding, faces[0].embedding), 0.97f) << rel;
  }
}

TEST_F(Detection, TrickyFilesInBad) {
  // One face each, and the face is the labelled person's (checked against a clean photo of them).
  const std::tuple<const char*, const char*> one_face[] = {
      {"bad/rgba_alpha_alex_lacamoire.png", "people/alex_lacamoire"},
      {"bad/grayscale_angelina_img11.jpg", "people/Angelina"},
      {"bad/rgb16bit_jennifer_img12.png", "people/Jennifer"},
      {"bad/cmyk_elon_img18.jpg", "people/Elon"},
      {"bad/png_bytes_named_amy1.jpg", "people/amy"},
      {"bad/progressive_mark_img13.jpg", "people/Mark"},
      {"bad/truncated_obama2.jpg", "people/obama"},
  };
  for (const auto& [rel, person] : one_face) {
    const auto faces = faces_of(rel);
    ASSERT_EQ(faces.size(), 1u) << rel;
    const std::filesystem::path dir[] = {testing::testdata_dir() / "faces" / person};
    float best = -1;
    for (const auto& f : collect_images(dir)) {
      for (const auto& r : pipeline_->analyze(decode_image_file(f), {}))
        if (f.filename() != std::filesystem::path(rel).filename()) best = std::max(best, similarity(r.embedding, faces[0].embedding));
    }
    EXPECT_GE(best, pipeline_->pack().threshold) << rel << " does not match " << person;
  }
}

TEST_F(Detection, TinyAndHugePhotosAreHandled) {
  // 16x16: too small for any face, and no crash.
  EXPECT_TRUE(faces_of("bad/tiny_16x16_angelina_img5.jpg").empty());
  // 48 megapixels: decoded at half size (so its full pixel buffer never exists), reported at full size.
  // Finding its 100-px face needs tiled detection (a later issue); here it must simply be processed.
  const auto big = decode_image_file(testing::testdata_dir() / "faces" / "bad" / "large_8000x6000_mark_img14.jpg");
  EXPECT_EQ(big.width, 8000);
  EXPECT_EQ(big.height, 6000);
  EXPECT_EQ(big.scale, 2.f);
  const auto faces = pipeline_->analyze(big, {});
  for (const auto& f : faces) {
    EXPECT_LE(f.face.box.x2, 8000);
    EXPECT_LE(f.face.box.y2, 6000);
  }
}

TEST_F(Detection, UnreadableFilesAreErrorsNamingTheFile) {
  for (const char* rel : {"bad/zero_bytes.jpg", "bad/text_file_named.png"}) {
    try {
      faces_of(rel);
      ADD_FAILURE() << rel << " decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDecode);
      EXPECT_NE(std::string(e.what()).find(std::filesystem::path(rel).filename().string()), std::string::npos);
    }
  }
}

TEST_F(Detection, BoxesScaleBackFromReducedDecoding) {
  // The same photo decoded at full and at half resolution gives the same face box in full-size pixels.
  const auto path = testing::testdata_dir() / "faces" / "scenes" / "compreface_loadtest_FACE_2.jpg";
  DecodeOptions full;
  full.min_long_side_px = 0;
  DecodeOptions half;
  half.min_long_side_px = 800;
  const auto a = decode_image_file(path, full);
  const auto b = decode_image_file(path, half);
  ASSERT_EQ(b.scale, 2.f);
  const auto fa = pipeline_->analyze(a, {});
  const auto fb = pipeline_->analyze(b, {});
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_GT(iou(fa[0].face.box, fb[0].face.box), 0.9f);
  EXPECT_GT(similarity(fa[0].embedding, fb[0].embedding), 0.97f);
}

}  // namespace
}  // namespace facesearch
