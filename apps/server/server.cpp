#include "server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "image/face_crop.h"
#include "image/image.h"
#include "server/image_cache.h"
#include "server/web_assets.h"

namespace facesearch::server {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// ---- errors: the one place where core errors become HTTP statuses and JSON ---------------------------

struct HttpError {
  int status;
  std::string code;
  std::string message;
  std::string hint;
};

HttpError from_core(const Error& e) {
  const Hint& hint = e.hint();
  std::string words;
  switch (hint.remedy) {
    case Remedy::kIndexFirst:
    case Remedy::kNameFolders: words = "build the library first: facesearch index ~/Pictures"; break;
    case Remedy::kRaisePixelLimit: words = "the server refuses photos over its pixel limit"; break;
    case Remedy::kPickQueryFace: words = "pick a face from 0 to " + hint.detail; break;
    case Remedy::kListFaceIds: words = "a photo's faces and their ids: GET /api/v1/photos/ID"; break;
    case Remedy::kListPeople: words = "the library's people: GET /api/v1/people"; break;
    case Remedy::kUpgradeByIndexing: words = "re-index the library once to group its faces: POST /api/v1/index"; break;
    case Remedy::kFinishRebuild: words = "re-index the library to finish its rebuild: POST /api/v1/index"; break;
    case Remedy::kMergeAsOwner: words = "the library's owner merges them by opening it once"; break;
    case Remedy::kMoveAwayOrNewLibrary: words = "move the library away and index the folders into a new one"; break;
    case Remedy::kSetupModels: words = "build the default model pack with the set-up, or start with another"; break;
    case Remedy::kListOrAddPacks: words = "install the pack, or start with one of those installed"; break;
    default: break;
  }
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return {400, "invalid_argument", e.what(), words};
    case ErrorCode::kNotFound: return {404, "not_found", e.what(), words};
    case ErrorCode::kNoFace:
      return {422, "no_face", e.what(), "use a photo where the face is larger, sharper or better lit"};
    case ErrorCode::kIo: return {500, "io", e.what(), words};
    case ErrorCode::kDecode:
      if (hint.remedy == Remedy::kRaisePixelLimit) return {422, "too_many_pixels", e.what(), words};
      return {422, "decode", e.what(), "upload a JPEG, PNG, WebP, TIFF or HEIC photo"};
    default: return {500, "internal", e.what(), words};
  }
}

void write_error(httplib::Response& res, const HttpError& e) {
  res.status = e.status;
  res.set_content(Json{{"error", {{"code", e.code}, {"message", e.message}, {"hint", e.hint}}}}.dump(), "application/json");
}

// An answer a route decides itself (not a core error): thrown, and written by the exception handler.
struct HttpFailure : std::runtime_error {
  explicit HttpFailure(HttpError e) : std::runtime_error(e.message), error(std::move(e)) {}
  HttpError error;
};

Json box_json(const Box& b) {
  auto r = [](float v) { return std::round(double(v) * 10) / 10; };
  return {{"x1", r(b.x1)}, {"y1", r(b.y1)}, {"x2", r(b.x2)}, {"y2", r(b.y2)}};
}

// Constant-time comparison of a presented token with the server's.
bool same_token(std::string_view presented, std::string_view expected) {
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < presented.size() ? presented[i] : 0));
  return diff == 0;
}

std::optional<std::int64_t> parse_id(const std::string& text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The value of an integer query parameter within [lo, hi], `fallback` when absent.
int int_param(const httplib::Request& req, const char* name, int fallback, int lo, int hi) {
  if (!req.has_param(name)) return fallback;
  const auto v = parse_number(req.get_param_value(name));
  if (!v || *v < lo || *v > hi || *v != std::floor(*v))
    throw Error(ErrorCode::kInvalidArgument, std::string(name) + " must be a whole number from " + std::to_string(lo) +
                                                 " to " + std::to_string(hi));
  return static_cast<int>(*v);
}

std::optional<float> threshold_param(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const auto v = parse_number(text);
  if (!v || *v < -1 || *v > 1) throw Error(ErrorCode::kInvalidArgument, "threshold must be a number from -1 to 1");
  return static_cast<float>(*v);
}

// Debian's libcpp-httplib 0.11 listens with a backlog of 5 (compiled into the library): a burst of
// clients overflows it and the kernel resets some of them. listen() again on the same socket widens
// it; httplib keeps that socket private, so it is found among this process's listening sockets by port.
void widen_listen_backlog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    int listening = 0;
    socklen_t size = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
}

std::string jpeg(const cv::Mat& bgr) {
  const std::vector<std::uint8_t> out = encode_jpeg(bgr, 85);
  return std::string(out.begin(), out.end());
}

// A JPEG answer from the disk cache when it holds `key`, else made by `make` (and kept when
// `cacheable`: the photo's content is known). X-Cache says which, for clients and the benchmark.
template <class Make>
void cached_jpeg(ImageCache& cache, httplib::Response& res, const std::string& key, bool cacheable, Make&& make) {
  if (cacheable) {
    if (auto hit = cache.get(key)) {
      res.set_header("X-Cache", "hit");
      res.set_content(std::move(*hit), "image/jpeg");
      return;
    }
  }
  std::string bytes = make();
  if (cacheable) cache.put(key, bytes);
  res.set_header("X-Cache", cacheable && cache.enabled() ? "miss" : "off");
  res.set_content(std::move(bytes), "image/jpeg");
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string generate_token() {
  unsigned char bytes[16] = {};
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::read(fd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (fd >= 0) ::close(fd);
    throw Error(ErrorCode::kIo, "cannot read /dev/urandom to make a token");
  }
  ::close(fd);
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) token += hex[b >> 4], token += hex[b & 15];
  return token;
}

// Library handles for requests: one per request in flight (Library::another_reader: its own catalog
// connection, the networks and vector index shared), handed out and taken back, so searches run side
// by side. A re-index replaces the library; handles still lent finish their request on the old one.
class Readers {
 public:
  explicit Readers(Library first) : current_(std::make_shared<Library>(std::move(first))) {}

  class Lease {
   public:
    Lease(Readers& owner, std::shared_ptr<Library> library, std::uint64_t generation)
        : owner_(owner), library_(std::move(library)), generation_(generation) {}
    ~Lease() { owner_.take_back(std::move(library_), generation_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const Library* operator->() const { return library_.get(); }
    const Library& operator*() const { return *library_; }

   private:
    Readers& owner_;
    std::shared_ptr<Library> library_;
    std::uint64_t generation_;
  };

  Lease take() {
    std::shared_ptr<Library> prototype;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(m_);
      generation = generation_;
      if (!idle_.empty()) {
        auto library = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(library), generation);
      }
      prototype = current_;
    }
    return Lease(*this, std::make_shared<Library>(prototype->another_reader()), generation);
  }

  // Searches move to `updated` (after a re-index); idle handles on the old library are closed.
  void replace(Library updated) {
    auto next = std::make_shared<Library>(std::move(updated));
    std::lock_guard lock(m_);
    current_ = std::move(next);
    idle_.clear();
    ++generation_;
  }

  const Library& current() const { return *current_; }

 private:
  void take_back(std::shared_ptr<Library> library, std::uint64_t generation) {
    std::lock_guard lock(m_);
    if (generation == generation_) idle_.push_back(std::move(library));
  }

  std::mutex m_;
  std::shared_ptr<Library> current_;  // the library as opened; handles are made from it
  std::vector<std::shared_ptr<Library>> idle_;
  std::uint64_t generation_ = 0;
};

struct Server::State {
  ServeOptions options;
  Readers readers;
  float default_threshold = 0;
  std::string model_name;
  httplib::Server http;
  int port = 0;
  // Heavy requests: `workers` at once, `queue` more waiting, the rest refused.
  std::mutex slots_mutex;
  std::condition_variable slots_freed;
  int running = 0, waiting = 0;
  fs::path upload_dir;
  std::atomic<std::uint64_t> uploads{0};
  // One index run at a time, on its own thread; searches go on against the library as it was and
  // switch to the updated one when the run ends.
  std::mutex index_mutex;
  std::condition_variable index_changed;
  bool indexing = false;
  std::uint64_t index_version = 0;  // bumped at every change of index_state
  Json index_state = Json{{"state", "idle"}};
  std::thread index_thread;
  std::atomic<bool> cancel_index{false};
  // Changes of people: one at a time, each on its own writable handle (Library::open_for_editing).
  std::mutex edit_mutex;
  ImageCache cache;

  State(ServeOptions o, Library l)
      : options(std::move(o)),
        readers(std::move(l)),
        cache(options.cache_dir.empty() ? ImageCache::default_dir() : options.cache_dir, options.cache_max_bytes) {}
};

namespace {

// Holds one heavy-work slot for a request's lifetime; `acquired` false when the server is full.
class Slot {
 public:
  Slot(std::mutex& m, std::condition_variable& cv, int& running, int& waiting, int workers, int queue)
      : m_(m), cv_(cv), running_(running) {
    std::unique_lock lock(m_);
    if (running_ >= workers) {
      if (waiting >= queue) return;
      ++waiting;
      const bool got = cv_.wait_for(lock, std::chrono::seconds(30), [&] { return running_ < workers; });
      --waiting;
      if (!got) return;
    }
    ++running_;
    acquired = true;
  }
  ~Slot() {
    if (!acquired) return;
    {
      std::lock_guard lock(m_);
      --running_;
    }
    cv_.notify_one();
  }
  bool acquired = false;

 private:
  std::mutex& m_;
  std::condition_variable& cv_;
  int& running_;
};

// `threshold`: what the matches were judged at; `default_threshold`: the pack's for this query (both
// raised for a query expanded or combined from several faces: query_threshold), where the page's slider starts.
Json search_json(const SearchReport& report, const ModelPack& pack, int chosen,
                 std::optional<std::int64_t> query_face_id, std::optional<std::int64_t> query_photo_id) {
  const float applied = applied_threshold_of_query(report), default_threshold = default_threshold_of_query(report, pack);
  Json faces = Json::array();
  if (query_face_id) {
    for (const auto& q : report.query_faces) faces.push_back({{"index", q.index}, {"box", box_json(q.face.box)}});
  } else {
    for (size_t i = 0; i < report.query_photo_faces.size(); ++i)
      faces.push_back({{"index", i}, {"box", box_json(report.query_photo_faces[i].box)}});
  }
  Json matches = Json::array();
  for (const Match& m : report.matches)
    matches.push_back({{"photo_id", m.photo_id},
                       {"face_id", m.face_id},
                       {"similarity", std::round(double(m.similarity) * 1e4) / 1e4},
                       {"box", box_json(m.box)},
                       {"path", m.path.string()},
                       {"name", m.path.filename().string()}});
  Json expanded = Json::array();
  for (const ExpansionFace& e : report.expanded_with)
    expanded.push_back({{"photo_id", e.photo_id}, {"face_id", e.face_id}, {"similarity", std::round(double(e.similarity) * 1e4) / 1e4}});
  return {{"query",
           {{"faces", std::move(faces)},
            {"chosen", chosen},
            {"face_id", query_face_id ? Json(*query_face_id) : Json(nullptr)},
            {"photo_id", query_photo_id ? Json(*query_photo_id) : Json(nullptr)}}},
          {"model", report.model},
          {"threshold", std::round(double(applied) * 1e4) / 1e4},
          {"default_threshold", std::round(double(default_threshold) * 1e4) / 1e4},
          {"expanded_with", std::move(expanded)},
          {"matches", std::move(matches)},
          {"stats", {{"faces", report.stats.faces}, {"query_ms", std::round(report.stats.seconds * 1e5) / 100}}}};
}

// ---- people ----

// JSON answers of the people routes: a file name that is not UTF-8 is replaced, not an error.
void send_json(httplib::Response& res, const Json& j) {
  res.set_content(j.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

Json person_json(const PersonRow& p) {
  const std::int64_t face = p.sample_face_id;
  return {{"id", p.id},
          {"name", p.name},
          {"hidden", p.hidden},
          {"faces", p.faces},
          {"photos", p.photos},
          {"cover_face_id", p.cover_face_id != 0 ? Json(p.cover_face_id) : Json(nullptr)},
          {"sample_face_id", face != 0 ? Json(face) : Json(nullptr)},
          {"crop", face != 0 ? Json("/api/v1/faces/" + std::to_string(face) + "/crop") : Json(nullptr)},
          {"created_at", p.created_at}};
}

// A face of a person (or of nobody), with its photo: one face per photo in a person, so the list is
// the person's photos too.
Json person_face_json(const PersonFace& f, std::int64_t cover_face_id) {
  return {{"face_id", f.face.id},
          {"photo_id", f.image.id},
          {"index", f.face.face_index},
          {"box", box_json(f.face.face.box)},
          {"by_user", f.by_user},
          {"cover", cover_face_id != 0 && f.face.id == cover_face_id},
          {"path", f.image.path.string()},
          {"name", f.image.path.filename().string()},
          {"width", f.image.width},
          {"height", f.image.height}};
}

Json json_object_body(const httplib::Request& req, const std::string& example) {
  Json body;
  try {
    body = Json::parse(req.body);
  } catch (const Json::exception&) {
    throw Error(ErrorCode::kInvalidArgument, "the body must be a JSON object: " + example);
  }
  if (!body.is_object()) throw Error(ErrorCode::kInvalidArgument, "the body must be a JSON object: " + example);
  return body;
}

// A person's id in a body: a whole number > 0.
std::int64_t person_id_in(const Json& v, const std::string& what) {
  if (v.is_number_integer() && v.get<std::int64_t>() > 0) return v.get<std::int64_t>();
  throw Error(ErrorCode::kInvalidArgument, what + " must be a person's id (a whole number > 0)");
}

std::string trimmed(const std::string& text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return text.substr(b, e - b);
}

bool only_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// ?hidden=1 and the like: absent, 0/false or 1/true.
bool flag_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  const std::string v = req.get_param_value(name);
  if (v == "1" || v == "true" || v.empty()) return true;
  if (v == "0" || v == "false") return false;
  throw Error(ErrorCode::kInvalidArgument, std::string(name) + " must be 1 or 0");
}

// threshold and top_k of a JSON search body.
SearchOptions json_search_options(const Json& body) {
  SearchOptions options;
  if (body.contains("threshold")) {
    if (!body["threshold"].is_number()) throw Error(ErrorCode::kInvalidArgument, "threshold must be a number");
    options.threshold = threshold_param(std::to_string(body["threshold"].get<double>()));
  }
  if (body.contains("top_k")) {
    if (!body["top_k"].is_number_integer() || body["top_k"].get<std::int64_t>() < 0)
      throw Error(ErrorCode::kInvalidArgument, "top_k must be a whole number, 0 or more");
    options.top_k = static_cast<size_t>(body["top_k"].get<std::int64_t>());
  }
  return options;
}

// The host part of a Host header ("127.0.0.1:8765" -> "127.0.0.1", "[::1]:8765" -> "[::1]").
std::string host_of(const std::string& header) {
  if (!header.empty() && header.front() == '[') {
    const auto close = header.find(']');
    return close == std::string::npos ? header : header.substr(0, close + 1);
  }
  return header.substr(0, header.find(':'));
}

std::string cookie_token(const httplib::Request& req) {
  const std::string cookies = req.get_header_value("Cookie");
  const std::string key = "facesearch_token=";
  for (size_t at = cookies.find(key); at != std::string::npos; at = cookies.find(key, at + 1)) {
    if (at != 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') continue;
    const size_t start = at + key.size();
    return cookies.substr(start, cookies.find(';', start) - start);
  }
  return {};
}

}  // namespace

Server::Server(ServeOptions options) {
  if (!is_loopback_host(options.host) && options.token.empty())
    throw Error(ErrorCode::kInvalidArgument,
                "serving on " + options.host + " (not this machine only) needs a token that every request carries");
  if (options.workers < 1 || options.queue < 0) throw Error(ErrorCode::kInvalidArgument, "workers must be at least 1");
  SearchRequest request;
  request.pack = options.pack;
  request.index = options.index;
  Library library = Library::open_for_search(options.db, request);
  state_ = std::make_unique<State>(std::move(options), std::move(library));
  state_->default_threshold = state_->readers.current().pack()->threshold;
  state_->model_name = state_->readers.current().pack()->name;

  // A private folder for uploads: read once by the search and deleted.
  std::string tmpl = (fs::temp_directory_path() / "facesearch-serve-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw Error(ErrorCode::kIo, "cannot create a private temporary folder for uploads");
  state_->upload_dir = tmpl;

  State& s = *state_;
  httplib::Server& http = s.http;
  const int threads = s.options.workers + s.options.queue + 4;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, with which a second server on the
  // same port would silently share it instead of failing.
  // TCP_NODELAY (inherited by every accepted connection): httplib sends a response's headers and body
  // in separate writes, and with Nagle's algorithm the body of a small answer (a search's JSON, a face
  // crop) waited for the client's delayed ACK: +40 ms per request on a kept-alive connection.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  http.set_payload_max_length(s.options.max_upload_bytes);
  http.set_read_timeout(std::chrono::seconds(20));
  http.set_write_timeout(std::chrono::seconds(20));
  http.set_keep_alive_timeout(5);
  http.set_default_headers({{"Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"},
                            {"X-Content-Type-Options", "nosniff"},
                            {"X-Frame-Options", "DENY"},
                            {"Referrer-Policy", "no-referrer"},
                            {"Cache-Control", "no-store"}});

  // Host, token and Origin, before any route.
  http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    const std::string host_header = req.get_header_value("Host");
    if (is_loopback_host(s.options.host) && !is_loopback_host(host_of(host_header))) {
      write_error(res, {403, "forbidden", "Host " + host_header + " is not this server's address", ""});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!s.options.token.empty()) {
      // Opening the printed URL once sets the cookie the page's requests carry.
      if (req.method == "GET" && req.path == "/" && req.has_param("token") &&
          same_token(req.get_param_value("token"), s.options.token)) {
        res.set_header("Set-Cookie", "facesearch_token=" + s.options.token + "; HttpOnly; SameSite=Strict; Path=/");
        res.set_redirect("/", 303);
        return httplib::Server::HandlerResponse::Handled;
      }
      const std::string auth = req.get_header_value("Authorization");
      const bool bearer = auth.rfind("Bearer ", 0) == 0 && same_token(auth.substr(7), s.options.token);
      if (!bearer && !same_token(cookie_token(req), s.options.token)) {
        write_error(res, {401, "unauthorized", "this server needs its token",
                          "open the address facesearch serve printed, or send Authorization: Bearer TOKEN"});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (req.method != "GET" && req.method != "HEAD" && req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      if (origin != "http://" + host_header) {
        write_error(res, {403, "forbidden", "requests from " + origin + " are not accepted", ""});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Bodies for what httplib answers itself (no route: 404, upload too large: 413).
  http.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      write_error(res, {413, "too_large", "the upload is over " + std::to_string(s.options.max_upload_bytes >> 20) + " MB", ""});
    else if (res.status == 404)
      write_error(res, {404, "not_found", "nothing at " + req.path, ""});
    else
      write_error(res, {res.status, "invalid_argument",
                        "the request is malformed (a POST needs a Content-Length, even 0: curl -d '')", ""});
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const HttpFailure& f) {
      write_error(res, f.error);
    } catch (const Error& e) {
      write_error(res, from_core(e));
    } catch (const std::exception& e) {
      write_error(res, {500, "internal", e.what(), ""});
    }
  });

  // Heavy requests share the slots; `work` runs under one.
  auto heavy = [&s](httplib::Response& res, const std::function<void()>& work) {
    Slot slot(s.slots_mutex, s.slots_freed, s.running, s.waiting, s.options.workers, s.options.queue);
    if (!slot.acquired) {
      res.set_header("Retry-After", "2");
      write_error(res, {503, "overloaded", "the server is busy", "try again in a moment"});
      return;
    }
    work();
  };

  // ---- the page ----
  for (const WebAsset& asset : web_assets()) {
    const std::string route = asset.path == "/index.html" ? "/" : asset.path;
    http.Get(route, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(asset.content), asset.mime);
    });
  }

  // ---- the API ----
  http.Get("/api/v1/status", [&s](const httplib::Request&, httplib::Response& res) {
    const auto library = s.readers.take();
    const LibraryStatus st = library->status();
    Json errors = Json::array();
    for (const ImageRow& row : library->unreadable_photos())
      errors.push_back({{"photo_id", row.id}, {"path", row.path.string()}, {"message", row.error}});
    Json roots = Json::array();
    for (const auto& r : st.roots) roots.push_back(r.string());
    res.set_content(Json{{"library", library->path().string()},
                         {"photos", st.images},
                         {"photos_ok", st.images_ok},
                         {"photos_error", st.images_error},
                         {"faces", st.faces},
                         {"model", st.model_name},
                         {"threshold", std::round(double(s.default_threshold) * 1e4) / 1e4},
                         {"roots", std::move(roots)},
                         {"created_at", st.created_at},
                         {"updated_at", st.updated_at},
                         {"errors", std::move(errors)},
                         {"indexing", [&s] {
                            std::lock_guard index_lock(s.index_mutex);
                            return s.indexing;
                          }()}}
                        .dump(),
                    "application/json");
  });

  auto by_face = [&s](std::int64_t face_id, std::optional<float> threshold, size_t top_k, httplib::Response& res) {
    SearchOptions options;
    options.threshold = threshold;
    options.top_k = top_k;
    const auto library = s.readers.take();
    const auto face = library->face(face_id);
    if (!face) throw Error(ErrorCode::kNotFound, "no face " + std::to_string(face_id) + " in the library");
    const SearchReport report = library->search_face(face_id, options);
    res.set_content(search_json(report, *library->pack(), 0, face_id, face->image_id).dump(), "application/json");
  };

  http.Post("/api/v1/search", [&s, heavy, by_face](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      if (!req.is_multipart_form_data()) {
        Json body;
        try {
          body = Json::parse(req.body);
        } catch (const Json::exception&) {
          throw Error(ErrorCode::kInvalidArgument, "the body is neither a photo upload (multipart, field photo) nor JSON");
        }
        // Every photo of a person of the library: {"person": ID or "name"}.
        if (body.is_object() && body.contains("person")) {
          const Json& who = body["person"];
          std::string person;
          if (who.is_number_integer() && who.get<std::int64_t>() > 0) person = std::to_string(who.get<std::int64_t>());
          if (who.is_string()) person = trimmed(who.get<std::string>());
          if (person.empty()) throw Error(ErrorCode::kInvalidArgument, "person must be a person's id or name");
          const auto library = s.readers.take();
          const SearchReport report = library->search_person(person, json_search_options(body));
          Json j = search_json(report, *library->pack(), -1, std::nullopt, std::nullopt);
          j["query"]["person"] = {{"id", report.person_id}, {"name", report.person_name}, {"faces", report.person_faces}};
          send_json(res, j);
          return;
        }
        if (!body.is_object() || !body.contains("face_id") || !body["face_id"].is_number_integer())
          throw Error(ErrorCode::kInvalidArgument,
                      "give a photo (multipart field photo), {\"face_id\": N} or {\"person\": ID or \"name\"}");
        const SearchOptions options = json_search_options(body);
        by_face(body["face_id"].get<std::int64_t>(), options.threshold, options.top_k, res);
        return;
      }
      if (!req.has_file("photo") || req.get_file_value("photo").content.empty())
        throw Error(ErrorCode::kInvalidArgument, "the upload has no photo (multipart field photo)");
      auto field = [&](const char* name) { return req.has_file(name) ? req.get_file_value(name).content : std::string(); };
      SearchOptions options;
      options.threshold = threshold_param(field("threshold"));
      if (const std::string k = field("top_k"); !k.empty()) {
        const auto v = parse_number(k);
        if (!v || *v < 0 || *v != std::floor(*v)) throw Error(ErrorCode::kInvalidArgument, "top_k must be a whole number, 0 or more");
        options.top_k = static_cast<size_t>(*v);
      }
      int chosen = -1;
      if (const std::string q = field("query_face"); !q.empty() && q != "largest") {
        const auto v = parse_number(q);
        if (!v || *v < 0 || *v != std::floor(*v)) throw Error(ErrorCode::kInvalidArgument, "query_face must be largest or a face index");
        chosen = static_cast<int>(*v);
        options.query_face.mode = QueryFaceSelection::Mode::kIndex;
        options.query_face.index = chosen;
      }
      options.analysis.decode.max_pixels = s.options.max_pixels;
      // The upload lives in the private folder for the search only.
      const fs::path file = s.upload_dir / ("upload-" + std::to_string(s.uploads++));
      struct Remove {
        fs::path p;
        ~Remove() {
          std::error_code ec;
          fs::remove(p, ec);
        }
      } remove{file};
      {
        std::ofstream out(file, std::ios::binary);
        const std::string& bytes = req.get_file_value("photo").content;
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) throw Error(ErrorCode::kIo, "cannot store the upload for the search");
      }
      SearchReport report;
      const auto library = s.readers.take();
      try {
        report = library->search_photo(file, options);
      } catch (const Error& e) {
        // The core names the file it read: the client knows it as its upload, not as a temporary path.
        std::string message = e.what();
        for (size_t at; (at = message.find(file.string())) != std::string::npos;)
          message.replace(at, file.string().size(), "the uploaded photo");
        throw Error(e.code(), message, e.hint());
      }
      if (chosen < 0 && !report.query_faces.empty()) chosen = report.query_faces.front().index;
      res.set_content(search_json(report, *library->pack(), chosen, std::nullopt, std::nullopt).dump(),
                      "application/json");
    });
  });

  http.Get(R"(/api/v1/faces/(\d+)/similar)", [heavy, by_face](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      const auto id = parse_id(req.matches[1]);
      if (!id) throw Error(ErrorCode::kNotFound, "no such face");
      by_face(*id, req.has_param("threshold") ? threshold_param(req.get_param_value("threshold")) : std::nullopt,
              static_cast<size_t>(int_param(req, "top_k", 0, 0, 100000)), res);
    });
  });

  // ---- re-indexing the library's folders, with progress as Server-Sent Events ----
  http.Post("/api/v1/index", [&s](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(s.index_mutex);
    if (s.indexing) {
      write_error(res, {409, "busy", "the library is being indexed already", "follow /api/v1/index/events"});
      return;
    }
    if (s.index_thread.joinable()) s.index_thread.join();  // the previous run, finished
    s.indexing = true;
    s.index_state = Json{{"state", "running"}, {"done", 0}, {"total", 0}, {"faces", 0}};
    ++s.index_version;
    s.index_changed.notify_all();
    s.index_thread = std::thread([&s] {
      auto publish = [&s](Json state, bool finished) {
        std::lock_guard lock(s.index_mutex);
        s.index_state = std::move(state);
        if (finished) s.indexing = false;
        ++s.index_version;
        s.index_changed.notify_all();
      };
      try {
        IndexRequest request;
        request.pack.name = s.model_name;
        request.pack.models_dir = s.options.pack.models_dir;
        if (!request.pack.models_dir.empty()) request.pack.name.clear();
        request.cancel = &s.cancel_index;
        std::optional<Library> writer = Library::open_for_indexing(s.options.db, request, /*create=*/false);
        if (!writer) return publish(Json{{"state", "cancelled"}}, true);
        IndexOptions options;
        options.jobs = s.options.workers;
        options.cancel = &s.cancel_index;
        options.on_progress = [&](const Progress& p) {
          publish(Json{{"state", "running"}, {"done", p.done}, {"total", p.total}, {"faces", p.faces}}, false);
        };
        const IndexReport report = writer->index({}, options);
        writer.reset();
        // Searches move to the updated library (its new faces and side files).
        SearchRequest reopen;
        reopen.pack = s.options.pack;
        reopen.index = s.options.index;
        Library updated = Library::open_for_search(s.options.db, reopen);
        s.readers.replace(std::move(updated));
        publish(Json{{"state", report.cancelled ? "cancelled" : "done"},
                     {"files", report.files},
                     {"added", report.added},
                     {"updated", report.updated},
                     {"deleted", report.deleted},
                     {"errors", report.errors},
                     {"faces", report.faces},
                     {"seconds", std::round(report.seconds * 10) / 10}},
                true);
      } catch (const Error& e) {
        const HttpError h = from_core(e);
        publish(Json{{"state", "failed"}, {"error", {{"code", h.code}, {"message", h.message}, {"hint", h.hint}}}}, true);
      } catch (const std::exception& e) {
        publish(Json{{"state", "failed"}, {"error", {{"code", "internal"}, {"message", e.what()}, {"hint", ""}}}}, true);
      }
    });
    res.status = 202;
    res.set_content(Json{{"state", "running"}, {"events", "/api/v1/index/events"}}.dump(), "application/json");
  });

  http.Get("/api/v1/index/events", [&s](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto last = std::make_shared<std::uint64_t>(0);
    res.set_chunked_content_provider("text/event-stream", [&s, last](size_t, httplib::DataSink& sink) {
      std::unique_lock lock(s.index_mutex);
      // Wait for a change (or 15 s, for a keep-alive comment), unless this client has not seen the state yet.
      if (*last != 0 && !s.index_changed.wait_for(lock, std::chrono::seconds(15), [&] { return s.index_version != *last; })) {
        lock.unlock();
        const std::string ping = ": still working\n\n";
        return sink.write(ping.data(), ping.size());
      }
      *last = s.index_version;
      const bool finished = !s.indexing;
      const std::string event = std::string("event: ") + (finished ? "end" : "progress") + "\ndata: " + s.index_state.dump() + "\n\n";
      lock.unlock();
      if (!sink.write(event.data(), event.size())) return false;
      if (finished) sink.done();
      return true;
    });
  });

  http.Get(R"(/api/v1/photos/(\d+))", [&s](const httplib::Request& req, httplib::Response& res) {
    const auto id = parse_id(req.matches[1]);
    std::optional<PhotoFaces> photo;
    auto reader = s.readers.take();
    if (id) photo = reader->photo(*id);
    if (!photo) throw Error(ErrorCode::kNotFound, "no photo " + std::string(req.matches[1]) + " in the library");
    Json faces = Json::array();
    for (const FaceRow& f : photo->faces) {
      // The person the face is: {"id", "name", "hidden"}, or null (nobody's).
      Json person = nullptr;
      if (const auto p = reader->person_of_face(f.id)) person = {{"id", p->id}, {"name", p->name}, {"hidden", p->hidden}};
      faces.push_back({{"face_id", f.id},
                       {"index", f.face_index},
                       {"box", box_json(f.face.box)},
                       {"score", std::round(double(f.face.score) * 1e4) / 1e4},
                       {"detector", f.face.detector},
                       {"person", std::move(person)}});
    }
    res.set_content(Json{{"photo_id", photo->image.id},
                         {"path", photo->image.path.string()},
                         {"name", photo->image.path.filename().string()},
                         {"width", photo->image.width},
                         {"height", photo->image.height},
                         {"status", photo->image.status},
                         {"error", photo->image.error},
                         {"faces", std::move(faces)}}
                        .dump(),
                    "application/json");
  });

  http.Get(R"(/api/v1/photos/(\d+)/image)", [&s, heavy](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      const int max = int_param(req, "max", 1600, 32, 4096);
      const auto id = parse_id(req.matches[1]);
      std::optional<PhotoFaces> photo;
      if (id) photo = s.readers.take()->photo(*id);
      if (!photo || photo->image.status != "ok") throw Error(ErrorCode::kNotFound, "no readable photo " + std::string(req.matches[1]));
      cached_jpeg(s.cache, res, "image|" + photo->image.hash + "|" + std::to_string(max), !photo->image.hash.empty(), [&] {
        DecodeOptions decode;
        decode.min_long_side_px = max;  // a JPEG is decoded reduced as far as the answer allows
        return jpeg(fit_within(decode_image_file(photo->image.path, decode).bgr, max));
      });
    });
  });

  http.Get(R"(/api/v1/faces/(\d+)/crop)", [&s, heavy](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      const int size = int_param(req, "size", 160, 32, 1024);
      const auto id = parse_id(req.matches[1]);
      std::optional<FaceRow> face;
      std::optional<PhotoFaces> photo;
      if (id) {
        const auto library = s.readers.take();
        face = library->face(*id);
        if (face) photo = library->photo(face->image_id);
      }
      if (!face || !photo) throw Error(ErrorCode::kNotFound, "no face " + std::string(req.matches[1]) + " in the library");
      // A square around the face with a margin (face_crop.h), in full-resolution pixels.
      const Box& b = face->face.box;
      char box[128];
      std::snprintf(box, sizeof box, "%.1f,%.1f,%.1f,%.1f,margin %.2f", b.x1, b.y1, b.x2, b.y2, kFaceCropMargin);
      cached_jpeg(s.cache, res, "crop|" + photo->image.hash + "|" + box + "|" + std::to_string(size), !photo->image.hash.empty(), [&] {
        DecodeOptions decode;
        decode.min_long_side_px = face_crop_min_long_side(b, std::max(photo->image.width, photo->image.height), size);
        return jpeg(face_crop(decode_image_file(photo->image.path, decode), b, size));
      });
    });
  });

  // ---- people (docs/API.md, "People") ----
  // Reads use a lent handle. Changes are refused while an index run goes (it regroups the faces), else
  // made one at a time on a handle opened for editing (an SQLite open, no networks), each in one
  // transaction of the core; the lent handles see them at their next read.
  auto edit = [&s](const std::function<void(Library&)>& change) {
    {
      std::lock_guard lock(s.index_mutex);
      if (s.indexing)
        throw HttpFailure({409, "busy", "the library is being indexed: its people change with it",
                           "change people when the run is over (GET /api/v1/index/events)"});
    }
    std::lock_guard lock(s.edit_mutex);
    // A library older than people is upgraded by its first change; handles opened before keep reading it
    // as it was (no people), so searches move to the library as it is now, as after a re-index.
    const bool upgrades = s.readers.take()->status().schema_version < 2;
    {
      Library library = Library::open_for_editing(s.options.db, s.options.pack);
      change(library);
    }
    if (upgrades) {
      SearchRequest reopen;
      reopen.pack = s.options.pack;
      reopen.index = s.options.index;
      s.readers.replace(Library::open_for_search(s.options.db, reopen));
    }
  };

  http.Get("/api/v1/people", [&s](const httplib::Request& req, httplib::Response& res) {
    const bool with_hidden = flag_param(req, "hidden");
    const auto library = s.readers.take();
    const std::vector<PersonRow> all = library->people(/*include_hidden=*/true);
    const LibraryStatus st = library->status();
    Json list = Json::array();
    size_t hidden = 0;
    for (const PersonRow& p : all) {
      if (p.hidden) ++hidden;
      if (!p.hidden || with_hidden) list.push_back(person_json(p));
    }
    send_json(res, {{"people", std::move(list)},
                    {"total", all.size()},
                    {"hidden", hidden},
                    {"named", st.named_people},
                    {"faces", st.faces},
                    {"faces_with_person", st.faces_with_person},
                    {"unassigned", st.faces - st.faces_with_person}});
  });

  http.Get("/api/v1/people/unassigned", [&s, heavy](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      const int limit = int_param(req, "limit", 200, 1, 10000);
      const auto library = s.readers.take();
      Json faces = Json::array();
      for (const PersonFace& f : library->unassigned_faces(static_cast<size_t>(limit))) faces.push_back(person_face_json(f, 0));
      const LibraryStatus st = library->status();
      send_json(res, {{"faces", std::move(faces)}, {"total", st.faces - st.faces_with_person}, {"limit", limit}});
    });
  });

  http.Get(R"(/api/v1/people/(\d+))", [&s, heavy](const httplib::Request& req, httplib::Response& res) {
    heavy(res, [&] {
      const auto id = parse_id(req.matches[1]);
      if (!id) throw Error(ErrorCode::kNotFound, "no person " + std::string(req.matches[1]) + " in the library");
      const PersonDetail detail = s.readers.take()->person_detail(*id);
      Json j = person_json(detail.person);
      Json faces = Json::array();
      for (const PersonFace& f : detail.faces) faces.push_back(person_face_json(f, detail.person.cover_face_id));
      j["face_list"] = std::move(faces);
      send_json(res, j);
    });
  });

  // Rename, hide or show, choose the cover face: {"name": "Anna", "hidden": false, "cover_face_id": 12}.
  auto change_person = [edit](const httplib::Request& req, httplib::Response& res) {
    const auto id = parse_id(req.matches[1]);
    if (!id) throw Error(ErrorCode::kNotFound, "no person " + std::string(req.matches[1]) + " in the library");
    const std::string example = R"({"name": "Anna"}, {"hidden": true} or {"cover_face_id": 12})";
    const Json body = json_object_body(req, example);
    if (body.empty()) throw Error(ErrorCode::kInvalidArgument, "nothing to change: give " + example);
    for (auto it = body.begin(); it != body.end(); ++it)
      if (it.key() != "name" && it.key() != "hidden" && it.key() != "cover_face_id")
        throw Error(ErrorCode::kInvalidArgument, "a person has no field " + it.key() + " to change: give " + example);
    if (body.contains("name") && !body["name"].is_string())
      throw Error(ErrorCode::kInvalidArgument, "name must be a string (\"\" takes the name away)");
    if (body.contains("hidden") && !body["hidden"].is_boolean())
      throw Error(ErrorCode::kInvalidArgument, "hidden must be true or false");
    std::int64_t cover = 0;
    if (body.contains("cover_face_id")) {
      const Json& c = body["cover_face_id"];
      if (!c.is_null() && !(c.is_number_integer() && c.get<std::int64_t>() >= 0))
        throw Error(ErrorCode::kInvalidArgument, "cover_face_id must be a face's id of the person (0 or null: none chosen)");
      if (!c.is_null()) cover = c.get<std::int64_t>();
    }
    PersonRow after;
    edit([&](Library& library) {
      library.find_person(std::to_string(*id));  // 404, naming where the people are listed
      if (body.contains("name")) {
        const std::string name = body["name"].get<std::string>();
        // A name another person has: 409, naming that person (the core says 400 for every broken rule).
        if (const std::string clean = trimmed(name); !clean.empty() && !only_digits(clean)) {
          std::optional<PersonRow> other;
          try {
            other = library.find_person(clean);
          } catch (const Error&) {
          }
          if (other && other->id != *id)
            throw HttpFailure({409, "name_taken",
                               "person " + std::to_string(other->id) + " is named \"" + other->name + "\" already",
                               "if they are one person, merge them: POST /api/v1/people/merge"});
        }
        library.name_person(*id, name);
      }
      if (body.contains("cover_face_id")) library.set_person_cover(*id, cover);
      if (body.contains("hidden")) library.hide_person(*id, body["hidden"].get<bool>());
      after = library.find_person(std::to_string(*id));
    });
    send_json(res, person_json(after));
  };
  http.Patch(R"(/api/v1/people/(\d+))", change_person);
  http.Post(R"(/api/v1/people/(\d+))", change_person);

  http.Post("/api/v1/people/merge", [edit](const httplib::Request& req, httplib::Response& res) {
    const std::string example = R"({"people": [12, 31, 40]} (the others are merged into the first))";
    const Json body = json_object_body(req, example);
    if (!body.contains("people") || !body["people"].is_array() || body["people"].size() < 2)
      throw Error(ErrorCode::kInvalidArgument, "a merge needs two people or more: " + example);
    std::vector<std::int64_t> ids;
    for (const Json& p : body["people"]) ids.push_back(person_id_in(p, "each of people"));
    MergeReport report;
    edit([&](Library& library) { report = library.merge_people(ids); });  // the person kept keeps its picture
    send_json(res, {{"person", person_json(report.person)},
                    {"merged", report.merged},
                    {"faces_left_out", report.faces_left_out}});
  });

  // "This face is that person" ({"person": ID}) or someone new ({"person": "new"}): kept there for good.
  http.Post(R"(/api/v1/faces/(\d+)/person)", [edit](const httplib::Request& req, httplib::Response& res) {
    const auto face = parse_id(req.matches[1]);
    if (!face) throw Error(ErrorCode::kNotFound, "no face " + std::string(req.matches[1]) + " in the library");
    const std::string example = R"({"person": 12} or {"person": "new"})";
    const Json body = json_object_body(req, example);
    if (!body.contains("person")) throw Error(ErrorCode::kInvalidArgument, "say which person: " + example);
    std::optional<std::int64_t> target;
    if (!(body["person"].is_string() && body["person"].get<std::string>() == "new"))
      target = person_id_in(body["person"], "person (or \"new\")");
    PersonRow person;
    edit([&](Library& library) {
      const std::int64_t id = library.move_face(*face, target);
      person = library.find_person(std::to_string(id));
    });
    send_json(res, {{"face_id", *face}, {"person", person_json(person)}});
  });

  // "This face is not its person": taken out, and never put back there.
  http.Post(R"(/api/v1/faces/(\d+)/reject)", [edit](const httplib::Request& req, httplib::Response& res) {
    const auto face = parse_id(req.matches[1]);
    if (!face) throw Error(ErrorCode::kNotFound, "no face " + std::string(req.matches[1]) + " in the library");
    std::int64_t left = 0;
    std::optional<PersonRow> person;
    edit([&](Library& library) {
      left = library.reject_face(*face);
      try {
        person = library.find_person(std::to_string(left));  // no longer shown by that face (the core clears its cover)
      } catch (const Error&) {
        // an unnamed person left with no face is gone
      }
    });
    send_json(res, {{"face_id", *face}, {"person_id", left}, {"person", person ? person_json(*person) : Json(nullptr)}});
  });
}

Server::~Server() {
  if (!state_) return;
  state_->cancel_index = true;
  state_->http.stop();
  if (state_->index_thread.joinable()) state_->index_thread.join();
  std::error_code ec;
  fs::remove_all(state_->upload_dir, ec);
}

int Server::bind() {
  State& s = *state_;
  const std::string host = s.options.host == "localhost" ? "127.0.0.1" : s.options.host;
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(host);
  } else {
    s.port = s.http.bind_to_port(host, s.options.port) ? s.options.port : -1;
  }
  if (s.port <= 0)
    throw Error(ErrorCode::kIo, "cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                                    " (in use, or not an address of this machine)");
  widen_listen_backlog(s.port);
  return s.port;
}

void Server::run() { state_->http.listen_after_bind(); }

void Server::stop() { state_->http.stop(); }

std::string Server::url() const {
  const std::string host = state_->options.host.find(':') != std::string::npos ? "[" + state_->options.host + "]" : state_->options.host;
  std::string u = "http://" + host + ":" + std::to_string(state_->port) + "/";
  if (!state_->options.token.empty()) u += "?token=" + state_->options.token;
  return u;
}

const Library& Server::library() const { return state_->readers.current(); }

}  // namespace facesearch::server
