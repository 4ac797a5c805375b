// The library on both storage back ends (issue 16): an SQLite file and a PostgreSQL database with
// pgvector (a throwaway server: tests/pg_test_server.h). One suite, run once per back end: the same
// photos give the same library, the same matches and scores; the rules of the catalog (generation,
// incremental indexing, people) hold on both. Then what only a server has: its errors.
#include <atomic>
#include <map>
#include <thread>

#include <libpq-fe.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "library/library.h"
#include "models/pack_registry.h"
#include "backends.h"
#include "pg_test_server.h"
#include "store/catalog.h"
#include "test_support.h"

namespace facesearch {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::expect_error;

using testing::Backend;

fs::path people_dir(const char* name) { return testing::testdata_dir() / "faces" / "people" / name; }

// Photo file name -> similarity of a search report.
std::map<std::string, double> matches_of(const SearchReport& report) {
  std::map<std::string, double> out;
  for (const Match& m : report.matches) out[m.path.parent_path().filename().string() + "/" + m.path.filename().string()] = m.similarity;
  return out;
}

class StorageBackends : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = testing::new_library_address(GetParam(), tmp_.path());
  }
  void TearDown() override { testing::remove_library(GetParam(), db_); }
  static const ModelPack& pack() {
    static const ModelPack p = load_named_pack(kDefaultPackName);
    return p;
  }
  // Indexes `folders` with the default pack (two workers).
  IndexReport index(std::initializer_list<fs::path> folders) {
    IndexRequest request;
    auto library = Library::open_for_indexing(db_, request, /*create=*/true);
    IndexOptions options;
    options.jobs = 2;
    const std::vector<fs::path> roots(folders);
    return library->index(roots, options);
  }
  TempDir tmp_;
  fs::path db_;
};

INSTANTIATE_TEST_SUITE_P(, StorageBackends, testing::kBothBackends, testing::backend_name);

TEST_P(StorageBackends, CatalogKeepsPhotosFacesAndItsGeneration) {
  Catalog c = Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate);
  EXPECT_EQ(c.in_database(), GetParam() == Backend::kPostgres);
  const std::int64_t g0 = c.generation();
  ImageRow row;
  row.path = "/photos/a b/100%_x.jpg";
  row.size = 1234;
  row.mtime_ns = 5;
  row.hash = "h1";
  row.width = 640, row.height = 480;
  row.status = "ok";
  const std::int64_t id = c.put_image(row);
  EXPECT_GT(c.generation(), g0) << "a change outside a transaction moves the generation at once";
  FaceRow f;
  f.face.box = {1.5f, 2.5f, 30.25f, 40.125f};
  f.face.score = 0.875f;
  f.face.detector = "ssd";
  f.face.landmarks = {{1.f, 2.f}, {3.5f, 4.25f}};
  f.embedding.assign(pack().embedder.dim, 0.f);
  f.embedding[0] = 0.6f, f.embedding[1] = -0.8f;
  {
    Catalog::Transaction t(c);
    c.replace_faces(id, std::span(&f, 1));
    const std::int64_t g1 = c.generation();
    t.commit();
    EXPECT_GT(c.generation(), g1) << "the commit moves the generation";
  }
  const auto faces = c.faces_of_image(id);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_FLOAT_EQ(faces[0].face.box.x2, 30.25f);
  EXPECT_FLOAT_EQ(faces[0].face.score, 0.875f);
  EXPECT_EQ(faces[0].face.detector, "ssd");
  ASSERT_EQ(faces[0].face.landmarks.size(), 2u);
  EXPECT_FLOAT_EQ(faces[0].face.landmarks[1].y, 4.25f);
  EXPECT_EQ(faces[0].embedding, f.embedding) << "embeddings come back bit for bit";
  {
    // An index batch's way (a PostgreSQL library: one binary COPY for the batch's faces): the same rows.
    ImageRow second = row;
    second.path = "/photos/batch.jpg";
    second.hash = "h3";
    FaceRow g = f;
    g.face_index = 1;
    g.face.box.y2 = 50.5f;
    const std::vector<FaceRow> two = {f, g};
    Catalog::Transaction t(c);
    const std::int64_t second_id = c.put_image(second);
    const Catalog::ImageFaces batch[] = {{second_id, two}, {id, std::span(&f, 1)}};
    c.replace_faces_of_images(batch);
    t.commit();
    const auto stored = c.faces_of_image(second_id);
    ASSERT_EQ(stored.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(stored[i].face_index, two[i].face_index);
      EXPECT_FLOAT_EQ(stored[i].face.box.y2, two[i].face.box.y2);
      EXPECT_FLOAT_EQ(stored[i].face.score, two[i].face.score);
      EXPECT_EQ(stored[i].face.detector, two[i].face.detector);
      ASSERT_EQ(stored[i].face.landmarks.size(), 2u);
      EXPECT_FLOAT_EQ(stored[i].face.landmarks[1].x, 3.5f);
      EXPECT_EQ(stored[i].embedding, two[i].embedding);
    }
    EXPECT_EQ(c.faces_of_image(id).size(), 1u) << "a photo's faces are replaced, not added to";
    Catalog::Transaction u(c);
    c.delete_image(second_id);
    u.commit();
  }
  EXPECT_EQ(c.image_by_path(row.path)->id, id);
  EXPECT_EQ(c.images_with_hash("h1"), std::vector<std::int64_t>{id});
  // Updating the row at the same path keeps its id; a rollback changes nothing.
  row.size = 99;
  EXPECT_EQ(c.put_image(row), id);
  {
    Catalog::Transaction t(c);
    c.delete_image(id);
  }
  EXPECT_EQ(c.counts().images, 1);
  EXPECT_EQ(c.counts().faces, 1);
  // Forgetting a folder takes its photos and their faces; paths are compared as bytes (no LIKE).
  ImageRow other = row;
  other.path = "/photos/a bc/y.jpg";
  other.hash = "h2";
  c.put_image(other);
  EXPECT_EQ(c.forget_folder("/photos/a b"), 1);
  EXPECT_EQ(c.counts().images, 1);
  EXPECT_EQ(c.counts().faces, 0);
  EXPECT_EQ(c.images().front().path, other.path);
}

TEST_P(StorageBackends, PeopleRulesHold) {
  Catalog c = Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate);
  std::vector<std::int64_t> face_ids;
  for (int photo = 0; photo < 3; ++photo) {
    ImageRow row;
    row.path = "/p/" + std::to_string(photo) + ".jpg";
    row.hash = "hash" + std::to_string(photo);
    row.status = "ok";
    const std::int64_t id = c.put_image(row);
    FaceRow f;
    f.face.box = {0, 0, 10, 10};
    f.embedding.assign(pack().embedder.dim, 0.f);
    f.embedding[0] = 1;
    c.replace_faces(id, std::span(&f, 1));
    face_ids.push_back(c.faces_of_image(id).front().id);
  }
  const std::int64_t ann = c.add_person("Ann");
  const std::int64_t other = c.add_person();
  expect_error([&] { c.add_person("ann"); }, ErrorCode::kInvalidArgument, {"already has a person named"});
  EXPECT_EQ(c.person_by_name("ANN")->id, ann) << "names are found whatever their case";
  c.assign_face(face_ids[0], ann, true);
  c.assign_face(face_ids[1], other, false);
  c.assign_face(face_ids[2], other, false);
  c.add_rejection(face_ids[2], ann);
  c.add_rejection(face_ids[1], ann);
  c.add_rejection(face_ids[1], other);
  EXPECT_EQ(c.person(other)->faces, 2);
  EXPECT_EQ(c.person(other)->photos, 2);
  // Merging: the faces rejected from Ann stay out; the rejections of both people become Ann's, once.
  EXPECT_EQ(c.merge_people(ann, other), 2);
  EXPECT_FALSE(c.person(other));
  EXPECT_EQ(c.person(ann)->faces, 1);
  EXPECT_FALSE(c.person_of_face(face_ids[2]));
  std::vector<std::pair<std::int64_t, std::int64_t>> rejections;
  for (const RejectionRow& r : c.rejections()) rejections.emplace_back(r.face_id, r.person_id);
  EXPECT_EQ(rejections, (std::vector<std::pair<std::int64_t, std::int64_t>>{{face_ids[1], ann}, {face_ids[2], ann}}));
  EXPECT_EQ(c.unassigned_face_ids(), (std::vector<std::int64_t>{face_ids[2], face_ids[1]})) << "newest first";
  EXPECT_EQ(c.unassigned_face_ids(1), std::vector<std::int64_t>{face_ids[2]});
  EXPECT_EQ(c.unseen_face_ids().size(), 3u);
  c.mark_faces_seen(face_ids);
  EXPECT_FALSE(c.has_unseen_faces());
  const std::int64_t empty = c.add_person();
  EXPECT_EQ(c.remove_empty_people(), 1);
  EXPECT_FALSE(c.person(empty));
  const CatalogStatus st = c.status();
  EXPECT_EQ(st.people, 1);
  EXPECT_EQ(st.named_people, 1);
  EXPECT_EQ(st.faces_with_person, 1);
  EXPECT_GT(st.file_bytes, 0);
}

TEST_P(StorageBackends, IndexingIsIncrementalAndSearchFindsThePerson) {
  const IndexReport first = index({people_dir("obama"), people_dir("biden"), people_dir("Angelina")});
  EXPECT_GT(first.added, 10u);
  EXPECT_EQ(first.errors, 0u);
  const IndexReport again = index({});
  EXPECT_EQ(again.unchanged, first.files) << "nothing changed: nothing is read again";
  EXPECT_EQ(again.added, 0u);

  SearchRequest request;
  Library library = Library::open_for_search(db_, request);
  SearchOptions options;
  const fs::path query = *fs::directory_iterator(people_dir("obama"));
  const SearchReport report = library.search_photo(query, options);
  ASSERT_FALSE(report.matches.empty());
  size_t obama_photos = 0;
  for (const auto& e : fs::directory_iterator(people_dir("obama"))) obama_photos += e.is_regular_file();
  for (const Match& m : report.matches)
    EXPECT_EQ(m.path.parent_path().filename(), "obama") << m.path << " " << m.similarity;
  EXPECT_GE(report.matches.size() + 1, obama_photos * 8 / 10);
  const LibraryStatus status = Library::open_for_reading(db_).status();
  EXPECT_EQ(status.images, static_cast<std::int64_t>(first.files));
  EXPECT_EQ(status.roots.size(), 3u);
  EXPECT_GT(status.people, 0) << "the people pass ran after indexing";
}

TEST_P(StorageBackends, AnotherModelsLibraryIsRefusedWithTheRemedy) {
  { Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate); }
  ModelPack other = pack();
  other.name = "other-pack";
  other.fingerprint = "0123456789abcdef";
  expect_error([&] { Catalog::open(db_, other, Catalog::Mode::kOpenOrCreate); }, ErrorCode::kCatalog,
               {"holds faces of model pack", pack().name, "not of pack other-pack"});
  // A rebuild with the other pack switches it, keeping the folders.
  { Catalog::open(db_, other, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true); }
  EXPECT_EQ(Catalog::inspect(db_).model_name(), "other-pack");
}

// Workers started with --rebuild (or a rebuild run again after an interruption) continue the rebuild
// under way instead of emptying the library again; a rebuild with another pack starts afresh.
TEST_P(StorageBackends, ASecondRebuildContinuesTheOneUnderWay) {
  auto add_photo = [&](Catalog& c, const std::string& path) {
    ImageRow row;
    row.path = path, row.size = 1, row.mtime_ns = 1, row.hash = path, row.status = "ok";
    FaceRow f;
    f.embedding.assign(pack().embedder.dim, 0.f);
    f.embedding[0] = 1.f;
    f.face.detector = "ssd";
    Catalog::Transaction t(c);
    c.replace_faces(c.put_image(row), std::span(&f, 1));
    t.commit();
  };
  {
    Catalog c = Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate);
    for (int i = 0; i < 3; ++i) add_photo(c, "/photos/before" + std::to_string(i) + ".jpg");
  }
  {
    Catalog c = Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate, /*rebuild=*/true);
    EXPECT_EQ(c.counts().images, 0);
    ASSERT_TRUE(c.rebuild_progress());
    EXPECT_EQ(c.rebuild_progress()->images_before, 3);
    add_photo(c, "/photos/rebuilt.jpg");
  }
  {
    // A second worker (or the same command again) joins: what the first stored stays.
    Catalog c = Catalog::open(db_, pack(), Catalog::Mode::kOpenOrCreate, /*rebuild=*/true);
    EXPECT_EQ(c.counts().images, 1);
    EXPECT_EQ(c.counts().faces, 1);
    ASSERT_TRUE(c.rebuild_progress());
    EXPECT_EQ(c.rebuild_progress()->images_before, 3);
  }
  {
    // Another pack: a new rebuild.
    ModelPack other = pack();
    other.name = "other-pack";
    other.fingerprint = "0123456789abcdef";
    Catalog c = Catalog::open(db_, other, Catalog::Mode::kOpenOrCreate, /*rebuild=*/true);
    EXPECT_EQ(c.counts().images, 0);
    EXPECT_EQ(c.model_name(), "other-pack");
  }
}

// The same photos indexed into both back ends give the same faces, and a search the same matches
// with the same scores (pgvector's cosine distance against the SIMD inner product).
TEST(StorageBackendsAgree, SameMatchesAndScoresInSqliteAndPostgreSQL) {
  TempDir tmp;
  const fs::path sqlite_db = tmp.path() / "library.db";
  const fs::path pg_db = testing::pg_test_server().create_database();
  const std::vector<fs::path> roots = {people_dir("obama"), people_dir("biden"), people_dir("Elon"), people_dir("amy")};
  for (const fs::path& db : {sqlite_db, pg_db}) {
    IndexRequest request;
    auto library = Library::open_for_indexing(db, request, true);
    IndexOptions options;
    options.jobs = 2;
    library->index(roots, options);
  }
  EXPECT_EQ(Library::open_for_reading(sqlite_db).status().faces, Library::open_for_reading(pg_db).status().faces);
  for (const IndexKind kind : {IndexKind::kExact, IndexKind::kApprox}) {
    SearchRequest request;
    request.index = kind;
    const Library in_file = Library::open_for_search(sqlite_db, request);
    const Library in_database = Library::open_for_search(pg_db, request);
    EXPECT_EQ(in_database.search_context().index_kind, kind == IndexKind::kExact ? "pgvector-exact" : "pgvector-hnsw");
    for (const char* person : {"obama", "Elon"}) {
      const fs::path query = *fs::directory_iterator(people_dir(person));
      SearchOptions options;
      const auto want = matches_of(in_file.search_photo(query, options));
      const auto got = matches_of(in_database.search_photo(query, options));
      ASSERT_FALSE(want.empty()) << person;
      EXPECT_EQ(got.size(), want.size()) << person;
      for (const auto& [photo, similarity] : want) {
        ASSERT_TRUE(got.count(photo)) << person << ": " << photo << " missing from the PostgreSQL library";
        EXPECT_NEAR(got.at(photo), similarity, 1e-4) << photo;
      }
    }
  }
  testing::pg_test_server().drop_database(pg_db.native());
}

// `serve` searches from several threads, each with its own reader: a PostgreSQL library's searches take
// connections from the index's pool and give the answers one thread gives.
TEST_P(StorageBackends, SearchesFromSeveralThreadsAgreeWithOne) {
  index({people_dir("obama"), people_dir("biden"), people_dir("Elon"), people_dir("amy")});
  SearchRequest request;
  request.photo_queries = false;
  const Library library = Library::open_for_search(db_, request);
  std::vector<std::int64_t> face_ids;
  {
    Catalog catalog = Catalog::inspect(db_);
    for (const auto& [face, image] : catalog.face_images()) face_ids.push_back(face);
  }
  ASSERT_GE(face_ids.size(), 10u);
  SearchOptions options;
  std::vector<std::map<std::string, double>> want;
  for (const auto id : face_ids) want.push_back(matches_of(library.search_face(id, options)));
  std::vector<std::thread> threads;
  std::atomic<int> differ{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const Library reader = library.another_reader();
      for (size_t round = 0; round < 3; ++round)
        for (size_t i = t % 2; i < face_ids.size(); ++i)
          if (matches_of(reader.search_face(face_ids[i], options)) != want[i]) ++differ;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(differ.load(), 0);
}

TEST(PostgresLibrary, ServerErrorsAreClearAndNameTheLibraryWithoutItsPassword) {
  // Nothing listens on the port: unreachable.
  expect_error([] { Catalog::inspect("postgresql://facesearch:secret@127.0.0.1:1/facesearch?connect_timeout=5"); },
               ErrorCode::kIo, {"cannot reach the PostgreSQL server", "postgresql://facesearch@127.0.0.1:1/facesearch"});
  try {
    Catalog::inspect("postgresql://facesearch:secret@127.0.0.1:1/facesearch");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
  // A wrong password over TCP: the login is refused.
  std::string tcp = testing::pg_test_server().tcp_uri();
  const auto at = tcp.find('@');
  const auto colon = tcp.rfind(':', at);
  ASSERT_NE(at, std::string::npos);
  const std::string wrong = tcp.substr(0, colon) + ":not-the-password" + tcp.substr(at);
  expect_error([&] { Catalog::inspect(wrong); }, ErrorCode::kIo, {"refused the login", "check the user and password"});
  // The right one works (an empty database: no library yet).
  expect_error([&] { Catalog::inspect(tcp); }, ErrorCode::kNotFound, {"does not exist yet"});
  // A database that does not exist.
  std::string missing = testing::pg_test_server().uri();
  missing.replace(missing.find("/facesearch?"), std::string("/facesearch?").size(), "/no_such_db?");
  expect_error([&] { Catalog::inspect(missing); }, ErrorCode::kNotFound, {"no_such_db", "does not exist"});
}

TEST(PostgresLibrary, ALibraryOfANewerSchemaIsRefused) {
  const std::string db = testing::pg_test_server().create_database();
  const ModelPack pack = load_named_pack(kDefaultPackName);
  { Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate); }
  {
    PGconn* conn = PQconnectdb(db.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    PQclear(PQexec(conn, "UPDATE meta SET value = '99' WHERE key = 'schema_version'"));
    PQfinish(conn);
  }
  expect_error([&] { Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate); }, ErrorCode::kCatalog,
               {"written by a newer facesearch (schema 99"});
  expect_error([&] { Catalog::inspect(db); }, ErrorCode::kCatalog, {"newer facesearch"});
  testing::pg_test_server().drop_database(db);
}

TEST(PostgresLibrary, ADatabaseOfSomethingElseIsNotTakenForALibrary) {
  const std::string db = testing::pg_test_server().create_database();
  {
    PGconn* conn = PQconnectdb(db.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    PQclear(PQexec(conn, "CREATE TABLE invoices(id int)"));
    PQfinish(conn);
  }
  const ModelPack pack = load_named_pack(kDefaultPackName);
  expect_error([&] { Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate); }, ErrorCode::kCatalog,
               {"a database with other tables, not a facesearch library"});
  expect_error([&] { Catalog::inspect(db); }, ErrorCode::kCatalog, {"not a facesearch library"});
  testing::pg_test_server().drop_database(db);
}

}  // namespace
}  // namespace facesearch

namespace facesearch {
namespace {

// A worker that registers the job's files while another has one of them stored but not yet committed
// waits on that row (the other's transaction took it off the queue); when the other commits, the
// registration goes through as if the file were new. The claim must not hand it out again: the file
// is in the library at that size and time (seen once under load in tests/cli_pg_workers.sh, "nothing
// was analysed twice"). Deterministic: the test waits until the registration is blocked on the lock.
TEST(PostgresLibrary, AFileStoredWhileAnotherWorkerRegistersItIsNotClaimedAgain) {
  const std::string db = testing::pg_test_server().create_database();
  const ModelPack pack = load_named_pack(kDefaultPackName);
  Catalog first = Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate);
  Catalog second = Catalog::open(db, pack, Catalog::Mode::kOpenOrCreate);
  const Catalog::QueuedFile photo{"/photos/a.jpg", 1000, 42};
  {
    Catalog::Transaction t(first);
    EXPECT_EQ(first.queue_files(std::span(&photo, 1)), 1u);
    t.commit();
  }
  ASSERT_EQ(first.claim_files("first", 10, 60).size(), 1u);
  std::atomic<size_t> registered{99};
  {
    Catalog::Transaction storing(first);
    ImageRow row;
    row.path = photo.path;
    row.size = photo.size;
    row.mtime_ns = photo.mtime_ns;
    row.hash = "h";
    row.status = "ok";
    first.put_image(row);
    first.finish_queued_file(photo.path);
    std::thread registering([&] {
      Catalog::Transaction t(second);
      registered = second.queue_files(std::span(&photo, 1));
      t.commit();
    });
    PGconn* watch = PQconnectdb(db.c_str());
    ASSERT_EQ(PQstatus(watch), CONNECTION_OK);
    bool waiting = false;
    for (int i = 0; i < 3000 && !waiting; ++i) {
      PGresult* r = PQexec(watch, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      waiting = PQresultStatus(r) == PGRES_TUPLES_OK && std::string(PQgetvalue(r, 0, 0)) != "0";
      PQclear(r);
      if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    PQfinish(watch);
    EXPECT_TRUE(waiting) << "the second registration never waited on the first worker's row";
    storing.commit();
    registering.join();
  }
  std::printf("registration after the store: %zu new\n", registered.load());
  // Whatever the registration did, the stored file is nobody's work any more.
  EXPECT_TRUE(second.claim_files("second", 10, 60).empty());
  EXPECT_EQ(second.queue_state().files, 0);
  testing::pg_test_server().drop_database(db);
}

}  // namespace
}  // namespace facesearch
