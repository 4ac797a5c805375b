#include "html_report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <map>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "image/face_crop.h"
#include "image/image.h"
#include "server/web_assets.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// JPEG qualities: crops and the query photo as the server's images; the whole photos a little lower,
// where the bytes are (a 1024 px photo at 80 is about half its size at 95 and looks the same on screen).
constexpr int kCropQuality = 85;
constexpr int kPhotoQuality = 80;

double rounded(double value, int decimals) {
  double f = 1;
  for (int i = 0; i < decimals; ++i) f *= 10;
  return std::round(value * f) / f;
}

Json json_box(const Box& b) {
  return Json{{"x1", rounded(b.x1, 1)}, {"y1", rounded(b.y1, 1)}, {"x2", rounded(b.x2, 1)}, {"y2", rounded(b.y2, 1)}};
}

std::string base64(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(bytes[i]) << 16) | (std::uint32_t(bytes[i + 1]) << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63],
        out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t v = std::uint32_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t v = (std::uint32_t(bytes[i]) << 16) | (std::uint32_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string jpeg_data_uri(const cv::Mat& bgr, int quality) {
  return "data:image/jpeg;base64," + base64(encode_jpeg(bgr, quality));
}

// One photo read again for the page: the crops of its matching faces and, for the best matches, the
// photo itself made smaller.
struct PhotoWork {
  fs::path path;
  std::vector<size_t> matches;  // positions in report.matches
  bool embed_photo = false;
  // results
  std::vector<std::string> crops;  // one per match, "" when the photo could not be read
  std::string photo;               // data URI, "" when not embedded
  int width = 0, height = 0;       // full-resolution upright size
  std::string error;               // why it could not be read
};

// Reads the photo once, decoded as reduced as its crops (and its copy) allow.
void render_photo(PhotoWork& work, const std::vector<Match>& matches, const HtmlReportOptions& options) {
  try {
    const std::vector<std::uint8_t> bytes = read_file_bytes(work.path);
    const ImageInfo info = probe_image(bytes);
    const int long_side = std::max(info.width, info.height);
    DecodeOptions decode;
    if (options.max_pixels > 0) decode.max_pixels = options.max_pixels;
    decode.min_long_side_px = 0;  // the size is unknown: decode it whole
    if (long_side > 0) {
      int need = work.embed_photo ? std::min(options.photo_px, long_side) : 0;
      for (const size_t i : work.matches)
        need = std::max(need, face_crop_min_long_side(matches[i].box, long_side, options.crop_px));
      decode.min_long_side_px = need;
    }
    const DecodedImage image = decode_image(bytes, work.path.string(), decode);
    work.width = image.width;
    work.height = image.height;
    for (const size_t i : work.matches)
      work.crops.push_back(jpeg_data_uri(face_crop(image, matches[i].box, options.crop_px), kCropQuality));
    if (work.embed_photo) work.photo = jpeg_data_uri(fit_within(image.bgr, options.photo_px), kPhotoQuality);
  } catch (const std::exception& e) {  // Error, cv::Exception, bad_alloc: the card goes without a picture
    work.crops.assign(work.matches.size(), std::string());
    work.photo.clear();
    work.error = e.what();
  }
}

void render_photos(std::vector<PhotoWork>& works, const std::vector<Match>& matches, const HtmlReportOptions& options) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>(works.size(), options.jobs > 0 ? size_t(options.jobs) : cores);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < works.size(); i = next++) render_photo(works[i], matches, options);
  };
  std::vector<std::jthread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
}

// The query photo made smaller, with its full size (the boxes are in full-resolution pixels).
Json query_image(const fs::path& path, const HtmlReportOptions& options) {
  Json out{{"image", nullptr}, {"width", 0}, {"height", 0}};
  if (path.empty()) return out;
  try {
    DecodeOptions decode;
    decode.min_long_side_px = options.query_px;
    if (options.max_pixels > 0) decode.max_pixels = options.max_pixels;
    const DecodedImage image = decode_image_file(path, decode);
    out["image"] = jpeg_data_uri(fit_within(image.bgr, options.query_px), kCropQuality);
    out["width"] = image.width;
    out["height"] = image.height;
  } catch (const std::exception& e) {
    out["unreadable"] = e.what();
  }
  return out;
}

std::string_view asset(std::string_view path) {
  for (const auto& a : server::web_assets())
    if (a.path == path) return a.content;
  throw Error(ErrorCode::kIo, "this facesearch was built without its web page (" + std::string(path) +
                                  " is missing from apps/web): rebuild it");
}

// Replaces the one occurrence of `what` in `page`; a page without it is a build that changed index.html
// without this file.
void replace_once(std::string& page, std::string_view what, std::string_view with) {
  const size_t at = page.find(what);
  if (at == std::string::npos)
    throw Error(ErrorCode::kIo, "the web page (apps/web/index.html) has no " + std::string(what) +
                                    " to replace: --html and the page are out of step in this build");
  page.replace(at, what.size(), with);
}

bool contains_ci(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

std::string name_of(const fs::path& p) { return p.filename().string(); }

// Paths as the page shows them: absolute, since the page is opened from anywhere (stdout keeps them as given).
std::string page_path(const fs::path& p) {
  if (p.empty()) return {};
  std::error_code ec;
  const fs::path absolute = fs::absolute(p, ec);
  return (ec ? p : absolute.lexically_normal()).string();
}

}  // namespace

std::string json_for_script(std::string json) {
  std::string out;
  out.reserve(json.size());
  for (const char c : json) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_report_page(const SearchReport& report, const HtmlReportSource& source,
                             const HtmlReportOptions& options, HtmlReportWritten& written) {
  // ---- the pictures: each matching photo read once, in parallel
  std::vector<PhotoWork> works;
  std::map<fs::path, size_t> work_of;
  std::vector<size_t> work_of_match(report.matches.size());
  for (size_t i = 0; i < report.matches.size(); ++i) {
    const auto [it, added] = work_of.try_emplace(report.matches[i].path, works.size());
    if (added) {
      works.push_back({});
      works.back().path = report.matches[i].path;
      works.back().embed_photo = works.size() <= options.photos;  // matches are best first
    }
    works[it->second].matches.push_back(i);
    work_of_match[i] = it->second;
  }
  render_photos(works, report.matches, options);

  // ---- the saved result, in the words of POST /api/v1/search (docs/API.md) plus the pictures
  Json photos = Json::array();
  std::vector<Json> photo_index(works.size());
  for (size_t w = 0; w < works.size(); ++w) {
    if (!works[w].error.empty()) written.unreadable.emplace_back(works[w].path, works[w].error);
    if (works[w].photo.empty()) continue;
    photo_index[w] = photos.size();
    photos.push_back({{"image", std::move(works[w].photo)}, {"width", works[w].width}, {"height", works[w].height}});
  }
  Json matches = Json::array();
  std::vector<size_t> crop_taken(works.size(), 0);
  for (size_t i = 0; i < report.matches.size(); ++i) {
    const Match& m = report.matches[i];
    PhotoWork& work = works[work_of_match[i]];
    std::string& crop = work.crops[crop_taken[work_of_match[i]]++];
    const bool library = !source.library.empty();
    Json match{{"photo_id", library ? Json(m.photo_id) : Json(nullptr)},
               {"face_id", library ? Json(m.face_id) : Json(nullptr)},
               {"similarity", rounded(m.similarity, 6)},
               {"box", json_box(m.box)},
               {"path", page_path(m.path)},
               {"name", name_of(m.path)},
               {"face_index", m.face_index},
               {"query_face", m.query_face},
               {"crop", crop.empty() ? Json(nullptr) : Json(std::move(crop))},
               {"photo", photo_index[work_of_match[i]]}};
    if (!work.error.empty()) match["unreadable"] = work.error;
    matches.push_back(std::move(match));
  }

  Json faces = Json::array();
  if (!report.query_photo_faces.empty()) {
    for (size_t i = 0; i < report.query_photo_faces.size(); ++i)
      faces.push_back({{"index", i}, {"box", json_box(report.query_photo_faces[i].box)}});
  } else {
    for (const QueryFace& q : report.query_faces) faces.push_back({{"index", q.index}, {"box", json_box(q.face.box)}});
  }
  Json query = query_image(report.query, options);
  query["faces"] = std::move(faces);
  query["chosen"] = report.query_faces.size() == 1 ? Json(report.query_faces[0].index) : Json(nullptr);
  query["face_id"] = source.query_face_ids.empty() ? Json(nullptr) : Json(source.query_face_ids[0]);
  query["photo_id"] = nullptr;
  query["path"] = page_path(report.query);
  query["name"] = name_of(report.query);
  Json paths = Json::array();
  for (const auto& q : report.queries) paths.push_back(page_path(q));
  query["paths"] = std::move(paths);
  query["combined"] = report.combined;

  Json expanded = Json::array();
  for (const ExpansionFace& e : report.expanded_with)
    expanded.push_back({{"path", page_path(e.path)},
                        {"name", name_of(e.path)},
                        {"face_index", e.face_index},
                        {"similarity", rounded(e.similarity, 6)}});
  Json targets = Json::array();
  for (const auto& t : source.targets) targets.push_back(page_path(t));
  Json stats{{"images", report.stats.images}, {"faces", report.stats.faces}};
  if (source.library.empty()) stats["seconds"] = rounded(report.stats.seconds, 2);
  else stats["query_ms"] = rounded(report.stats.seconds * 1000, 2);

  const auto now = std::chrono::system_clock::now().time_since_epoch();
  Json doc{{"format", "facesearch-search-page"},
           {"version", 1},
           {"facesearch_version", FACESEARCH_VERSION},
           {"created_at", std::chrono::duration_cast<std::chrono::seconds>(now).count()},
           {"source", source.library.empty() ? "folders" : "library"},
           {"library", source.library.empty() ? Json(nullptr) : Json(page_path(source.library))},
           {"targets", std::move(targets)},
           {"interrupted", source.interrupted},
           {"query", std::move(query)},
           {"model", report.model},
           {"metric", report.metric},
           {"threshold", rounded(applied_threshold_of_query(report), 6)},
           {"default_threshold", rounded(source.default_threshold, 6)},
           {"expanded_with", std::move(expanded)},
           {"matches", std::move(matches)},
           {"photos", std::move(photos)},
           {"photos_limit", options.photos},
           {"skipped", report.skipped.size()},
           {"stats", std::move(stats)}};
  written.results = report.matches.size();
  // File names need not be UTF-8: replaced rather than fail after a long scan, as in --format json.
  const std::string data = json_for_script(doc.dump(-1, ' ', false, Json::error_handler_t::replace));

  // ---- the page: index.html with its style sheet and script inlined, the result before the script
  const std::string_view css = asset("/style.css"), js = asset("/app.js");
  if (contains_ci(css, "</style") || contains_ci(js, "</script"))
    throw Error(ErrorCode::kIo, "apps/web's style.css or app.js closes its own element; it cannot be inlined");
  std::string page(asset("/index.html"));
  replace_once(page, R"(<link rel="stylesheet" href="/style.css">)", "<style>\n" + std::string(css) + "</style>");
  replace_once(page, R"(<script src="/app.js" defer></script>)", "");
  std::string tail = "<script type=\"application/json\" id=\"facesearch-report\">" + data + "</script>\n<script>\n" +
                     std::string(js) + "</script>\n</body>";
  replace_once(page, "</body>", tail);
  return page;
}

void check_html_report_target(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw Error(ErrorCode::kInvalidArgument, "--html " + file.string() + " is a folder; name a file, e.g. results.html");
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec))
    throw Error(ErrorCode::kNotFound, "cannot write --html " + file.string() + ": folder " + folder.string() +
                                          " does not exist");
}

HtmlReportWritten write_html_report(const fs::path& file, const SearchReport& report, const HtmlReportSource& source,
                                    const HtmlReportOptions& options) {
  HtmlReportWritten written;
  const std::string page = html_report_page(report, source, options, written);

  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::string temp = (folder / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  auto fail = [&](int err) {
    if (fd >= 0) ::unlink(temp.c_str());
    return Error(ErrorCode::kIo, "cannot write " + file.string() + " (" + std::strerror(err) + ")");
  };
  if (fd < 0) throw fail(errno);
  // mkstemp makes the file private; a page is as readable as any file the user saves (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  size_t done = 0;
  while (done < page.size()) {
    const ssize_t n = ::write(fd, page.data() + done, page.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw fail(err);
    }
    done += size_t(n);
  }
  const int synced = ::fsync(fd) == 0 ? 0 : errno;
  const int closed = ::close(fd) == 0 ? 0 : errno;
  if (synced != 0 || closed != 0) throw fail(synced != 0 ? synced : closed);
  if (::rename(temp.c_str(), file.c_str()) != 0) throw fail(errno);
  written.bytes = page.size();
  return written;
}

}  // namespace facesearch::cli
