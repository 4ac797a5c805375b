#include "models_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "flags.h"
#include "models/pack_registry.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kModelsFooter = R"(Model packs:
  A pack is a face detector and a face recogniser (plus what aligns faces between them), with the
  similarity scale and default threshold that go with them. A library is bound to the pack that
  built it; `facesearch index --rebuild --model NAME` re-indexes it with another.
  - dlib-faceapi (default): face-api.js's SSD and 68-point landmarks, MediaPipe's BlazeFace, and
    dlib's ResNet descriptor; MIT/CC0/Apache-2.0 weights; built by `make setup`.
  - InsightFace packs (buffalo_l, buffalo_s, antelopev2, ...): SCRFD + ArcFace, run exactly as
    insightface 0.7 runs them. Packs in ~/.insightface/models/NAME are used in place, without
    copying ($FACESEARCH_INSIGHTFACE_ROOT names another folder). Their weights are licensed for
    NON-COMMERCIAL RESEARCH ONLY.
  - OpenCV zoo: YuNet (face_detection_yunet_2023mar.onnx) + SFace
    (face_recognition_sface_2021dec.onnx) in one folder; MIT and Apache-2.0.
  Installed packs live in ${XDG_DATA_HOME:-~/.local/share}/facesearch/models/NAME.

Examples:
  facesearch models list
  facesearch models show buffalo_l
  facesearch models add ~/Downloads/buffalo_l.zip
  facesearch models add https://example.org/packs/buffalo_l.zip --sha256 HEX
  facesearch models add ~/opencv_zoo_faces --name yunet-sface
  facesearch models verify buffalo_l
  facesearch models remove my-pack
  facesearch search --model buffalo_l -q me.jpg -t ~/Pictures

Exit status:
  0    done (verify: every file is intact and loads)
  1    it could not be done: no such pack, a download failed or was interrupted (run the same
       command again to resume), a checksum did not match, a folder or zip without a detector and a
       recogniser; verify: a file is missing, changed or does not load
  2    usage error, also: add of a name already installed (without --replace), remove of a pack
       facesearch did not install
)";

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string normalisation(const InputSpec& in) {
  std::ostringstream s;
  s << (in.rgb ? "RGB" : "BGR") << ", ";
  if (in.mean[0] == 0 && in.mean[1] == 0 && in.mean[2] == 0 && in.scale == 1.f) {
    s << "raw 0..255";
  } else {
    if (in.mean[0] == in.mean[1] && in.mean[1] == in.mean[2]) {
      s << "(x - " << in.mean[0] << ")";
    } else {
      s << "(x - (" << in.mean[0] << ", " << in.mean[1] << ", " << in.mean[2] << "))";
    }
    s << " * " << in.scale;
    if (in.scale > 0) s << " (= /" << fixed(1.0 / in.scale, 1) << ")";
  }
  return s.str();
}

json network_json(const NetworkSpec& n) {
  return {{"kind", n.kind},
          {"file", n.file.string()},
          {"sha256", n.sha256},
          {"input_size", {n.input.width, n.input.height}},
          {"color", n.input.rgb ? "rgb" : "bgr"},
          {"mean", n.input.mean},
          {"scale", n.input.scale}};
}

json pack_json(const PackEntry& entry, const ModelPack& p) {
  json j{{"name", p.name},
         {"dir", entry.dir.string()},
         {"source", pack_source_name(entry.source)},
         {"origin", p.source},
         {"description", p.description},
         {"license", p.license},
         {"non_commercial", p.non_commercial},
         {"default", p.name == kDefaultPackName},
         {"metric", metric_name(p.metric)},
         {"threshold", p.threshold},
         {"threshold_source", p.threshold_source},
         {"fingerprint", p.fingerprint},
         {"aligner", {{"kind", p.aligner.kind}, {"size", p.aligner.size}}}};
  j["detector"] = network_json(p.detector);
  j["detector"]["score_threshold"] = p.detector.score_threshold;
  j["detector"]["nms_iou"] = p.detector.nms_iou;
  if (p.fast_detector) j["fast_detector"] = network_json(*p.fast_detector);
  if (p.landmarker) j["landmarker"] = network_json(*p.landmarker);
  j["embedder"] = network_json(p.embedder);
  j["embedder"]["dim"] = p.embedder.dim;
  return j;
}

int run_list(const ModelsArgs& args) {
  const auto packs = list_packs();
  json all = json::array();
  struct Row {
    PackEntry entry;
    std::optional<ModelPack> pack;
    std::string problem;
  };
  std::vector<Row> rows;
  for (const auto& entry : packs) {
    Row row{entry, std::nullopt, {}};
    try {
      row.pack = load_pack_folder(entry.dir, entry.name);
    } catch (const Error& e) {
      row.problem = e.what();
    }
    rows.push_back(std::move(row));
  }
  if (args.format == "json") {
    for (const auto& r : rows) {
      if (r.pack) {
        all.push_back(pack_json(r.entry, *r.pack));
      } else {
        all.push_back({{"name", r.entry.name},
                       {"dir", r.entry.dir.string()},
                       {"source", pack_source_name(r.entry.source)},
                       {"error", r.problem}});
      }
    }
    std::cout << json{{"packs", all}, {"installed_in", packs_root().string()},
                      {"insightface_root", insightface_models_root().string()}}.dump(2)
              << '\n';
    return 0;
  }
  if (rows.empty()) {
    std::cout << "No model packs: run `make setup` for the default one, put InsightFace packs in "
              << insightface_models_root().string() << ", or add one with `facesearch models add`\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table{{"NAME", "SOURCE", "DETECTOR", "RECOGNISER", "THRESHOLD", "LICENCE"}};
  for (const auto& r : rows) {
    std::vector<std::string> cells{r.entry.name + (r.entry.name == kDefaultPackName ? " *" : ""),
                                   pack_source_name(r.entry.source)};
    if (!r.pack) {
      cells.push_back("unusable: " + r.problem);
    } else {
      const ModelPack& p = *r.pack;
      cells.push_back(p.detector.kind + (p.fast_detector ? "+" + p.fast_detector->kind : ""));
      cells.push_back(p.embedder.kind + " " + std::to_string(p.embedder.dim) + "-d");
      cells.push_back(fixed(p.threshold, 3));
      cells.push_back(p.non_commercial ? "non-commercial only" : "permissive");
    }
    table.push_back(std::move(cells));
  }
  std::vector<size_t> width(6, 0);
  for (const auto& row : table)
    if (row.size() == 6)
      for (size_t c = 0; c < 6; ++c) width[c] = std::max(width[c], row[c].size());
  for (const auto& row : table) {
    for (size_t c = 0; c < row.size(); ++c)
      std::cout << (c + 1 < row.size() ? row[c] + std::string(width[c] + 2 - std::min(width[c], row[c].size()), ' ') : row[c]);
    std::cout << '\n';
  }
  const bool has_default =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.entry.name == kDefaultPackName; });
  std::cout << (has_default ? "(* the default pack; " : "(the default pack, dlib-faceapi, is not installed: `make setup` builds it; ")
            << "`facesearch models show NAME` for details)\n";
  return 0;
}

int run_show(const ModelsArgs& args) {
  const auto entry = find_pack(args.name);
  if (!entry) load_named_pack(args.name);  // throws the "no pack named" message with the list
  const ModelPack p = load_pack_folder(entry->dir, entry->name);
  if (args.format == "json") {
    std::cout << pack_json(*entry, p).dump(2) << '\n';
    return 0;
  }
  auto network = [](const std::string& role, const NetworkSpec& n, const std::string& extra) {
    std::cout << std::left << std::setw(15) << role << n.kind << ": " << n.file.filename().string() << ", "
              << n.input.width << "x" << n.input.height << ", " << normalisation(n.input) << extra << '\n';
  };
  std::cout << std::left << std::setw(15) << "Pack" << p.name << (p.name == kDefaultPackName ? " (default)" : "") << '\n'
            << std::setw(15) << "Folder" << entry->dir.string() << " (" << pack_source_name(entry->source) << ")\n"
            << std::setw(15) << "What" << p.description << '\n';
  if (!p.source.empty()) std::cout << std::setw(15) << "From" << p.source << '\n';
  std::cout << std::setw(15) << "Licence" << p.license << '\n';
  network("Detector", p.detector,
          ", score >= " + fixed(p.detector.score_threshold, 2) + ", NMS IoU " + fixed(p.detector.nms_iou, 2));
  if (p.fast_detector) network("Fast detector", *p.fast_detector, "");
  if (p.landmarker) network("Landmarks", *p.landmarker, ", " + std::to_string(p.landmarker->points) + " points");
  std::cout << std::setw(15) << "Alignment" << p.aligner.kind << ", " << p.aligner.size << "x" << p.aligner.size
            << (p.landmarker ? "" : " (on the detector's 5 keypoints)") << '\n';
  network("Recogniser", p.embedder, ", " + std::to_string(p.embedder.dim) + " values per face");
  std::cout << std::setw(15) << "Similarity" << metric_name(p.metric) << ", match threshold " << fixed(p.threshold, 3);
  if (!p.threshold_source.empty()) std::cout << " (" << p.threshold_source << ")";
  std::cout << '\n' << std::setw(15) << "Fingerprint" << p.fingerprint << '\n';
  if (p.non_commercial)
    std::cout << "\nNote: this pack's weights are licensed for non-commercial research purposes only.\n";
  return 0;
}

// Download progress on stderr: redrawn in place on a terminal, a line per 10% otherwise.
class DownloadProgressLine {
 public:
  explicit DownloadProgressLine(bool enabled) : enabled_(enabled), terminal_(isatty(fileno(stderr)) == 1) {}
  ~DownloadProgressLine() { finish(); }
  void update(std::uint64_t received, std::uint64_t total) {
    if (!enabled_) return;
    const double mb = received / 1e6;
    std::string line = "[download] " + fixed(mb, 1) + " MB";
    int percent = -1;
    if (total > 0) {
      percent = int(100.0 * received / total);
      line += " of " + fixed(total / 1e6, 1) + " MB (" + std::to_string(percent) + "%)";
    }
    if (terminal_) {
      std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
      open_ = true;
    } else if (percent < 0 ? received >= next_bytes_ : percent >= next_percent_) {
      std::fprintf(stderr, "%s\n", line.c_str());
      next_percent_ = (percent / 10 + 1) * 10;
      next_bytes_ = received + (50u << 20);
    }
  }
  void finish() {
    if (open_) std::fputc('\n', stderr);
    open_ = false;
  }

 private:
  bool enabled_, terminal_;
  bool open_ = false;
  int next_percent_ = 0;
  std::uint64_t next_bytes_ = 0;
};

int run_add(const ModelsArgs& args) {
  AddPackOptions options;
  options.name = args.as_name;
  options.expected_sha256 = args.sha256;
  options.replace = args.replace;
  DownloadProgressLine progress(!args.quiet);
  options.progress = [&](std::uint64_t received, std::uint64_t total) { progress.update(received, total); };
  const AddedPack added = add_pack(args.source, options);
  progress.finish();
  const ModelPack& p = added.pack;
  std::cout << "Installed model pack " << p.name << " in " << added.entry.dir.string() << ": " << p.description << '\n';
  if (!added.skipped.empty()) {
    std::cout << "Not copied (not used by search):";
    for (const auto& f : added.skipped) std::cout << ' ' << f;
    std::cout << '\n';
  }
  std::cout << "Use it with: facesearch index --model " << p.name << " FOLDER   or   facesearch search --model " << p.name
            << " -q PHOTO -t FOLDER\n";
  if (const std::string note = licence_note(p); !note.empty()) std::cerr << "facesearch: note: " << note << '\n';
  return 0;
}

int run_verify(const ModelsArgs& args) {
  const ModelPack p = load_named_pack(args.name);
  const auto checks = verify_pack(p);
  bool ok = true;
  if (args.format == "json") {
    json items = json::array();
    for (const auto& c : checks) {
      items.push_back({{"role", c.role}, {"file", c.file.string()}, {"ok", c.ok}, {"detail", c.detail}});
      ok = ok && c.ok;
    }
    std::cout << json{{"pack", p.name}, {"ok", ok}, {"checks", items}}.dump(2) << '\n';
  } else {
    for (const auto& c : checks) {
      std::cout << (c.ok ? "ok    " : "FAIL  ") << std::left << std::setw(14) << c.role << c.file.filename().string()
                << ": " << c.detail << '\n';
      ok = ok && c.ok;
    }
    std::cout << (ok ? "Model pack " + p.name + " is intact.\n"
                     : "Model pack " + p.name + " has problems: add it again (`facesearch models add ... --replace`).\n");
  }
  return ok ? 0 : 1;
}

int run_remove(const ModelsArgs& args) {
  const fs::path dir = remove_pack(args.name);
  std::cout << "Removed model pack " << args.name << " (" << dir.string() << ")\n";
  if (args.name == kDefaultPackName) std::cout << "Run `make setup` (tools/setup.sh) to build it again.\n";
  return 0;
}

}  // namespace

CLI::App* add_models_command(CLI::App& app, ModelsArgs& args) {
  CLI::App* models = app.add_subcommand("models", "List, inspect, add, check and remove face model packs");
  models->footer(kModelsFooter);
  models->require_subcommand(1, 1);
  models->allow_extras();

  args.list = models->add_subcommand("list", "The packs you have: installed, and InsightFace's in ~/.insightface/models");
  args.list->allow_extras();
  add_format_option(*args.list, args.format, {"table", "json"}, "Output format (default table; json for programs)");

  args.show = models->add_subcommand("show", "What a pack is: files, input normalisation, threshold, licence");
  args.show->allow_extras();
  args.show->add_option("name", args.name, "Pack name, as `models list` shows")->type_name("NAME")->required();
  add_format_option(*args.show, args.format, {"table", "json"}, "Output format (default table; json for programs)");

  args.add = models->add_subcommand(
      "add", "Install a pack from a folder, a .zip, or an http(s) URL of a .zip (download resumes; --sha256 checks it)");
  args.add->allow_extras();
  args.add->add_option("source", args.source, "Folder, .zip file, or http(s):// URL of a .zip")
      ->type_name("FOLDER|ZIP|URL")
      ->required();
  args.add->add_option("--sha256", args.sha256, "Expected SHA-256 of the .zip or download (64 hex digits)")
      ->type_name("HEX");
  args.add->add_option("--name", args.as_name, "Install under this name (default: the folder's or zip's name)")
      ->type_name("NAME");
  args.add->add_flag("--replace", args.replace, "Replace an installed pack of the same name");
  args.add->add_flag("--quiet", args.quiet, "No download progress on stderr");

  args.verify = models->add_subcommand("verify", "Check a pack: files present, checksums as recorded, models load");
  args.verify->allow_extras();
  args.verify->add_option("name", args.name, "Pack name, as `models list` shows")->type_name("NAME")->required();
  add_format_option(*args.verify, args.format, {"table", "json"}, "Output format (default table; json for programs)");

  args.remove = models->add_subcommand(
      "remove", "Delete an installed pack (never an InsightFace folder; libraries built with it keep their faces)");
  args.remove->allow_extras();
  args.remove->add_option("name", args.name, "Pack name, as `models list` shows")->type_name("NAME")->required();
  return models;
}

void check_models_args(const CLI::App& models, const ModelsArgs& args) {
  throw_if_unknown_options(models);
  for (const CLI::App* sub : {args.list, args.show, args.add, args.verify, args.remove})
    if (sub && sub->parsed()) throw_if_unknown_options(*sub);
}

int run_models(const ModelsArgs& args) {
  if (args.list->parsed()) return run_list(args);
  if (args.show->parsed()) return run_show(args);
  if (args.add->parsed()) return run_add(args);
  if (args.remove->parsed()) return run_remove(args);
  return run_verify(args);
}

}  // namespace facesearch::cli
