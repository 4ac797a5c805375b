#include "models_command.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <vector>

#include "core/error.h"
#include "flags.h"
#include "library/model_packs.h"
#include "output.h"
#include "progress.h"
#include "terminal_text.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kModelsFooter = R"(Model packs:
  A pack is a face detector and a face recogniser (plus what aligns faces between them), with the
  similarity scale and default threshold that go with them. A library is bound to the pack that
  built it; `facesearch index --rebuild --model NAME` re-indexes it with another.
  - mobilefacenet-faceapi (default): face-api.js's SSD and 68-point landmarks, MediaPipe's
    BlazeFace, and a MobileFaceNet recogniser (512 numbers, ArcFace alignment); MIT/Apache-2.0
    weights (the recogniser's training data is not documented); built by `make setup`.
  - dlib-faceapi: the same detectors with dlib's ResNet descriptor (the default before; libraries
    built with it keep using it); MIT/CC0/Apache-2.0 weights; built by `make setup`.
  - InsightFace packs (buffalo_l, buffalo_s, antelopev2, ...): SCRFD + ArcFace, run exactly as
    insightface 0.7 runs them. Packs in ~/.insightface/models/NAME are used in place, without
    copying ($FACESEARCH_INSIGHTFACE_ROOT names another folder). Their weights are licensed for
    NON-COMMERCIAL RESEARCH ONLY.
  - OpenCV zoo: YuNet (face_detection_yunet_2023mar.onnx) + SFace
    (face_recognition_sface_2021dec.onnx) in one folder; MIT and Apache-2.0.
  Installed packs live in ${XDG_DATA_HOME:-~/.local/share}/facesearch/models/NAME. A download goes
  to ${XDG_CACHE_HOME:-~/.cache}/facesearch/downloads first; an interrupted one resumes when the same
  command runs again, and the zip is deleted once the pack is installed. `verify` checks an installed
  pack against its manifest's checksums, an InsightFace folder against the checksums its files had
  when facesearch first saw them.

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
       recogniser; verify: a file is missing, changed or does not load; the output could not be
       written (a full disk)
  2    usage error, also: add of a name already installed (without --replace), remove of a pack
       facesearch did not install
)";

int run_list(const ModelsArgs& args) {
  std::vector<PackListing> packs;
  for (const auto& entry : list_packs()) {
    PackListing listing{entry, std::nullopt, {}};
    try {
      listing.pack = load_pack_folder(entry.dir, entry.name);
    } catch (const Error& e) {
      listing.problem = e.what();
    }
    packs.push_back(std::move(listing));
  }
  if (args.format == "json") {
    write_packs_json(std::cout, packs);
  } else {
    write_packs_table(std::cout, packs);
  }
  return 0;
}

int run_show(const ModelsArgs& args) {
  const PackEntry entry = require_pack(args.name);
  const ModelPack pack = load_pack_folder(entry.dir, entry.name);
  if (args.format == "json") {
    write_pack_json(std::cout, entry, pack);
  } else {
    write_pack_details(std::cout, entry, pack);
  }
  return 0;
}

int run_add(const ModelsArgs& args) {
  AddPackOptions options;
  options.name = args.as_name;
  options.expected_sha256 = args.sha256;
  options.replace = args.replace;
  DownloadProgressLine progress(!args.quiet, stderr);
  options.progress = [&](std::uint64_t received, std::uint64_t total) { progress.update(received, total); };
  const AddedPack added = add_pack(args.source, options);
  progress.finish();
  const ModelPack& p = added.pack;
  const std::string name = printable(p.name);
  std::cout << "Installed model pack " << name << " in " << printable(added.entry.dir) << ": "
            << printable(p.description) << '\n';
  if (!added.skipped.empty()) {
    std::cout << "Not copied (not used by search):";
    for (const auto& f : added.skipped) std::cout << ' ' << printable(f);
    std::cout << '\n';
  }
  std::cout << "Use it with: facesearch index --model " << name << " FOLDER   or   facesearch search --model " << name
            << " -q PHOTO -t FOLDER\n";
  if (const std::string note = licence_note(p); !note.empty())
    std::cerr << "facesearch: note: " << printable(note) << '\n';
  return 0;
}

int run_verify(const ModelsArgs& args) {
  const ModelPack pack = load_named_pack(args.name);
  const auto checks = verify_pack(pack);
  if (args.format == "json") {
    write_pack_checks_json(std::cout, pack, checks);
  } else {
    write_pack_checks_table(std::cout, pack, checks);
  }
  return std::all_of(checks.begin(), checks.end(), [](const PackCheck& c) { return c.ok; }) ? 0 : 1;
}

int run_remove(const ModelsArgs& args) {
  const fs::path dir = remove_pack(args.name);
  std::cout << "Removed model pack " << printable(args.name) << " (" << printable(dir) << ")\n";
  if (args.name == kDefaultPackName) std::cout << "Run `make setup` (tools/setup.sh) to build it again.\n";
  return 0;
}

// A subcommand that names one pack (show, verify, remove).
CLI::App* add_pack_subcommand(CLI::App& models, const char* name, const char* description, ModelsArgs& args) {
  CLI::App* sub = models.add_subcommand(name, description);
  sub->allow_extras();
  sub->add_option("name", args.name, "Pack name, as `models list` shows")->type_name("NAME")->required();
  return sub;
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

  args.show = add_pack_subcommand(*models, "show", "What a pack is: files, input normalisation, threshold, licence", args);
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

  args.verify = add_pack_subcommand(*models, "verify", "Check a pack: files present, checksums as recorded, models load", args);
  add_format_option(*args.verify, args.format, {"table", "json"}, "Output format (default table; json for programs)");

  args.remove = add_pack_subcommand(
      *models, "remove", "Delete an installed pack (never an InsightFace folder; libraries built with it keep their faces)",
      args);
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
