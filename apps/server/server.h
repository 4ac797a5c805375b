// `facesearch serve`: a local web page and JSON API (docs/API.md) over a library. A front end on the
// core's library API (src/library/library.h), like the CLI: it maps core errors to HTTP statuses and
// JSON once (server.cpp), and never takes a path from a request (photos and faces are named by id).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "library/library.h"

namespace facesearch::server {

struct ServeOptions {
  std::filesystem::path db;
  PackRequest pack;                    // normally empty: the library's own pack
  // The library's saved HNSW graph when it has a current one (`index` saves one from 50,000 faces), else
  // the exact index: a server loads it once and answers each search several times faster.
  IndexKind index = IndexKind::kPreferSaved;
  std::string host = "127.0.0.1";
  int port = 8765;                     // 0: any free port (tests)
  std::string token;                   // required of every request when set; needed for non-loopback hosts
  int workers = 4;                     // heavy requests (searches, photos, crops) at once
  int queue = 16;                      // heavy requests waiting beyond those; more are refused (503)
  std::size_t max_upload_bytes = 25u << 20;
  std::int64_t max_pixels = 100'000'000;  // uploads whose header says more are refused (422)
  // Face crops and downscaled photos kept between requests and runs (image_cache.h); 0 bytes: none.
  std::filesystem::path cache_dir;     // empty: ImageCache::default_dir()
  std::uint64_t cache_max_bytes = 512ull << 20;
};

// True for 127.0.0.1 (any 127/8), ::1 and "localhost".
bool is_loopback_host(const std::string& host);

// 32 random hex digits from the system's random source.
std::string generate_token();

class Server {
 public:
  // Opens the library for search (core errors propagate: no library, damaged, missing pack). Throws
  // Error{kInvalidArgument} for a non-loopback host without a token.
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address; returns the port (the chosen one for port 0). Throws Error{kIo} when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal watcher); requests in flight finish.
  void run();
  void stop();

  // The address to open, with ?token= when one is needed.
  std::string url() const;
  const Library& library() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace facesearch::server
