// What the catalog does with what it finds on disk (issue 10, items 8 and 9): damaged pages found by
// PRAGMA quick_check with a remedy that works, libraries opened for reading only without writing into
// them or next to them, 0-byte files that readers never turn into libraries, and an unfinished
// `index --rebuild` that stays visible until a run completes. Through the real binary (another user's
// library, a rebuild stopped with SIGINT): tests/cli_catalog.sh.
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/face_pipeline.h"
#include "store/catalog.h"
#include "store/indexer.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Copies folders of the shared test photos into `dst/NAME`: five people (25 photos), or the photos
// without faces (10).
fs::path copy_photos(const fs::path& dst, const std::string& name = "photos") {
  const fs::path photos = dst / name;
  const fs::path faces = testing::testdata_dir() / "faces";
  fs::create_directories(photos);
  if (name == "noface") {
    fs::copy(faces / "noface", photos, fs::copy_options::recursive);
  } else {
    for (const char* p : {"Tony_Blair", "Vladimir_Putin", "Laura_Bush", "Serena_Williams", "Hugo_Chavez"})
      fs::copy(faces / "people" / p, photos / p, fs::copy_options::recursive);
  }
  for (const auto& e : fs::recursive_directory_iterator(photos))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return photos;
}

// One value of the library read with SQLite directly (not through the code under test).
std::int64_t sql_int(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  std::int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return v;
}

// Merges the -wal into the file (as a clean close does), then writes one page of random bytes over
// the root page of `table`, as a bad sector or a stray write would.
void damage_table(const fs::path& db, const std::string& table) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  const std::int64_t page_size = sql_int(db, "PRAGMA page_size");
  const std::int64_t root = sql_int(db, "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = '" + table + "'");
  ASSERT_GT(root, 1);
  std::vector<char> noise(static_cast<size_t>(page_size));
  std::mt19937 rng(10);
  for (char& c : noise) c = static_cast<char>(rng());
  std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((root - 1) * page_size);
  f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  ASSERT_TRUE(f.good());
}

// The message of the Error that `fn` throws ("" when it throws none), and its code.
template <typename Fn>
std::string error_of(Fn&& fn, ErrorCode* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    // The remedy is data (core/error.h); the CLI words it ("run `facesearch index --rebuild`").
    return std::string(e.what()) + " [remedy " + remedy_name(e.hint().remedy) + "]";
  }
  return "";
}

bool side_files_left(const fs::path& db) {
  return fs::exists(db.string() + "-wal") || fs::exists(db.string() + "-shm") || fs::exists(db.string() + "-journal");
}

class CatalogIntegrity : public testing::DefaultPipelineSuite {
 protected:
  // Indexes `root` into `catalog`; `stop_after` > 0 cancels the run once that many photos are done
  // (the indexer stops after the batch in flight, as after Ctrl-C).
  // No roots: the library's own folders.
  static IndexReport index(Catalog& catalog, const std::vector<fs::path>& roots, size_t stop_after = 0) {
    std::atomic<bool> cancel{false};
    IndexOptions o;
    o.batch_images = 4;
    o.cancel = &cancel;
    o.on_progress = [&](const Progress& p) {
      if (stop_after > 0 && p.done >= stop_after) cancel = true;
    };
    return index_library(catalog, *pipeline_, roots, o);
  }
};

TEST_F(CatalogIntegrity, DamagedFacesPageIsFoundAndRebuildRepairsIt) {
  TempDir tmp;
  const fs::path photos = copy_photos(tmp.path());
  const fs::path db = tmp.path() / "library.db";
  std::int64_t faces = 0;
  std::string library_id;
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    index(c, {photos});
    faces = c.status().faces;
    library_id = c.library_id();
  }
  ASSERT_GT(faces, 20);
  damage_table(db, "faces");

  // status's check and the start of index say what is damaged and what to do.
  ErrorCode code{};
  std::string message = error_of([&] { Catalog::inspect(db).check_integrity(); }, &code);
  EXPECT_EQ(code, ErrorCode::kCatalog);
  EXPECT_NE(message.find(db.string()), std::string::npos) << message;
  EXPECT_NE(message.find("is damaged in its stored faces"), std::string::npos) << message;
  EXPECT_NE(message.find("quick_check"), std::string::npos) << message;
  EXPECT_NE(message.find("[remedy rebuild"), std::string::npos) << message;
  message = error_of([&] { Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate); });
  EXPECT_NE(message.find("is damaged in its stored faces"), std::string::npos) << message;
  // A reader that walks into the damage says the same remedy, not a bare SQLite message.
  message = error_of([&] {
    const Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kReadOnly);
    c.for_each_embedding([](std::int64_t, std::span<const float>) {});
  });
  EXPECT_NE(message.find("is damaged"), std::string::npos) << message;
  EXPECT_NE(message.find("[remedy rebuild"), std::string::npos) << message;

  // The remedy works: --rebuild starts from a fresh file that keeps the folders and the library's id.
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true);
    EXPECT_EQ(c.roots(), std::vector<fs::path>{photos});
    EXPECT_EQ(c.library_id(), library_id);
    ASSERT_TRUE(c.rebuild_progress());
    EXPECT_EQ(c.rebuild_progress()->images_before, 25);
    const IndexReport report = index(c, {});  // no folder named: the kept ones
    EXPECT_EQ(report.added, 25u);
    EXPECT_NO_THROW(c.check_integrity());
    EXPECT_EQ(c.status().faces, faces);
    EXPECT_FALSE(c.rebuild_progress()) << "a complete run ends the rebuild";
    const auto blair = c.image_by_path(photos / "Tony_Blair" / "lfw_Tony_Blair_0001.jpg");
    ASSERT_TRUE(blair);
    EXPECT_EQ(c.faces_of_image(blair->id).size(), 1u);
  }
  EXPECT_FALSE(fs::exists(db.string() + ".rebuild"));
  EXPECT_EQ(sql_int(db, "SELECT count(*) FROM pragma_quick_check WHERE quick_check = 'ok'"), 1);
}

TEST_F(CatalogIntegrity, DamagedFolderListSaysToStartANewLibrary) {
  TempDir tmp;
  const fs::path db = tmp.path() / "library.db";
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    Catalog::Transaction t(c);
    c.add_root("/photos/a");
    t.commit();
  }
  damage_table(db, "roots");
  std::string message = error_of([&] { Catalog::inspect(db).check_integrity(); });
  EXPECT_NE(message.find("its list of folders"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot be repaired"), std::string::npos) << message;
  EXPECT_NE(message.find("[remedy move_away_or_new_library]"), std::string::npos) << message;
  // --rebuild cannot keep folders it cannot read: it says so and leaves the file as it was.
  const auto bytes = fs::file_size(db);
  message = error_of([&] { Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true); });
  EXPECT_NE(message.find("beyond a rebuild"), std::string::npos) << message;
  EXPECT_NE(message.find("[remedy move_away_or_new_library]"), std::string::npos) << message;
  EXPECT_EQ(fs::file_size(db), bytes);
  EXPECT_FALSE(fs::exists(db.string() + ".rebuild"));
}

TEST_F(CatalogIntegrity, ReadersNeverTurnAnEmptyFileIntoALibrary) {
  TempDir tmp;
  const fs::path db = tmp.path() / "empty.db";
  std::ofstream(db).close();
  ErrorCode code{};
  std::string message = error_of([&] { Catalog::inspect(db); }, &code);
  EXPECT_EQ(code, ErrorCode::kCatalog);
  EXPECT_NE(message.find("empty file (0 bytes), not a facesearch library"), std::string::npos) << message;
  message = error_of([&] { Catalog::open(db, *pack_, Catalog::Mode::kReadOnly); }, &code);
  EXPECT_EQ(code, ErrorCode::kCatalog);
  EXPECT_NE(message.find("empty file"), std::string::npos) << message;
  EXPECT_EQ(fs::file_size(db), 0u);
  EXPECT_FALSE(side_files_left(db));
  // A missing file is no library for a reader, and stays missing.
  error_of([&] { Catalog::open(tmp.path() / "none.db", *pack_, Catalog::Mode::kReadOnly); }, &code);
  EXPECT_EQ(code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(tmp.path() / "none.db"));
  // index may still make the empty file a new library.
  { Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate); }
  EXPECT_NO_THROW(Catalog::inspect(db));
}

TEST_F(CatalogIntegrity, ReadOnlyOpenChecksThePackAndLeavesNoSideFiles) {
  TempDir tmp;
  const fs::path db = tmp.path() / "library.db";
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    Catalog::Transaction t(c);
    c.add_root("/photos/a");
    t.commit();
  }
  ASSERT_FALSE(side_files_left(db));
  const auto generation = sql_int(db, "SELECT value FROM meta WHERE key = 'generation'");
  {
    const Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kReadOnly);
    EXPECT_EQ(c.roots(), std::vector<fs::path>{"/photos/a"});
    EXPECT_NO_THROW(c.check_integrity());
  }
  EXPECT_FALSE(side_files_left(db)) << "a reader in its own folder cleans up like a writer";
  EXPECT_EQ(sql_int(db, "SELECT value FROM meta WHERE key = 'generation'"), generation);
  ModelPack other = *pack_;
  other.name = "other";
  other.fingerprint = "other:0";
  ErrorCode code{};
  const std::string message = error_of([&] { Catalog::open(db, other, Catalog::Mode::kReadOnly); }, &code);
  EXPECT_EQ(code, ErrorCode::kCatalog);
  EXPECT_NE(message.find("[remedy use_library_pack]"), std::string::npos) << message;
}

TEST_F(CatalogIntegrity, CountsFollowEveryCommittedChangeAlsoFromAnotherConnection) {
  TempDir tmp;
  const fs::path db = tmp.path() / "library.db";
  auto image = [](int i, const char* status) {
    ImageRow row;
    row.path = "/photos/" + std::to_string(i) + ".jpg";
    row.size = 1, row.mtime_ns = 1, row.hash = std::to_string(i), row.status = status;
    return row;
  };
  Catalog writer = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
  {
    Catalog::Transaction t(writer);
    writer.put_image(image(1, "ok"));
    writer.put_image(image(2, "error"));
    t.commit();
  }
  const Catalog reader = Catalog::inspect(db);
  EXPECT_EQ(reader.counts().images, 2);
  EXPECT_EQ(reader.counts().images_ok, 1);
  EXPECT_EQ(reader.counts().images_error, 1);
  EXPECT_EQ(reader.status().images, 2);
  {
    Catalog::Transaction t(writer);
    const std::int64_t id = writer.put_image(image(3, "ok"));
    FaceRow face;
    face.embedding.assign(static_cast<size_t>(pack_->embedder.dim), 0.f);
    face.embedding[0] = 1.f;
    writer.replace_faces(id, std::span<const FaceRow>(&face, 1));
    EXPECT_EQ(writer.counts().images, 3) << "inside the transaction, its own rows";
    t.commit();
  }
  // The reader counted before the change: it counts again because the generation moved.
  EXPECT_EQ(reader.counts().images, 3);
  EXPECT_EQ(reader.counts().images_ok, 2);
  EXPECT_EQ(reader.counts().faces, 1);
  {
    Catalog::Transaction t(writer);
    writer.put_image(image(4, "ok"));
    EXPECT_EQ(writer.counts().images, 4);
  }  // rolled back
  EXPECT_EQ(writer.counts().images, 3) << "a rolled-back change is not remembered";
  EXPECT_EQ(reader.counts().images, 3);
}

TEST_F(CatalogIntegrity, UnfinishedRebuildIsReportedUntilARunCompletes) {
  TempDir tmp;
  const fs::path photos = copy_photos(tmp.path());
  const fs::path noface = copy_photos(tmp.path(), "noface");
  const fs::path db = tmp.path() / "library.db";
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    index(c, {photos, noface});
    EXPECT_EQ(c.status().images, 35);
    EXPECT_FALSE(c.rebuild_progress()) << "a plain index is no rebuild";
  }
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true);
    const IndexReport report = index(c, {}, /*stop_after=*/4);
    ASSERT_TRUE(report.cancelled);
  }
  {
    // What search, faces and status see meanwhile.
    const Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kReadOnly);
    const auto rebuild = c.rebuild_progress();
    ASSERT_TRUE(rebuild);
    EXPECT_EQ(rebuild->images_before, 35);
    EXPECT_GE(rebuild->images_done, 4);
    EXPECT_LT(rebuild->images_done, 35);
    // The warning speaks of the library; finishing it (Remedy::kFinishRebuild) is worded by each front end.
    EXPECT_EQ(rebuild_warning(*rebuild), "the library is being rebuilt (" + std::to_string(rebuild->images_done) +
                                             " of 35 photos so far): results are partial");
    ASSERT_TRUE(c.status().rebuild);
  }
  {
    // A run over only some of the folders does not finish it.
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    EXPECT_FALSE(index(c, {photos}).cancelled);
    EXPECT_TRUE(c.rebuild_progress());
    EXPECT_FALSE(index(c, {}).cancelled);
    EXPECT_FALSE(c.rebuild_progress());
    EXPECT_FALSE(c.status().rebuild);
    EXPECT_EQ(c.status().images, 35);
  }
}

}  // namespace
}  // namespace facesearch
