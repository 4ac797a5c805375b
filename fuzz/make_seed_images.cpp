// Writes small seed images for image_decode_fuzz in every format decode_image dispatches on (JPEG
// baseline/progressive/grey, PNG 8/16-bit/alpha, WebP, BMP, TIFF, Netpbm, GIF, and HEIC/AVIF when this
// libheif can encode them), made from one photo of ../shared/testdata. Not a test: `make fuzz` runs it.
//   fuzz_seed_images PHOTO OUT_DIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#ifdef FACESEARCH_HAVE_LIBHEIF
#include <libheif/heif.h>
#endif

namespace {

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void encode(const std::string& out, const std::string& name, const cv::Mat& image, std::vector<int> params = {}) {
  std::vector<std::uint8_t> bytes;
  const std::string ext = name.substr(name.rfind('.'));
  if (cv::imencode(ext, image, bytes, params)) write_bytes(out + "/" + name, bytes);
  else std::fprintf(stderr, "fuzz_seed_images: OpenCV cannot write %s here, skipped\n", name.c_str());
}

#ifdef FACESEARCH_HAVE_LIBHEIF
struct HeifWriter {
  static heif_error write(heif_context*, const void* data, size_t size, void* userdata) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(userdata);
    out->insert(out->end(), static_cast<const std::uint8_t*>(data), static_cast<const std::uint8_t*>(data) + size);
    return heif_error{heif_error_Ok, heif_suberror_Unspecified, ""};
  }
};

void encode_heif(const std::string& out, const std::string& name, const cv::Mat& bgr, heif_compression_format format) {
  if (!heif_have_encoder_for_format(format)) {
    std::fprintf(stderr, "fuzz_seed_images: this libheif cannot write %s, skipped\n", name.c_str());
    return;
  }
  heif_context* context = heif_context_alloc();
  heif_encoder* encoder = nullptr;
  heif_image* image = nullptr;
  heif_image_handle* handle = nullptr;
  heif_context_get_encoder_for_format(context, format, &encoder);
  heif_encoder_set_lossy_quality(encoder, 50);
  heif_encoder_set_parameter(encoder, "preset", "ultrafast");
  heif_image_create(bgr.cols, bgr.rows, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &image);
  heif_image_add_plane(image, heif_channel_interleaved, bgr.cols, bgr.rows, 8);
  int stride = 0;
  std::uint8_t* plane = heif_image_get_plane(image, heif_channel_interleaved, &stride);
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, plane, static_cast<size_t>(stride));
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  std::vector<std::uint8_t> bytes;
  heif_writer writer{1, &HeifWriter::write};
  if (heif_context_encode_image(context, image, encoder, nullptr, &handle).code == heif_error_Ok &&
      heif_context_write(context, &writer, &bytes).code == heif_error_Ok)
    write_bytes(out + "/" + name, bytes);
  if (handle) heif_image_handle_release(handle);
  heif_image_release(image);
  heif_encoder_release(encoder);
  heif_context_free(context);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seed_images PHOTO OUT_DIR\n");
    return 2;
  }
  const cv::Mat photo = cv::imread(argv[1], cv::IMREAD_COLOR);
  if (photo.empty()) {
    std::fprintf(stderr, "fuzz_seed_images: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string out = argv[2];
  cv::Mat small, grey, bgra, deep;
  cv::resize(photo, small, cv::Size(48, 40), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(small, bgra, cv::COLOR_BGR2BGRA);
  small.convertTo(deep, CV_16UC3, 257.0);
  encode(out, "seed.jpg", small, {cv::IMWRITE_JPEG_QUALITY, 50});
  encode(out, "seed_progressive.jpg", small, {cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_QUALITY, 50});
  encode(out, "seed_grey.jpg", grey, {cv::IMWRITE_JPEG_QUALITY, 50});
  encode(out, "seed.png", small);
  encode(out, "seed_grey.png", grey);
  encode(out, "seed_alpha.png", bgra);
  encode(out, "seed_16bit.png", deep);
  encode(out, "seed.webp", small, {cv::IMWRITE_WEBP_QUALITY, 50});
  encode(out, "seed.bmp", small);
  encode(out, "seed.tiff", small);
  encode(out, "seed.ppm", small);
  encode(out, "seed.pgm", grey);
  encode(out, "seed.pbm", grey);
  // OpenCV cannot write GIF: a 1x1 GIF89a by hand (header, logical screen, 2-colour table, image, trailer).
  write_bytes(out + "/seed.gif", {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
                            0xff, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
                            0x02, 0x44, 0x01, 0x00, 0x3b});
#ifdef FACESEARCH_HAVE_LIBHEIF
  heif_init(nullptr);
  encode_heif(out, "seed.heic", small, heif_compression_HEVC);
  encode_heif(out, "seed.avif", small, heif_compression_AV1);
  heif_deinit();
#endif
  return 0;
}
