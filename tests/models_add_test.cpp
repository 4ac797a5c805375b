// `facesearch models add` end to end, through the real binary: packs from .zip files (files at the root, as
// InsightFace's release zips, or in one top folder) and from http:// URLs served by an in-process server on
// 127.0.0.1 (checksums, progress, interrupted downloads that resume, 404s), and the usage errors. Each test
// runs the binary with a private HOME/XDG_DATA_HOME/XDG_CACHE_HOME and an empty InsightFace root, so the
// only packs it finds are the ones the test installs.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zip.h>

#include "local_http_server.h"
#include "models/pack_fetch.h"
#include "test_support.h"

namespace facesearch {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

const fs::path kBuffaloL = fs::path(FACESEARCH_SYNTHETIC_MODELS_DIR) / "insightface" / "buffalo_l";
const std::vector<std::string> kBuffaloFiles = {"det_10g.onnx", "w600k_r50.onnx", "1k3d68.onnx", "2d106det.onnx",
                                                "genderage.onnx"};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Writes a zip of (name, content) entries; names ending in '/' are folders. Everything is stored
// uncompressed, so the archive is about as long as its contents.
void make_zip(const fs::path& file, const std::vector<std::pair<std::string, std::string>>& items) {
  int error = 0;
  zip_t* archive = zip_open(file.string().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr) << file;
  for (const auto& [name, content] : items) {
    if (name.back() == '/') {
      ASSERT_GE(zip_dir_add(archive, name.c_str(), ZIP_FL_ENC_UTF_8), 0) << zip_strerror(archive);
      continue;
    }
    zip_source_t* source = zip_source_buffer(archive, content.data(), content.size(), 0);
    ASSERT_NE(source, nullptr);
    const zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(archive);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0) << file;
}

// 256 KiB of LCG bytes: a README that makes the zips long enough to cut a download in the middle.
std::string padding() {
  std::string bytes(256 * 1024, '\0');
  std::uint32_t x = 2024;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

// The synthetic buffalo_l files, each under `prefix`, after a README.
std::vector<std::pair<std::string, std::string>> buffalo_entries(const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> items;
  if (!prefix.empty()) items.emplace_back(prefix, "");
  items.emplace_back(prefix + "README.bin", padding());
  for (const auto& f : kBuffaloFiles) items.emplace_back(prefix + f, read_all(kBuffaloL / f));
  return items;
}

struct CliRun {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  std::string all() const { return "stdout:\n" + out + "\nstderr:\n" + err; }
};

class ModelsAdd : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env_bin = std::getenv("FACESEARCH_BIN");
    bin_ = env_bin && *env_bin ? env_bin : FACESEARCH_BIN_DEFAULT;
    ASSERT_TRUE(fs::exists(bin_)) << bin_;
    for (const auto& f : kBuffaloFiles) ASSERT_TRUE(fs::exists(kBuffaloL / f)) << kBuffaloL / f;
    fs::create_directories(tmp_.path() / "insightface");  // empty: no packs found in place
    fs::create_directories(tmp_.path() / "zips");
    make_zip(buffalo_zip(), buffalo_entries(""));
    make_zip(antelope_zip(), buffalo_entries("antelopev2/"));
    make_zip(tmp_.path() / "zips" / "docs.zip", {{"docs/", ""}, {"docs/README.txt", "no models here\n"}});
  }

  fs::path buffalo_zip() const { return tmp_.path() / "zips" / "buffalo_l.zip"; }
  fs::path antelope_zip() const { return tmp_.path() / "zips" / "antelopev2.zip"; }
  fs::path models_dir() const { return tmp_.path() / "data" / "facesearch" / "models"; }
  fs::path downloads_dir() const { return tmp_.path() / "cache" / "facesearch" / "downloads"; }

  // Runs facesearch with the private HOME and data/cache folders and an empty InsightFace root; stdout and
  // stderr are kept apart (neither is a terminal).
  CliRun run(const std::string& args) const {
    const fs::path err_file = tmp_.path() / "stderr.txt";
    const std::string cmd = "env -u FACESEARCH_MODELS -u FACESEARCH_DB HOME='" + tmp_.path().string() +
                            "' XDG_DATA_HOME='" + (tmp_.path() / "data").string() + "' XDG_CACHE_HOME='" +
                            (tmp_.path() / "cache").string() + "' FACESEARCH_INSIGHTFACE_ROOT='" +
                            (tmp_.path() / "insightface").string() + "' '" + bin_ + "' " + args + " </dev/null 2>'" +
                            err_file.string() + "'";
    CliRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.err = read_all(err_file);
    return r;
  }

  // Everything in the models folder, hidden entries (staging folders) included.
  std::set<std::string> models_dir_entries() const {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(models_dir(), ec)) names.insert(e.path().filename().string());
    return names;
  }

  // The files in the download cache (kept in one folder per URL), by name.
  std::set<std::string> downloads() const {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(downloads_dir(), ec))
      if (e.is_regular_file()) names.insert(e.path().filename().string());
    return names;
  }
  fs::path downloaded(const std::string& name) const {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(downloads_dir(), ec))
      if (e.path().filename() == name) return e.path();
    return downloads_dir() / name;
  }

  // The pack is installed with only the files search uses; with `through_cli`, `models list` shows it as
  // installed and `models verify` passes (two more runs of the binary, so only where it matters).
  void expect_installed(const std::string& name, bool through_cli = false) const {
    SCOPED_TRACE("pack " + name);
    const fs::path dir = models_dir() / name;
    EXPECT_TRUE(fs::exists(dir / "manifest.json"));
    EXPECT_TRUE(fs::exists(dir / "det_10g.onnx"));
    EXPECT_TRUE(fs::exists(dir / "w600k_r50.onnx"));
    EXPECT_FALSE(fs::exists(dir / "genderage.onnx"));
    EXPECT_FALSE(fs::exists(dir / "README.bin"));
    EXPECT_EQ(read_all(dir / "det_10g.onnx"), read_all(kBuffaloL / "det_10g.onnx"));
    EXPECT_EQ(models_dir_entries(), std::set<std::string>{name});  // no staging folder left behind
    if (!through_cli) return;

    CliRun r = run("models list --format json");
    ASSERT_EQ(r.status, 0) << r.all();
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.all();
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& p : j["packs"]) by_name[p["name"].get<std::string>()] = p;
    ASSERT_TRUE(by_name.count(name)) << r.out;
    EXPECT_EQ(by_name[name]["source"], "installed") << r.out;
    EXPECT_EQ(by_name[name]["dir"], dir.string()) << r.out;
    EXPECT_FALSE(by_name[name].contains("error")) << r.out;

    r = run("models verify " + name);
    EXPECT_EQ(r.status, 0) << r.all();
    EXPECT_TRUE(contains(r.out, "is intact")) << r.all();
  }

  void expect_nothing_installed() const {
    EXPECT_EQ(models_dir_entries(), std::set<std::string>{});
    EXPECT_FALSE(fs::exists(models_dir() / "buffalo_l"));
  }

  TempDir tmp_;
  std::string bin_;
};

TEST_F(ModelsAdd, ZipWithFilesAtItsRoot) {
  const CliRun r = run("models add '" + buffalo_zip().string() + "'");
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_TRUE(contains(r.out, "Installed model pack buffalo_l")) << r.all();
  EXPECT_TRUE(contains(r.out, "genderage.onnx")) << r.all();  // named as not copied
  expect_installed("buffalo_l", /*through_cli=*/true);
  EXPECT_TRUE(downloads().empty());  // a local zip is not copied into the download cache
}

TEST_F(ModelsAdd, ZipWithATopFolderIsNamedAfterIt) {
  // The zip's own name does not matter: the top folder names the pack.
  const fs::path renamed = tmp_.path() / "zips" / "download (1).zip";
  fs::rename(antelope_zip(), renamed);
  const CliRun r = run("models add '" + renamed.string() + "'");
  ASSERT_EQ(r.status, 0) << r.all();
  expect_installed("antelopev2");
}

TEST_F(ModelsAdd, UrlWithTheRightChecksumShowsProgress) {
  const std::string zip = read_all(buffalo_zip());
  testing::LocalHttpServer server({{"/packs/buffalo_l.zip", zip}});
  const std::string url = server.url("/packs/buffalo_l.zip");
  const std::string sha = sha256_file(buffalo_zip());
  // Upper case is accepted.
  std::string upper = sha;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  const CliRun r = run("models add '" + url + "' --sha256 " + upper);
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_TRUE(contains(r.err, "[download] ")) << r.all();
  EXPECT_TRUE(contains(r.err, "(100%)")) << r.all();
  EXPECT_FALSE(contains(r.err, "\r")) << r.all();  // lines, not a redrawn bar: stderr is not a terminal
  EXPECT_FALSE(contains(r.out, "[download]")) << r.all();
  expect_installed("buffalo_l", /*through_cli=*/true);
  EXPECT_TRUE(contains(read_all(models_dir() / "buffalo_l" / "manifest.json"), url));
  // Installed: the download is not kept (nor a .part).
  EXPECT_EQ(downloads(), std::set<std::string>{});
  EXPECT_EQ(server.ranges_seen(), std::vector<std::string>{""});
}

TEST_F(ModelsAdd, ADownloadWhoseInstallFailedIsUsedAgain) {
  const std::string zip = read_all(buffalo_zip());
  testing::LocalHttpServer server({{"/buffalo_l.zip", zip}});
  ASSERT_EQ(run("models add " + server.url("/buffalo_l.zip") + " --quiet").status, 0);
  // The name is taken: the install fails after the download, which is kept...
  CliRun r = run("models add " + server.url("/buffalo_l.zip") + " --quiet");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_EQ(downloads(), std::set<std::string>{"buffalo_l.zip"});
  // ... and used by the next try instead of downloading it again.
  r = run("models add " + server.url("/buffalo_l.zip") + " --quiet --replace --sha256 " + sha256_file(buffalo_zip()));
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_EQ(server.paths_seen().size(), 2u);
  EXPECT_EQ(downloads(), std::set<std::string>{});
}

TEST_F(ModelsAdd, UrlQuietHasNoProgress) {
  testing::LocalHttpServer server({{"/buffalo_l.zip", read_all(buffalo_zip())}});
  const CliRun r = run("models add " + server.url("/buffalo_l.zip") + " --quiet");
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_FALSE(contains(r.err, "[download]")) << r.all();
  EXPECT_TRUE(fs::exists(models_dir() / "buffalo_l" / "manifest.json"));
}

TEST_F(ModelsAdd, WrongChecksumInstallsNothingAndKeepsNoPart) {
  testing::LocalHttpServer server({{"/buffalo_l.zip", read_all(buffalo_zip())}});
  const std::string right = sha256_file(buffalo_zip());
  const std::string wrong(64, 'b');
  CliRun r = run("models add " + server.url("/buffalo_l.zip") + " --sha256 " + wrong);
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, right)) << r.all();
  EXPECT_TRUE(contains(r.err, wrong)) << r.all();
  expect_nothing_installed();
  EXPECT_EQ(downloads(), std::set<std::string>{});  // neither the zip nor its .part

  // The same for a local zip.
  r = run("models add '" + buffalo_zip().string() + "' --sha256 " + wrong);
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, right)) << r.all();
  EXPECT_TRUE(contains(r.err, wrong)) << r.all();
  expect_nothing_installed();
}

TEST_F(ModelsAdd, InterruptedDownloadResumesOnTheSameCommand) {
  const std::string zip = read_all(buffalo_zip());
  const std::size_t cut = 100000;
  ASSERT_GT(zip.size(), 2 * cut);
  const std::string sha = sha256_file(buffalo_zip());
  testing::LocalHttpServer server({{"/buffalo_l.zip", zip}});
  server.cut_next_body(cut);
  CliRun r = run("models add " + server.url("/buffalo_l.zip") + " --sha256 " + sha);
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, "interrupted after " + std::to_string(cut) + " bytes")) << r.all();
  EXPECT_TRUE(contains(r.err, "run the same command again to resume")) << r.all();
  expect_nothing_installed();
  EXPECT_EQ(downloads(), std::set<std::string>{"buffalo_l.zip.part"});
  EXPECT_EQ(read_all(downloaded("buffalo_l.zip.part")), zip.substr(0, cut));
  // The same command again, the server healthy: the download goes on from where it stopped.
  r = run("models add " + server.url("/buffalo_l.zip") + " --sha256 " + sha);
  ASSERT_EQ(r.status, 0) << r.all();
  ASSERT_FALSE(server.ranges_seen().empty());
  EXPECT_EQ(server.ranges_seen().back(), "bytes=" + std::to_string(cut) + "-");
  expect_installed("buffalo_l");
  EXPECT_EQ(downloads(), std::set<std::string>{});
}

TEST_F(ModelsAdd, APartFromAnotherUrlIsNeverResumed) {
  // Two mirrors of the same file name: the second must not splice its bytes onto the first one's .part.
  const std::string zip = read_all(buffalo_zip());
  const std::string sha = sha256_file(buffalo_zip());
  testing::LocalHttpServer first({{"/buffalo_l.zip", zip}});
  first.cut_next_body(100000);
  EXPECT_EQ(run("models add " + first.url("/buffalo_l.zip") + " --sha256 " + sha).status, 1);
  testing::LocalHttpServer second({{"/buffalo_l.zip", zip}});
  const CliRun r = run("models add " + second.url("/buffalo_l.zip") + " --sha256 " + sha);
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_EQ(second.ranges_seen(), std::vector<std::string>{""});  // a whole download, no Range
  expect_installed("buffalo_l");
}

TEST_F(ModelsAdd, DownloadAndUsageErrors) {
  testing::LocalHttpServer server({{"/buffalo_l.zip", read_all(buffalo_zip())}});
  // 404: a failure, naming the status.
  CliRun r = run("models add " + server.url("/gone/buffalo_l.zip"));
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, "404")) << r.all();
  EXPECT_TRUE(contains(r.err, server.url("/gone/buffalo_l.zip"))) << r.all();
  expect_nothing_installed();
  EXPECT_EQ(downloads(), std::set<std::string>{});

  // A URL that does not name a .zip: usage, and nothing is fetched.
  r = run("models add " + server.url("/buffalo_l.tar.gz"));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, ".zip")) << r.all();
  EXPECT_EQ(server.paths_seen(), std::vector<std::string>{"/gone/buffalo_l.zip"});

  // --sha256 that is not 64 hex digits, or given with a folder: usage.
  r = run("models add " + server.url("/buffalo_l.zip") + " --sha256 nothex");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "--sha256")) << r.all();
  r = run("models add '" + kBuffaloL.string() + "' --sha256 " + sha256_file(buffalo_zip()));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "--sha256")) << r.all();
  EXPECT_EQ(server.paths_seen(), std::vector<std::string>{"/gone/buffalo_l.zip"});
  expect_nothing_installed();
}

TEST_F(ModelsAdd, ZipWithoutModelsIsRefused) {
  const CliRun r = run("models add '" + (tmp_.path() / "zips" / "docs.zip").string() + "'");
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, "docs.zip")) << r.all();
  EXPECT_TRUE(contains(r.err, "holds no model pack")) << r.all();
  expect_nothing_installed();
}

TEST_F(ModelsAdd, SameNameTwiceNeedsReplace) {
  CliRun r = run("models add '" + buffalo_zip().string() + "'");
  ASSERT_EQ(r.status, 0) << r.all();
  const std::string manifest = read_all(models_dir() / "buffalo_l" / "manifest.json");
  r = run("models add '" + buffalo_zip().string() + "'");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "--replace")) << r.all();
  EXPECT_EQ(read_all(models_dir() / "buffalo_l" / "manifest.json"), manifest);  // untouched
  EXPECT_EQ(models_dir_entries(), std::set<std::string>{"buffalo_l"});
  r = run("models add '" + buffalo_zip().string() + "' --replace");
  EXPECT_EQ(r.status, 0) << r.all();
  expect_installed("buffalo_l");
}

}  // namespace
}  // namespace facesearch
