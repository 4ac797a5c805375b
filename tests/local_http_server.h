// A tiny HTTP/1.1 server on 127.0.0.1 for tests of downloads (plain POSIX sockets, one connection at a
// time, on its own thread). It serves a set of files by path, honouring "Range: bytes=N-" (206, or 416
// past the end) unless told to ignore ranges; any other path is 404. It can be told to send only part of
// the next body (with the full Content-Length announced), then close the connection or stall until the
// client gives up. Every request's path and Range header are recorded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace facesearch::testing {

class LocalHttpServer {
 public:
  // `files`: URL path ("/pack.bin") -> body.
  explicit LocalHttpServer(std::map<std::string, std::string> files) : files_(std::move(files)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 8) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (listen_fd_ >= 0) close(listen_fd_);
      throw std::runtime_error("test server: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LocalHttpServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // The next response sends only `bytes` of its body, then closes (or stalls, keeping the connection open).
  void cut_next_body(std::size_t bytes, bool stall = false) {
    std::lock_guard lock(mutex_);
    cut_after_ = bytes;
    stall_ = stall;
  }
  void ignore_ranges(bool ignore) {
    std::lock_guard lock(mutex_);
    ignore_ranges_ = ignore;
  }
  // The Range header of every request so far ("" when it had none).
  std::vector<std::string> ranges_seen() {
    std::lock_guard lock(mutex_);
    return ranges_seen_;
  }
  // The path of every request so far.
  std::vector<std::string> paths_seen() {
    std::lock_guard lock(mutex_);
    return paths_seen_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      handle(fd);
      shutdown(fd, SHUT_WR);
      close(fd);
    }
  }

  static bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      const ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data += sent;
      n -= static_cast<std::size_t>(sent);
    }
    return true;
  }

  void handle(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const std::string path = request.substr(4, request.find(' ', 4) - 4);  // "GET /path HTTP/1.1"
    std::string range;
    for (const std::string key : {"\r\nRange: ", "\r\nrange: "}) {
      if (const auto at = request.find(key); at != std::string::npos) {
        range = request.substr(at + key.size(), request.find("\r\n", at + key.size()) - at - key.size());
      }
    }
    std::optional<std::size_t> cut;
    bool stall = false, ignore = false;
    const std::string* body = nullptr;
    {
      std::lock_guard lock(mutex_);
      ranges_seen_.push_back(range);
      paths_seen_.push_back(path);
      cut = std::exchange(cut_after_, std::nullopt);
      stall = std::exchange(stall_, false);
      ignore = ignore_ranges_;
      if (const auto it = files_.find(path); it != files_.end()) body = &it->second;
    }
    if (!body) {
      const std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n";
      send_all(fd, answer.data(), answer.size());
      return;
    }
    std::size_t start = 0;
    std::string head;
    unsigned long long from = 0;
    if (!ignore && std::sscanf(range.c_str(), "bytes=%llu-", &from) == 1) {
      if (from >= body->size()) {
        head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + std::to_string(body->size()) +
               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(fd, head.data(), head.size());
        return;
      }
      start = from;
      head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(start) + "-" +
             std::to_string(body->size() - 1) + "/" + std::to_string(body->size()) + "\r\n";
    } else {
      head = "HTTP/1.1 200 OK\r\n";
    }
    head += "Content-Length: " + std::to_string(body->size() - start) + "\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, head.data(), head.size())) return;
    const std::size_t length = std::min(body->size() - start, cut.value_or(body->size()));
    if (!send_all(fd, body->data() + start, length)) return;
    while (stall && !stop_) {  // hold the connection open, silent, until the client hangs up
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) > 0 && recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
  }

  const std::map<std::string, std::string> files_;  // fixed at construction: read without the lock
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::optional<std::size_t> cut_after_;
  bool stall_ = false;
  bool ignore_ranges_ = false;
  std::vector<std::string> ranges_seen_;
  std::vector<std::string> paths_seen_;
};

}  // namespace facesearch::testing
