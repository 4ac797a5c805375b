// The persistent library: catalog integrity checks, incremental indexing, index vs on-the-fly search,
// and a kill -9 in the middle of indexing.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "index/vector_index.h"
#include "search/folder_search.h"
#include "search/library_search.h"
#include "store/vector_files.h"
#include "store/indexer.h"
#include "backends.h"
#include "test_support.h"

extern char** environ;

namespace facesearch {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;

fs::path faces_dir() { return testing::testdata_dir() / "faces"; }

// A catalog row for a photo that exists only in the test (its path doubles as its content hash).
ImageRow synthetic_image(const std::string& path) {
  ImageRow row;
  row.path = path;
  row.hash = path;
  row.status = "ok";
  return row;
}

// Copies a few people folders (about 25 photos) into `dst/photos`.
fs::path copy_people(const fs::path& dst, std::initializer_list<const char*> people) {
  const fs::path photos = dst / "photos";
  fs::create_directories(photos);
  for (const char* p : people) fs::copy(faces_dir() / "people" / p, photos / p, fs::copy_options::recursive);
  // The shared test data is read-only; the copies must be writable (tests rename and overwrite them).
  for (const auto& e : fs::recursive_directory_iterator(photos))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return photos;
}

class Library : public testing::DefaultPipelineSuite {
 protected:
  static IndexReport index(Catalog& c, const fs::path& root) {
    const fs::path roots[] = {root};
    IndexOptions o;
    o.batch_images = 4;
    return index_library(c, *pipeline_, roots, o);
  }
};

// The same, on both storage back ends (tests/backends.h): what index_library does must not depend on
// where the catalog lives.
class LibraryOnEachBackend : public Library, public ::testing::WithParamInterface<testing::Backend> {
 protected:
  void SetUp() override { db_ = testing::new_library_address(GetParam(), tmp_.path()); }
  void TearDown() override { testing::remove_library(GetParam(), db_); }
  TempDir tmp_;
  fs::path db_;
};

INSTANTIATE_TEST_SUITE_P(, LibraryOnEachBackend, testing::kBothBackends, testing::backend_name);

ErrorCode open_error(const fs::path& db, const ModelPack& pack, std::string* message = nullptr) {
  try {
    Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate);
  } catch (const Error& e) {
    if (message) *message = std::string(e.what()) + " [remedy " + remedy_name(e.hint().remedy) + "]";
    return e.code();
  }
  ADD_FAILURE() << db << " opened";
  return ErrorCode::kInvalidArgument;
}

TEST_F(Library, CatalogRefusesOtherModelsNewerSchemasAndForeignFiles) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  { Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate); }

  // Another model pack: a clear error whose remedy is the library's pack or a rebuild; --rebuild rebinds it.
  ModelPack other = *pack_;
  other.name = "other-pack";
  other.fingerprint = "other-pack:0123:4567";
  std::string message;
  EXPECT_EQ(open_error(db, other, &message), ErrorCode::kCatalog);
  EXPECT_NE(message.find("[remedy use_library_pack]"), std::string::npos) << message;
  { Catalog::open(db, other, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true); }
  EXPECT_EQ(open_error(db, *pack_), ErrorCode::kCatalog);

  // A newer schema.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    sqlite3_exec(raw, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  EXPECT_EQ(open_error(db, other, &message), ErrorCode::kCatalog);
  EXPECT_NE(message.find("newer"), std::string::npos) << message;

  // Garbage, and an SQLite database of another program.
  const fs::path garbage = tmp.path() / "garbage.db";
  std::ofstream(garbage) << std::string(4096, 'x');
  EXPECT_EQ(open_error(garbage, *pack_, &message), ErrorCode::kCatalog);
  EXPECT_NE(message.find("corrupted"), std::string::npos) << message;
  const fs::path foreign = tmp.path() / "foreign.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.c_str(), &raw), SQLITE_OK);
    sqlite3_exec(raw, "CREATE TABLE songs(title TEXT)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  EXPECT_EQ(open_error(foreign, *pack_, &message), ErrorCode::kCatalog);
  EXPECT_NE(message.find("not a facesearch library"), std::string::npos) << message;
}

TEST_F(Library, UnwritableLocationIsAnIoError) {
  TempDir tmp;
  const fs::path file = tmp.path() / "plain-file";
  std::ofstream(file) << "x";
  EXPECT_EQ(open_error(file / "lib.db", *pack_), ErrorCode::kIo);  // a folder that cannot exist
  if (geteuid() != 0) {  // root ignores permission bits
    const fs::path ro = tmp.path() / "readonly";
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_EQ(open_error(ro / "lib.db", *pack_), ErrorCode::kIo);
  }
}

TEST_P(LibraryOnEachBackend, IncrementalIndexingRedoesExactlyTheChangedWork) {
  TempDir tmp;
  const fs::path photos = copy_people(tmp.path(), {"Tony_Blair", "Hugo_Chavez", "Elon"});
  Catalog c = Catalog::open(db_, *pack_, Catalog::Mode::kOpenOrCreate);

  auto r = index(c, photos);
  EXPECT_EQ(r.files, 13u);
  EXPECT_EQ(r.added, 13u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_GE(r.faces, 13u);
  const auto first = c.status();
  EXPECT_EQ(first.images, 13);

  // Nothing changed: nothing is read.
  r = index(c, photos);
  EXPECT_EQ(r.unchanged, 13u);
  EXPECT_EQ(r.added + r.updated + r.moved + r.deleted + r.touched, 0u);

  // Move one photo (keeps its faces: same face ids), delete one, add one, modify one, touch one.
  const fs::path moved_from = photos / "Elon" / "deepface_img18.jpg";
  const auto moved_row = c.image_by_path(fs::weakly_canonical(moved_from));
  ASSERT_TRUE(moved_row);
  const auto moved_faces = c.faces_of_image(moved_row->id);
  fs::create_directories(photos / "renamed");
  fs::rename(moved_from, photos / "renamed" / "elon.jpg");
  fs::remove(photos / "Hugo_Chavez" / "lfw_Hugo_Chavez_0001.jpg");
  fs::copy_file(faces_dir() / "people" / "Mark" / "deepface_img13.jpg", photos / "new_mark.jpg");
  fs::copy_file(faces_dir() / "people" / "obama" / "fr_obama.jpg", photos / "Tony_Blair" / "lfw_Tony_Blair_0001.jpg",
                fs::copy_options::overwrite_existing);
  const fs::path touched = photos / "Tony_Blair" / "lfw_Tony_Blair_0029.jpg";
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::hours(1));

  r = index(c, photos);
  EXPECT_EQ(r.moved, 1u);
  EXPECT_EQ(r.deleted, 1u);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.updated, 1u);
  EXPECT_EQ(r.touched, 1u);
  EXPECT_EQ(r.unchanged, 9u);
  EXPECT_EQ(c.status().images, 13);

  const auto after = c.image_by_path(fs::weakly_canonical(photos / "renamed" / "elon.jpg"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->id, moved_row->id);
  const auto after_faces = c.faces_of_image(after->id);
  ASSERT_EQ(after_faces.size(), moved_faces.size());
  for (size_t i = 0; i < after_faces.size(); ++i) EXPECT_EQ(after_faces[i].id, moved_faces[i].id);
  EXPECT_FALSE(c.image_by_path(fs::weakly_canonical(photos / "Hugo_Chavez" / "lfw_Hugo_Chavez_0001.jpg")));

  // The overwritten photo now holds obama's face, not Tony Blair's.
  const auto replaced = c.image_by_path(fs::weakly_canonical(photos / "Tony_Blair" / "lfw_Tony_Blair_0001.jpg"));
  ASSERT_TRUE(replaced);
  const auto obama = pipeline_->analyze(decode_image_file(faces_dir() / "people" / "obama" / "fr_obama.jpg"), {});
  const auto stored = c.faces_of_image(replaced->id);
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(obama.size(), 1u);
  EXPECT_GT(similarity(stored[0].embedding, obama[0].embedding), 0.99f);
}

TEST_P(LibraryOnEachBackend, UnreadableFilesAreRecordedAndRetriedWhenTheyChange) {
  TempDir tmp;
  const fs::path photos = tmp.path() / "photos";
  fs::create_directories(photos);
  fs::copy_file(faces_dir() / "bad" / "zero_bytes.jpg", photos / "broken.jpg");
  fs::copy_file(faces_dir() / "people" / "Elon" / "deepface_img19.jpg", photos / "elon.jpg");
  fs::permissions(photos / "broken.jpg", fs::perms::owner_write, fs::perm_options::add);
  Catalog c = Catalog::open(db_, *pack_, Catalog::Mode::kOpenOrCreate);
  auto r = index(c, photos);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_EQ(r.added, 1u);
  const auto row = c.image_by_path(fs::weakly_canonical(photos / "broken.jpg"));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "error");
  EXPECT_NE(row->error.find("empty file"), std::string::npos) << row->error;
  EXPECT_EQ(c.status().images_error, 1);

  r = index(c, photos);  // unchanged: not retried
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.unchanged, 2u);

  fs::copy_file(faces_dir() / "people" / "Elon" / "deepface_img67.jpg", photos / "broken.jpg",
                fs::copy_options::overwrite_existing);
  r = index(c, photos);  // changed: retried, now fine
  EXPECT_EQ(r.updated, 1u);
  EXPECT_EQ(c.image_by_path(fs::weakly_canonical(photos / "broken.jpg"))->status, "ok");
  EXPECT_EQ(c.status().images_error, 0);
}

TEST_F(Library, IndexedSearchGivesTheSameMatchesAsOnTheFlySearch) {
  TempDir tmp;
  const fs::path photos = copy_people(tmp.path(), {"Tony_Blair", "Serena_Williams", "Angelina", "Mark"});
  Catalog c = Catalog::open(tmp.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  index(c, photos);
  const auto vectors = build_vector_index(c, IndexKind::kExact, pipeline_->embedding_dim());
  const fs::path targets[] = {photos};
  size_t compared = 0;
  // One query per person (each on-the-fly search re-analyses the whole folder).
  for (const fs::path query : {photos / "Tony_Blair" / "lfw_Tony_Blair_0001.jpg",
                               photos / "Serena_Williams" / "lfw_Serena_Williams_0011.jpg",
                               photos / "Angelina" / "deepface_img1.jpg", photos / "Mark" / "deepface_img13.jpg"}) {
    SearchOptions io;
    SearchOptions so;
    SearchReport fly;
    try {
      fly = search_folder(*pipeline_, query, targets, so);
    } catch (const Error& e) {
      // Each query is a photo of its person's face, chosen to be compared: one where no face is found
      // (or that fails otherwise) compares nothing, and that is a failure, not a case to pass over.
      ADD_FAILURE() << query << ": " << error_code_name(e.code()) << ": " << e.what();
      continue;
    }
    const auto lib = search_index(c, *vectors, *pipeline_, query, io);
    std::map<std::pair<std::string, int>, float> a, b;
    for (const auto& m : fly.matches) a[{fs::weakly_canonical(m.path).string(), m.face_index}] = m.similarity;
    for (const auto& m : lib.matches) b[{m.path.string(), m.face_index}] = m.similarity;
    ASSERT_EQ(a.size(), b.size()) << query;
    for (const auto& [key, score] : a) {
      ASSERT_TRUE(b.count(key)) << query << " -> " << key.first;
      EXPECT_NEAR(b[key], score, 1e-4) << key.first;
    }
    compared += a.size();
  }
  EXPECT_GE(compared, 12u);  // each query finds most of its person's other photos
}

TEST_F(Library, SearchByFaceIdLeavesItsOwnImageOut) {
  TempDir tmp;
  const fs::path photos = copy_people(tmp.path(), {"Hugo_Chavez", "Laura_Bush"});
  Catalog c = Catalog::open(tmp.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  index(c, photos);
  const auto image = c.image_by_path(fs::weakly_canonical(photos / "Hugo_Chavez" / "lfw_Hugo_Chavez_0015.jpg"));
  ASSERT_TRUE(image);
  const auto faces = c.faces_of_image(image->id);
  ASSERT_FALSE(faces.empty());
  const auto vectors = build_vector_index(c, IndexKind::kExact, pipeline_->embedding_dim());
  const auto report = search_index_by_face(c, *vectors, *pack_, faces[0].id, {});
  ASSERT_GE(report.matches.size(), 2u);
  for (const auto& m : report.matches) {
    EXPECT_NE(m.path, image->path);
    EXPECT_EQ(m.path.parent_path().filename(), "Hugo_Chavez") << m.path;
  }
  try {
    search_index_by_face(c, *vectors, *pack_, 987654321, {});
    ADD_FAILURE() << "unknown face id accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

// kill -9 in the middle of `facesearch index`: the library still opens, holds only whole images (the
// batch in flight is lost whole, every committed one kept), and the next run finishes the job; the
// result equals a library built in one go. The kill comes at a known point on any machine:
// FACESEARCH_TEST_PAUSE_AFTER_BATCHES=1 (test-only, src/store/indexer.cpp) holds the run once its first
// batch is committed and one more photo is written into the next batch, not committed. A batch is at
// most 32 photos (IndexOptions::batch_images) and there are 36, so the pause always comes.
TEST_F(Library, KillDuringIndexingLosesAtMostTheBatchInFlight) {
  const char* env_bin = std::getenv("FACESEARCH_BIN");
  const char* bin = env_bin && *env_bin ? env_bin : FACESEARCH_BIN_DEFAULT;
  ASSERT_TRUE(fs::exists(bin)) << bin << ": the facesearch binary (set FACESEARCH_BIN)";
  TempDir tmp;
  const fs::path photos = copy_people(tmp.path(), {"Angelina", "Jennifer", "Mark", "Elon", "Tony_Blair", "obama"});
  const fs::path killed_db = tmp.path() / "killed.db";
  const fs::path killed_err = tmp.path() / "killed.err";
  const fs::path whole_db = tmp.path() / "whole.db";
  const std::string pause_variable = "FACESEARCH_TEST_PAUSE_AFTER_BATCHES";

  // `facesearch index` into `db`; with `paused_stderr`, held after its first batch, its stderr there.
  auto spawn_index = [&](const fs::path& db, const fs::path* paused_stderr) {
    const std::string models = testing::models_dir().string();
    std::vector<std::string> args = {bin, "index", photos.string(), "--db", db.string(), "--jobs", "1", "--quiet",
                                     "--models", models};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::string_view(*e).rfind(pause_variable + "=", 0) != 0) env.emplace_back(*e);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (paused_stderr) {
      env.push_back(pause_variable + "=1");
      posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, paused_stderr->c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
    }
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, bin, &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  };
  auto images_in = [](const fs::path& db) -> std::int64_t {
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(raw);
      return -1;
    }
    sqlite3_busy_timeout(raw, 2000);
    sqlite3_stmt* st = nullptr;
    std::int64_t n = -1;
    if (sqlite3_prepare_v2(raw, "SELECT count(*) FROM images", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
  };
  auto text_of = [](const fs::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };

  // Wait for the pause, or for the run to end without it (the bound only keeps a hang from lasting).
  const pid_t pid = spawn_index(killed_db, &killed_err);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  bool paused = false, ended = false;
  int status = 0;
  while (!paused && !ended && std::chrono::steady_clock::now() < deadline) {
    paused = text_of(killed_err).find("facesearch: test pause after batch 1") != std::string::npos;
    ended = !paused && waitpid(pid, &status, WNOHANG) == pid;
    if (!paused && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Held: nothing more is committed until it is killed.
  const std::int64_t committed = images_in(killed_db);
  if (!ended) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(paused) << (ended ? "indexing ended" : "no pause within 10 minutes") << " without pausing after its "
                      << "first batch; stderr: " << text_of(killed_err);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GE(committed, 1) << "the first batch was not committed";

  {
    Catalog c = Catalog::open(killed_db, *pack_, Catalog::Mode::kOpenExisting);
    const auto st = c.status();
    EXPECT_EQ(st.images, committed);  // every committed photo kept, the one in the open batch gone
    EXPECT_LT(st.images, 36);
    for (const auto& img : c.images()) EXPECT_EQ(img.status, "ok") << img.path;
  }
  // Finish the killed library, and build one in one go.
  for (const fs::path& db : {killed_db, whole_db}) {
    const pid_t p = spawn_index(db, nullptr);
    int st = 0;
    waitpid(p, &st, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << db;
  }
  Catalog a = Catalog::open(killed_db, *pack_, Catalog::Mode::kOpenExisting);
  Catalog b = Catalog::open(whole_db, *pack_, Catalog::Mode::kOpenExisting);
  const auto ia = a.images(), ib = b.images();
  ASSERT_EQ(ia.size(), ib.size());
  ASSERT_EQ(ia.size(), 36u);
  for (size_t i = 0; i < ia.size(); ++i) {
    EXPECT_EQ(ia[i].path, ib[i].path);
    EXPECT_EQ(ia[i].hash, ib[i].hash);
    const auto fa = a.faces_of_image(ia[i].id), fb = b.faces_of_image(ib[i].id);
    ASSERT_EQ(fa.size(), fb.size()) << ia[i].path;  // no duplicate or half-written faces
    for (size_t k = 0; k < fa.size(); ++k) {
      EXPECT_NEAR(fa[k].face.box.x1, fb[k].face.box.x1, 0.01) << ia[i].path;
      EXPECT_GT(similarity(fa[k].embedding, fb[k].embedding), 0.9999f) << ia[i].path;
    }
  }
  EXPECT_EQ(a.status().faces, b.status().faces);
}

}  // namespace
}  // namespace facesearch

namespace facesearch {
namespace {

// Synthetic face-like embeddings: `people` identities, `per` faces each, around a shared component.
void fill_synthetic_library(Catalog& c, int people, int per, int dim, unsigned seed = 7, const std::string& prefix = "p") {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<float> common(dim);
  for (auto& x : common) x = noise(rng);
  l2_normalize(common);
  Catalog::Transaction t(c);
  for (int p = 0; p < people; ++p) {
    std::vector<float> centre(dim);
    for (int k = 0; k < dim; ++k) centre[k] = 2.5f * common[k] + 0.5f * noise(rng) / std::sqrt(float(dim));
    for (int i = 0; i < per; ++i) {
      const auto id = c.put_image(synthetic_image("/synthetic/" + prefix + std::to_string(p) + "_" + std::to_string(i) + ".jpg"));
      FaceRow f;
      f.embedding.resize(dim);
      for (int k = 0; k < dim; ++k) f.embedding[k] = centre[k] + 0.25f * noise(rng) / std::sqrt(float(dim));
      l2_normalize(f.embedding);
      f.face.detector = "synthetic";
      c.replace_faces(id, std::span<const FaceRow>(&f, 1));
    }
  }

  t.commit();
}

TEST_F(Library, SavedApproximateIndexIsUsedWhileCurrentAndIgnoredWhenStaleOrDamaged) {
  TempDir tmp;
  const int dim = pipeline_->embedding_dim();
  Catalog c = Catalog::open(tmp.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  fill_synthetic_library(c, 300, 10, dim);
  const auto path = approx_index_path(c);

  EXPECT_FALSE(update_approx_index_file(c, dim, /*min_faces=*/100000));  // small library: none
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(build_vector_index(c, IndexKind::kAuto, dim)->kind(), "exact");

  ASSERT_TRUE(update_approx_index_file(c, dim, /*min_faces=*/1000));
  ASSERT_TRUE(fs::exists(path));
  // A one-off search (kAuto) of a library under kApproxThreshold faces maps the vectors instead: cheaper
  // than loading a graph. A server (kPreferSaved) uses the graph.
  EXPECT_EQ(build_vector_index(c, IndexKind::kAuto, dim)->kind(), "exact");
  const auto saved = build_vector_index(c, IndexKind::kPreferSaved, dim);
  EXPECT_EQ(saved->kind(), "hnsw");
  EXPECT_EQ(saved->size(), 3000u);

  // The loaded graph finds what the exact index finds.
  const auto exact = build_vector_index(c, IndexKind::kExact, dim);
  size_t hits = 0, total = 0;
  c.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    if (id % 30 != 0) return;
    const auto a = exact->search(v, 10, -1).front();
    const auto b = saved->search(v, 10, -1).front();
    for (const auto& n : a)
      for (const auto& m : b)
        if (n.id == m.id) ++hits;
    total += a.size();
  });
  EXPECT_GE(double(hits) / total, 0.99);

  // Any committed change makes it stale: searches fall back to exact until the next `index`.
  {
    Catalog::Transaction t(c);
    c.put_image(synthetic_image("/synthetic/new.jpg"));
    t.commit();
  }
  EXPECT_FALSE(load_current_approx_index(c, dim));
  EXPECT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim)->kind(), "exact");
  ASSERT_TRUE(update_approx_index_file(c, dim, 1000));
  EXPECT_TRUE(load_current_approx_index(c, dim));

  // A damaged file is a cache miss, never a crash or a wrong answer.
  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_FALSE(load_current_approx_index(c, dim));
  EXPECT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim)->kind(), "exact");
}

// An index run that adds photos to a large library extends the saved graph instead of building it
// anew; one that deletes or changes a face builds it again. Either way the graph holds exactly the
// catalog's faces and finds what the exact index finds.
TEST_F(Library, SavedApproximateIndexGrowsWithNewFacesAndIsRebuiltAfterDeletions) {
  TempDir tmp;
  const int dim = pipeline_->embedding_dim();
  Catalog c = Catalog::open(tmp.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  fill_synthetic_library(c, 200, 10, dim, /*seed=*/11, "a");
  ApproxIndexUpdate how = ApproxIndexUpdate::kNone;
  ASSERT_TRUE(update_approx_index_file(c, dim, /*min_faces=*/1000, &how));
  EXPECT_EQ(how, ApproxIndexUpdate::kBuilt);
  ASSERT_TRUE(update_approx_index_file(c, dim, 1000, &how));
  EXPECT_EQ(how, ApproxIndexUpdate::kCurrent);

  // The graph answers as the exact index does, for every 7th face of the catalog.
  auto agrees_with_exact = [&](size_t expected_faces) {
    const auto saved = load_current_approx_index(c, dim);
    if (!saved) return ::testing::AssertionFailure() << "no current graph";
    if (saved->size() != expected_faces) return ::testing::AssertionFailure() << "graph of " << saved->size() << " faces";
    std::vector<std::int64_t> graph_ids(approx_index_ids(*saved).begin(), approx_index_ids(*saved).end());
    std::vector<std::int64_t> catalog_ids;
    c.for_each_embedding([&](std::int64_t id, std::span<const float>) { catalog_ids.push_back(id); });
    std::sort(graph_ids.begin(), graph_ids.end());
    std::sort(catalog_ids.begin(), catalog_ids.end());
    if (graph_ids != catalog_ids) return ::testing::AssertionFailure() << "the graph's faces are not the catalog's";
    const auto exact = build_vector_index(c, IndexKind::kExact, dim);
    size_t hits = 0, total = 0, self_first = 0, queries = 0;
    c.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
      if (id % 7 != 0) return;
      const auto a = exact->search(v, 10, -1).front();
      const auto b = saved->search(v, 10, -1).front();
      for (const auto& n : a)
        for (const auto& m : b)
          if (n.id == m.id && std::abs(n.score - m.score) < 1e-5f) ++hits;
      total += a.size(), ++queries;
      if (!b.empty() && b.front().id == id) ++self_first;
    });
    if (double(hits) / double(total) < 0.99 || self_first != queries)
      return ::testing::AssertionFailure() << hits << " of " << total << " neighbours found, " << self_first << " of "
                                           << queries << " faces find themselves first";
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(agrees_with_exact(2000));

  // 10% more faces (photos of 20 more people): the saved graph is extended.
  fill_synthetic_library(c, 20, 10, dim, /*seed=*/12, "b");
  ASSERT_TRUE(update_approx_index_file(c, dim, 1000, &how));
  EXPECT_EQ(how, ApproxIndexUpdate::kExtended);
  EXPECT_TRUE(agrees_with_exact(2200));

  // A photo deleted: the graph cannot drop its face, so it is built again without it.
  std::int64_t first_image = 0;
  for (const auto& [face, image] : c.face_images()) first_image = first_image == 0 ? image : std::min(first_image, image);
  {
    Catalog::Transaction t(c);
    c.delete_image(first_image);
    t.commit();
  }
  ASSERT_TRUE(update_approx_index_file(c, dim, 1000, &how));
  EXPECT_EQ(how, ApproxIndexUpdate::kBuilt);
  EXPECT_TRUE(agrees_with_exact(2199));

  // The newest photo analysed again with another face: SQLite may give the new face the deleted face's
  // id, which the graph holds with the old embedding. Such a graph is never extended.
  std::int64_t last_image = 0, last_face = 0;
  for (const auto& [face, image] : c.face_images())
    if (face > last_face) last_face = face, last_image = image;
  {
    Catalog::Transaction t(c);
    FaceRow f;
    f.embedding.assign(static_cast<size_t>(dim), 0.f);
    f.embedding[0] = 1.f;
    f.face.detector = "synthetic";
    c.replace_faces(last_image, std::span<const FaceRow>(&f, 1));
    t.commit();
  }
  ASSERT_TRUE(update_approx_index_file(c, dim, 1000, &how));
  EXPECT_EQ(how, ApproxIndexUpdate::kBuilt);
  EXPECT_TRUE(agrees_with_exact(2199));
}

TEST_F(Library, SavedVectorsFileMatchesTheCatalogAndIsIgnoredWhenStaleOrDamaged) {
  TempDir tmp;
  const int dim = pipeline_->embedding_dim();
  Catalog c = Catalog::open(tmp.path() / "lib.db", *pack_, Catalog::Mode::kOpenOrCreate);
  const auto path = vectors_file_path(c);
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  EXPECT_FALSE(update_vectors_file(c, dim));  // empty library: no file
  EXPECT_FALSE(fs::exists(path));
  fill_synthetic_library(c, 50, 4, dim);
  ASSERT_TRUE(update_vectors_file(c, dim));
  ASSERT_TRUE(load_current_vectors(c, dim, ids, vectors));

  // Exactly the catalog's faces, in the catalog's order.
  std::vector<std::int64_t> want_ids;
  std::vector<float> want_vectors;
  c.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
    want_ids.push_back(id);
    want_vectors.insert(want_vectors.end(), v.begin(), v.end());
  });
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(ids, want_ids);
  EXPECT_EQ(vectors, want_vectors);

  // The exact index built from it answers like one built from the catalog rows.
  const auto index = build_vector_index(c, IndexKind::kExact, dim);
  ASSERT_EQ(index->size(), 200u);
  const auto got = index->search(std::span(want_vectors).subspan(17 * dim, dim), 1, -1).front();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, want_ids[17]);

  // A committed change makes it stale; a damaged or foreign file is a miss, never a wrong answer.
  {
    Catalog::Transaction t(c);
    c.put_image(synthetic_image("/synthetic/new.jpg"));
    t.commit();
  }
  EXPECT_FALSE(load_current_vectors(c, dim, ids, vectors));
  EXPECT_EQ(build_vector_index(c, IndexKind::kExact, dim)->size(), 200u);  // from the catalog
  ASSERT_TRUE(update_vectors_file(c, dim));
  EXPECT_TRUE(load_current_vectors(c, dim, ids, vectors));
  EXPECT_FALSE(load_current_vectors(c, dim + 1, ids, vectors));  // another dimension
  fs::resize_file(path, fs::file_size(path) - 4);
  EXPECT_FALSE(load_current_vectors(c, dim, ids, vectors));
  ASSERT_TRUE(update_vectors_file(c, dim));  // rewritten
  EXPECT_TRUE(load_current_vectors(c, dim, ids, vectors));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('X');  // magic
  }
  EXPECT_FALSE(load_current_vectors(c, dim, ids, vectors));
}

}  // namespace
}  // namespace facesearch

namespace facesearch {
namespace {

// A full disk while indexing: a clear error, the batch in flight rolled back, everything committed
// before it intact, and the library usable again once there is space. The "disk" is a file-size limit
// (RLIMIT_FSIZE, 1 MB) on this process: writes past it fail the way a full disk makes them fail.
TEST_F(Library, FullDiskIsAClearErrorAndLosesNothingCommitted) {
  TempDir tmp;
  struct FileSizeLimit {
    rlimit saved{};
    void (*old_handler)(int) = nullptr;
    explicit FileSizeLimit(rlim_t bytes) {
      getrlimit(RLIMIT_FSIZE, &saved);
      old_handler = std::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing us
      rlimit limit = saved;
      limit.rlim_cur = bytes;
      EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
    }
    void lift() { setrlimit(RLIMIT_FSIZE, &saved); }
    ~FileSizeLimit() {
      lift();
      std::signal(SIGXFSZ, old_handler);
    }
  };

  const int dim = pipeline_->embedding_dim();
  const fs::path db = tmp.path() / "lib.db";
  std::int64_t committed = 0;
  std::string message;
  FileSizeLimit disk(1 << 20);
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    std::vector<float> embedding(dim, 1.f / std::sqrt(float(dim)));
    try {
      for (int batch = 0; batch < 10000; ++batch) {
        Catalog::Transaction t(c);
        for (int i = 0; i < 20; ++i) {
          const ImageRow row = synthetic_image("/photos/" + std::to_string(batch) + "_" + std::to_string(i) + ".jpg");
          FaceRow f;
          f.embedding = embedding;
          f.face.landmarks.assign(68, Point{1, 2});
          f.face.detector = "test";
          c.replace_faces(c.put_image(row), std::span<const FaceRow>(&f, 1));
        }
        t.commit();
        committed += 20;
      }
      ADD_FAILURE() << "the 1 MB limit was never reached";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIo) << e.what();
      message = e.what();
    }
  }
  // SQLite reports a full disk as SQLITE_FULL or as a failed write, depending on where it hits.
  EXPECT_TRUE(message.find("disk full") != std::string::npos || message.find("could not write") != std::string::npos)
      << message;
  EXPECT_NE(message.find("nothing already stored was lost"), std::string::npos) << message;
  ASSERT_GT(committed, 0);

  // Make room (as a user would), then the library opens with every committed image and face.
  disk.lift();
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  const auto st = c.status();
  EXPECT_EQ(st.images, committed);
  EXPECT_EQ(st.faces, committed);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &check, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
  sqlite3_finalize(check);
  sqlite3_close(raw);
  // And indexing goes on.
  Catalog::Transaction t(c);
  c.put_image(synthetic_image("/photos/after.jpg"));
  t.commit();
  EXPECT_EQ(c.status().images, committed + 1);
}

}  // namespace
}  // namespace facesearch
