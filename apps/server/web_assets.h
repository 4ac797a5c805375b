// The web page's files (apps/web), compiled into the binary at build time by embed_assets.cmake: the
// server needs no files beside it and no network.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace facesearch::server {

struct WebAsset {
  std::string path;          // "/index.html", "/app.js", "/style.css"
  std::string_view content;
  const char* mime;
};

std::span<const WebAsset> web_assets();

}  // namespace facesearch::server
