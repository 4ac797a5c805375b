#include "library/pack_verify.h"

#include <functional>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "detect/detector.h"
#include "embed/embedder.h"
#include "models/onnx_session.h"
#include "models/pack_detail.h"
#include "models/pack_fetch.h"

namespace facesearch {
namespace fs = std::filesystem;
using nlohmann::json;
using pack_detail::first_seen_path;
using pack_detail::lower;
using pack_detail::read_first_seen;

std::vector<PackCheck> verify_pack(const ModelPack& pack) {
  std::vector<PackCheck> checks;
  auto check_network = [&](const std::string& role, const NetworkSpec& net, const std::function<std::string()>& load) {
    PackCheck c{role, net.file, true, {}};
    std::error_code ec;
    if (!fs::is_regular_file(net.file, ec)) {
      c.ok = false, c.detail = "missing";
      checks.push_back(c);
      return;
    }
    try {
      const std::string actual = sha256_file(net.file);
      // A described pack's manifest is re-made from the files as they are now: compare with the
      // checksum the file had when facesearch first saw it.
      std::string recorded = lower(net.sha256), since = "the manifest says";
      if (pack.described) {
        const json seen = read_first_seen();
        const auto it = seen.find(fs::absolute(net.file, ec).string());
        recorded = it != seen.end() ? it->value("sha256", std::string()) : std::string();
        since = it != seen.end() ? "it was " + it->value("sha256", std::string()) + " when first seen on " +
                                       it->value("first_seen", std::string("?"))
                                 : "";
      }
      if (!recorded.empty() && actual != recorded) {
        c.ok = false;
        c.detail = "sha256 is " + actual + ", " + (pack.described ? since : since + " " + recorded) +
                   " (the file changed or is damaged" +
                   (pack.described ? "; if you replaced it on purpose, delete " + first_seen_path().string() : "") + ")";
        checks.push_back(c);
        return;
      }
      c.detail = load() + (recorded.empty() ? ", no checksum recorded" : ", sha256 ok");
    } catch (const Error& e) {
      c.ok = false, c.detail = e.what();
    }
    checks.push_back(c);
  };
  const RuntimeOptions runtime;
  DetectorSpec reference_detector = pack.detector;  // the detector's own file, then its fitted graph
  reference_detector.fitted.reset();
  check_network("detector", pack.detector, [&] {
    const auto d = make_detector(reference_detector, runtime);
    return pack.detector.kind + " loads" + (d->keypoints() ? ", gives " + std::to_string(d->keypoints()) + " keypoints" : "");
  });
  if (pack.detector.fitted) {
    NetworkSpec fitted = pack.detector;
    fitted.file = pack.detector.fitted->file;
    fitted.sha256 = pack.detector.fitted->sha256;
    check_network("fitted detector", fitted, [&] {
      make_detector(pack.detector, runtime);
      return "the same network for " + std::to_string(pack.detector.fitted->input_sizes.size()) + " input sizes, loads";
    });
  }
  if (pack.fast_detector)
    check_network("fast detector", *pack.fast_detector, [&] {
      make_detector(*pack.fast_detector, runtime);
      return pack.fast_detector->kind + " loads";
    });
  if (pack.landmarker)
    check_network("landmarker", *pack.landmarker, [&] {
      OnnxSession s(pack.landmarker->file, runtime);
      return pack.landmarker->kind + " loads";
    });
  ModelPack reference = pack;  // the embedder's own file, then its faster graph (when the pack has one)
  reference.embedder.fast_file.clear();
  check_network("embedder", pack.embedder, [&] {
    const auto e = make_embedder(reference, runtime);
    return pack.embedder.kind + " loads, " + std::to_string(e->dim()) + " values per face";
  });
  if (!pack.embedder.fast_file.empty()) {
    NetworkSpec fast = pack.embedder;
    fast.file = pack.embedder.fast_file;
    fast.sha256 = pack.embedder.fast_sha256;
    check_network("fast embedder", fast, [&] {
      make_embedder(pack, runtime);
      return "a faster graph of the same network, loads";
    });
  }
  return checks;
}

}  // namespace facesearch
