#include "library/pack_install.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "library/pack_verify.h"  // add_pack installs only a pack that loads (see pack_install.h)
#include "models/pack_detail.h"
#include "models/pack_fetch.h"

namespace facesearch {
namespace fs = std::filesystem;
using nlohmann::json;
using pack_detail::cache_home;
using pack_detail::describe_uncached;
using pack_detail::fnv_hex;
using pack_detail::lower;
using pack_detail::onnx_files;
using pack_detail::pack_files_folder;
using pack_detail::valid_pack_name;

namespace {

// Removes a folder tree when it goes out of scope (the staging area of add_pack).
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

void copy_file_checked(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string url_file_name(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(slash + 1);
}

}  // namespace

AddedPack add_pack(const std::string& source, const AddPackOptions& options) {
  std::error_code ec;
  const std::string expected = lower(options.expected_sha256);
  if (!expected.empty() && (expected.size() != 64 || expected.find_first_not_of("0123456789abcdef") != std::string::npos))
    throw Error(ErrorCode::kInvalidArgument,
                "the expected SHA-256 must be 64 hex digits, not '" + options.expected_sha256 + "'",
                Hint{Remedy::kPackChecksumFormat});

  fs::create_directories(packs_root(), ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create " + packs_root().string() + ": " + ec.message());
  // Staging folders of adds and removals that were killed (their process is gone) are removed.
  for (const auto& e : fs::directory_iterator(packs_root(), ec)) {
    const std::string n = e.path().filename().string();
    const size_t prefix = n.rfind(".adding-", 0) == 0 ? 8 : n.rfind(".removing-", 0) == 0 ? 10 : 0;
    if (prefix == 0) continue;
    const long pid = std::strtol(n.c_str() + prefix, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  RemoveOnExit staging{packs_root() / (".adding-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))};
  fs::create_directories(staging.path, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot write in " + packs_root().string() + ": " + ec.message());

  fs::path folder;        // the pack's files
  std::string default_name;
  fs::path zip;
  if (is_url(source)) {
    const std::string file = url_file_name(source);
    if (file.size() < 5 || lower(file.substr(file.size() - 4)) != ".zip")
      throw Error(ErrorCode::kInvalidArgument, source + ": a model pack URL must name a .zip file");
    // One folder per URL: a .part is only ever resumed from the URL it came from.
    const fs::path downloads = cache_home() / "downloads" / fnv_hex(source);
    zip = downloads / file;
    // A complete download is kept only when the install failed after it (a name already taken, say),
    // and used again by the next try: when it has the checksum asked for, or when none is asked.
    if (!fs::is_regular_file(zip, ec) || (!expected.empty() && sha256_file(zip) != expected)) {
      DownloadOptions d;
      d.expected_sha256 = expected;
      if (options.progress) d.progress = [&](const DownloadProgress& p) { options.progress(p.received, p.total); };
      download_file(source, zip, d);
    }
    default_name = file.substr(0, file.size() - 4);
  } else {
    if (source.find("://") != std::string::npos)
      throw Error(ErrorCode::kInvalidArgument, source + ": only http:// and https:// URLs can be downloaded");
    const fs::path path = source;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::kNotFound, source + ": no such file or folder");
    if (fs::is_directory(path, ec)) {
      if (!expected.empty())
        throw Error(ErrorCode::kInvalidArgument,
                    "an expected SHA-256 checks a .zip file or a download, not a folder (" + source + ")",
                    Hint{Remedy::kPackChecksumNotForFolder});
      const fs::path given = fs::absolute(path, ec).lexically_normal();
      default_name = given.filename().string();
      if (default_name.empty()) default_name = given.parent_path().filename().string();
      const auto files = pack_files_folder(given);
      if (!files) throw Error(ErrorCode::kModel, "model pack folder " + given.string() + " holds no .onnx files (nor one folder of them)");
      folder = *files;
    } else {
      zip = path;
      default_name = path.stem().string();
      if (!expected.empty()) {
        const std::string actual = sha256_file(zip);
        if (actual != expected)
          throw Error(ErrorCode::kIo, source + ": sha256 is " + actual + ", expected " + expected + "; not installed");
      }
    }
  }
  if (!zip.empty()) {
    const fs::path extracted = staging.path / "extracted";
    extract_zip(zip, extracted);
    const auto files = pack_files_folder(extracted);
    if (!files)
      throw Error(ErrorCode::kModel, zip.filename().string() +
                                         " holds no model pack (no .onnx files at its top or in one folder)");
    folder = *files;
    if (folder != extracted) default_name = folder.filename().string();
  }

  const std::string name = options.name.empty() ? default_name : options.name;
  if (!valid_pack_name(name))
    throw Error(ErrorCode::kInvalidArgument, "'" + name + "' is not a usable pack name (letters, digits, '.', '_', '-')",
                Hint{Remedy::kChoosePackName});
  const fs::path target = packs_root() / name;
  if (fs::exists(target, ec) && !options.replace)
    throw Error(ErrorCode::kInvalidArgument,
                "a model pack named " + name + " is installed already (" + target.string() + ")",
                Hint{Remedy::kReplaceOrRenamePack});

  const fs::path built = staging.path / "pack";
  fs::create_directories(built, ec);
  AddedPack added;
  if (fs::exists(folder / "manifest.json")) {
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (e.is_regular_file()) copy_file_checked(e.path(), built / e.path().filename());
    // The manifest's own name wins unless --name says otherwise.
    std::ifstream in(built / "manifest.json");
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded()) throw Error(ErrorCode::kModel, (folder / "manifest.json").string() + ": not valid JSON");
    j["name"] = name;
    std::ofstream(built / "manifest.json") << j.dump(2) << '\n';
  } else {
    // Not through the cache: the folder may be a staging copy, described once.
    const std::string description = describe_uncached(folder, name, onnx_files(folder), /*remember=*/false);
    json j = json::parse(description);
    for (const char* part : {"detector", "embedder"}) {
      const std::string file = j[part]["file"].get<std::string>();
      copy_file_checked(folder / file, built / file);
    }
    for (const auto& u : j["unused"]) added.skipped.push_back(u["file"].get<std::string>());
    j.erase("unused");
    j["source"] = is_url(source) ? "downloaded from " + source : "copied from " + source;
    std::ofstream out(built / "manifest.json");
    out << j.dump(2) << '\n';
    if (!out.flush()) throw Error(ErrorCode::kIo, "cannot write " + (built / "manifest.json").string());
  }
  added.pack = load_model_pack(built);  // checks the manifest and that its files are there
  for (const auto& check : verify_pack(added.pack))
    if (!check.ok) throw Error(ErrorCode::kModel, check.file.string() + ": " + check.detail + "; not installed");

  if (fs::exists(target, ec)) {
    fs::rename(target, staging.path / "replaced", ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot replace " + target.string() + ": " + ec.message());
  }
  if (options.replace) {
    fs::rename(built, target, ec);
  } else if (::renameat2(AT_FDCWD, built.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    // Another `models add` of the same name finished first.
    ec = std::error_code(errno, std::generic_category());
    if (errno == EEXIST || errno == ENOTEMPTY)
      throw Error(ErrorCode::kInvalidArgument,
                  "a model pack named " + name + " was installed meanwhile (" + target.string() + ")",
                  Hint{Remedy::kReplacePack});
  }
  if (ec) {
    std::error_code ignored;
    if (fs::exists(staging.path / "replaced")) fs::rename(staging.path / "replaced", target, ignored);
    throw Error(ErrorCode::kIo, "cannot move the pack into " + target.string() + ": " + ec.message());
  }
  added.pack = load_model_pack(target);
  added.entry = {name, target, PackSource::kInstalled};
  if (is_url(source)) {  // installed: the download has served its purpose
    fs::remove(zip, ec);
    fs::remove(zip.parent_path(), ec);  // only when empty
  }
  return added;
}

fs::path remove_pack(const std::string& name) {
  const PackEntry entry = require_pack(name);
  if (entry.source != PackSource::kInstalled)
    throw Error(ErrorCode::kInvalidArgument, "model pack " + name + " is the folder " + entry.dir.string() +
                                                 ", which facesearch uses in place but did not install; delete it "
                                                 "yourself if you mean to");
  // Moved aside first, so that an interrupted removal never leaves a half pack under the name.
  std::error_code ec;
  const fs::path aside = packs_root() / (".removing-" + std::to_string(::getpid()) + "-" + name);
  fs::rename(entry.dir, aside, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot remove " + entry.dir.string() + ": " + ec.message());
  fs::remove_all(aside, ec);
  return entry.dir;
}

}  // namespace facesearch
