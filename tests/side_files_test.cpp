// The side files next to a library (LIBRARY.vectors, LIBRARY.hnsw) are trusted only when they belong to
// this library as it is now and are whole (issue 10, items 1-3): another library's files, damaged bytes
// and damaged graphs are never used, searches still find the true matches, and `index` rewrites them.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "index/hnsw_index.h"
#include "search/library_search.h"
#include "store/vector_files.h"
#include "store/side_files.h"
#include "store/indexer.h"
#include "test_support.h"

namespace facesearch {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

fs::path person(const char* who) { return testing::testdata_dir() / "faces" / "people" / who; }

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

void write_bytes(const fs::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A library's .db alone (the catalog is closed, so its WAL is folded in): what a user copies around.
void copy_db(const fs::path& from, const fs::path& to) { fs::copy_file(from, to, fs::copy_options::overwrite_existing); }

void remove_db(const fs::path& db) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
}

// Commits changes that leave the rows as they were (an image added and deleted) until the catalog's
// generation is `generation`: two libraries that count their changes from 1 meet at the same
// generation sooner or later, this makes it now.
void bump_generation_to(Catalog& c, std::int64_t generation) {
  while (c.generation() < generation) {
    Catalog::Transaction t(c);
    ImageRow row;
    row.path = "/synthetic/bump.jpg";
    row.status = "ok";
    c.delete_image(c.put_image(row));
    t.commit();
  }
}

class SideFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pack_ = new ModelPack(load_model_pack(testing::models_dir()));
    pipeline_ = new FacePipeline(*pack_, {});
    templates_ = new TempDir;
    // Obama's photos, indexed once and copied by the tests that need them (a copy keeps the library id,
    // as a user's copy would).
    Catalog c = Catalog::open(obama_template(), *pack_, Catalog::Mode::kOpenOrCreate);
    index(c, "obama");
  }
  static void TearDownTestSuite() {
    delete templates_;
    delete pipeline_;
    delete pack_;
  }
  static fs::path obama_template() { return templates_->path() / "obama.db"; }
  static int dim() { return pipeline_->embedding_dim(); }

  static void index(Catalog& c, const char* who) {
    const fs::path roots[] = {person(who)};
    IndexOptions o;
    o.batch_images = 4;
    o.jobs = 2;
    index_library(c, *pipeline_, roots, o);
  }

  // Every match of each of the person's photos (those with a face), with any similarity.
  static std::vector<Match> search_photos_of(const Catalog& c, const VectorIndex& index, const char* who) {
    std::vector<Match> all;
    SearchOptions o;
    o.threshold = 0;
    for (const auto& e : fs::directory_iterator(person(who))) {
      try {
        const auto report = search_index(c, index, *pipeline_, e.path(), o);
        all.insert(all.end(), report.matches.begin(), report.matches.end());
      } catch (const Error& err) {
        EXPECT_EQ(err.code(), ErrorCode::kNoFace) << e.path() << ": " << err.what();
      }
    }
    return all;
  }

  static std::vector<std::int64_t> catalog_ids(const Catalog& c, std::vector<float>* vectors = nullptr) {
    std::vector<std::int64_t> ids;
    c.for_each_embedding([&](std::int64_t id, std::span<const float> v) {
      ids.push_back(id);
      if (vectors) vectors->insert(vectors->end(), v.begin(), v.end());
    });
    return ids;
  }

  static bool has_warning(const std::vector<SideFileWarning>& warnings, const fs::path& path, const std::string& text) {
    return std::any_of(warnings.begin(), warnings.end(), [&](const SideFileWarning& w) {
      return w.path == path && w.problem.find(text) != std::string::npos;
    });
  }

  static inline ModelPack* pack_ = nullptr;
  static inline FacePipeline* pipeline_ = nullptr;
  static inline TempDir* templates_ = nullptr;
};

TEST_F(SideFiles, EveryLibraryHasItsOwnIdKeptByRebuildAndGivenToOlderLibraries) {
  TempDir tmp;
  std::string first;
  {
    Catalog a = Catalog::open(tmp.path() / "a.db", *pack_, Catalog::Mode::kOpenOrCreate);
    Catalog b = Catalog::open(tmp.path() / "b.db", *pack_, Catalog::Mode::kOpenOrCreate);
    first = a.library_id();
    EXPECT_EQ(first.size(), 32u);
    EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos) << first;
    EXPECT_NE(b.library_id(), first);
  }
  EXPECT_EQ(Catalog::open(tmp.path() / "a.db", *pack_, Catalog::Mode::kOpenExisting, /*rebuild=*/true).library_id(),
            first);
  // A library made before library ids existed gets one on its next writable open.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((tmp.path() / "a.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'library_id'", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  const std::string given = Catalog::open(tmp.path() / "a.db", *pack_, Catalog::Mode::kOpenExisting).library_id();
  EXPECT_EQ(given.size(), 32u);
  EXPECT_NE(given, first);
  EXPECT_EQ(Catalog::open(tmp.path() / "a.db", *pack_, Catalog::Mode::kOpenExisting).library_id(), given);
}

// Item 1, as reported: index obama, delete the library, index Tony Blair into the same path, search an
// obama photo. The old vectors file matched the new library's model and generation, so its obama rows
// were searched under Tony Blair's face ids: Tony Blair's photos at similarity 1.000.
TEST_F(SideFiles, VectorsFileOfADeletedLibraryIsNotUsedByTheNewOneAndIndexRewritesIt) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  std::int64_t obama_generation = 0;
  {
    Catalog obama = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
    index(obama, "obama");
    bump_generation_to(obama, 50);  // ahead of what indexing Tony Blair's photos commits
    ASSERT_TRUE(update_vectors_file(obama, dim()));
    obama_generation = obama.generation();
  }
  remove_db(db);
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenOrCreate);
  index(c, "Tony_Blair");
  bump_generation_to(c, obama_generation);
  const auto tony_faces = static_cast<size_t>(c.status().faces);
  ASSERT_GE(tony_faces, 4u);

  std::vector<SideFileWarning> warnings;
  const auto index = build_vector_index(c, IndexKind::kAuto, dim(), &warnings);
  EXPECT_EQ(index->size(), tony_faces);
  EXPECT_TRUE(has_warning(warnings, vectors_file_path(c), "another library"));
  for (const auto& m : search_photos_of(c, *index, "obama"))
    EXPECT_LT(m.similarity, 0.99f) << m.path << " matched an obama photo";

  // `index` rewrites it: then it holds exactly the new library's faces, and is used without a warning.
  ASSERT_TRUE(update_vectors_file(c, dim()));
  std::vector<float> want_vectors, vectors;
  const auto want_ids = catalog_ids(c, &want_vectors);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(load_current_vectors(c, dim(), ids, vectors));
  EXPECT_EQ(ids, want_ids);
  EXPECT_EQ(vectors, want_vectors);
  warnings.clear();
  const auto mapped = build_vector_index(c, IndexKind::kAuto, dim(), &warnings);
  EXPECT_TRUE(warnings.empty());
  for (const auto& m : search_photos_of(c, *mapped, "obama")) EXPECT_LT(m.similarity, 0.99f) << m.path;
  const auto tony = search_photos_of(c, *mapped, "Tony_Blair");
  EXPECT_GE(tony.size(), 4u);
}

// Every way of changing images or faces moves the generation on when it is committed, without the caller
// doing anything else: the side files written before (.vectors and .hnsw) are not used until they are
// written again; a rebuild too, even when it reads the same photos back under the same face ids.
TEST_F(SideFiles, EveryCommittedChangeOfRowsMakesTheSideFilesStaleUntilRefreshed) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  copy_db(obama_template(), db);
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  const std::vector<ImageRow> images = c.images();
  ASSERT_GE(images.size(), 4u);
  const std::vector<FaceRow> first_faces = c.faces_of_image(images[0].id);
  ASSERT_FALSE(first_faces.empty());
  ImageRow added;
  added.path = "/synthetic/added.jpg";
  added.status = "ok";
  // A folder per pass that really holds photos with faces, for forget_folder to forget.
  const auto folder_of_pass = [](int pass) { return fs::path("/synthetic/folder" + std::to_string(pass)); };
  for (const int pass : {0, 1}) {
    Catalog::Transaction t(c);
    for (const char* name : {"a.jpg", "b.jpg"}) {
      ImageRow row = added;
      row.path = folder_of_pass(pass) / name;
      c.replace_faces(c.put_image(row), first_faces);
    }
    t.commit();
  }
  int pass = 0;

  const std::vector<std::pair<const char*, std::function<void()>>> changes = {
      {"put_image", [&] { c.put_image(added); }},
      {"replace_faces", [&] { c.replace_faces(images[0].id, first_faces); }},
      {"move_image", [&] { c.move_image(images[1].id, "/synthetic/moved.jpg", 1, 1); }},
      {"delete_image", [&] { c.delete_image(images[2].id); }},
      {"forget_folder", [&] {
         const std::int64_t faces = c.status().faces;
         EXPECT_EQ(c.forget_folder(folder_of_pass(pass)), 2);
         EXPECT_EQ(c.status().faces, faces - 2 * static_cast<std::int64_t>(first_faces.size()));
       }},
  };
  // Both side files written and current (the .hnsw too, though so few faces would not need one).
  const auto refresh = [&](const char* name) {
    ASSERT_TRUE(update_vectors_file(c, dim()));
    ASSERT_TRUE(update_approx_index_file(c, dim(), 1));
    std::vector<std::int64_t> ids;
    std::vector<float> vectors;
    ASSERT_TRUE(load_current_vectors(c, dim(), ids, vectors)) << name;
    ASSERT_TRUE(load_current_approx_index(c, dim())) << name;
  };
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  for (const bool in_transaction : {true, false}) {
    pass = in_transaction ? 0 : 1;
    for (const auto& [name, change] : changes) {
      refresh(name);
      const std::int64_t before = c.generation();
      if (in_transaction) {
        Catalog::Transaction t(c);
        change();
        EXPECT_EQ(c.generation(), before) << name << ": bumped before the commit";
        t.commit();
      } else {
        change();  // a statement outside a transaction commits at once
      }
      EXPECT_GT(c.generation(), before) << name << (in_transaction ? " in a transaction" : " on its own");
      EXPECT_FALSE(load_current_vectors(c, dim(), ids, vectors))
          << name << ": the vectors file was taken for current after a change";
      EXPECT_FALSE(load_current_approx_index(c, dim())) << name << ": the .hnsw was taken for current after a change";
    }
  }
  // A transaction rolled back changes nothing, and neither does a commit that changed no rows.
  refresh("nothing");
  const std::int64_t before = c.generation();
  { Catalog::Transaction t(c); c.put_image(added); }
  { Catalog::Transaction t(c); t.commit(); }
  EXPECT_EQ(c.generation(), before);
  EXPECT_TRUE(load_current_vectors(c, dim(), ids, vectors));
  EXPECT_TRUE(load_current_approx_index(c, dim()));
  // Refreshed: current again, holding the catalog's faces.
  c.put_image(added);
  refresh("put_image, refreshed");
  ASSERT_TRUE(load_current_vectors(c, dim(), ids, vectors));
  std::vector<float> want_vectors;
  EXPECT_EQ(ids, catalog_ids(c, &want_vectors));
  EXPECT_EQ(vectors, want_vectors);
  const auto approx = load_current_approx_index(c, dim());
  ASSERT_TRUE(approx);
  EXPECT_EQ(approx->size(), ids.size());

  // A rebuild (a writable open with rebuild = true) empties the library: stale at once, and still stale
  // once the same photos are read back under the same face ids, which only the generation tells apart.
  const fs::path rebuilt = tmp.path() / "rebuilt.db";
  copy_db(obama_template(), rebuilt);
  c = Catalog::open(rebuilt, *pack_, Catalog::Mode::kOpenExisting);
  refresh("before the rebuild");
  const std::vector<std::int64_t> ids_before = catalog_ids(c);
  const std::int64_t generation_before = c.generation();
  c = Catalog::open(rebuilt, *pack_, Catalog::Mode::kOpenExisting, /*rebuild=*/true);
  EXPECT_GT(c.generation(), generation_before);
  EXPECT_EQ(c.status().faces, 0);
  EXPECT_FALSE(load_current_vectors(c, dim(), ids, vectors)) << "rebuild: the vectors file was taken for current";
  EXPECT_FALSE(load_current_approx_index(c, dim())) << "rebuild: the .hnsw was taken for current";
  index(c, "obama");
  EXPECT_EQ(catalog_ids(c), ids_before);
  EXPECT_FALSE(load_current_vectors(c, dim(), ids, vectors)) << "rebuilt: the vectors file was taken for current";
  EXPECT_FALSE(load_current_approx_index(c, dim())) << "rebuilt: the .hnsw was taken for current";
  refresh("rebuilt, refreshed");
}

// Another library's .db copied over this one: its side files are not matched with it.
TEST_F(SideFiles, ADatabaseCopiedOverALibraryDoesNotUseTheSideFilesFoundThere) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db", other = tmp.path() / "other.db";
  std::int64_t generation = 0;
  {
    Catalog c = Catalog::open(other, *pack_, Catalog::Mode::kOpenOrCreate);
    index(c, "Tony_Blair");
    generation = c.generation();
  }
  copy_db(obama_template(), db);
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
    bump_generation_to(c, generation);
    ASSERT_TRUE(update_vectors_file(c, dim()));
    ASSERT_TRUE(update_approx_index_file(c, dim(), /*min_faces=*/1));
    generation = c.generation();
  }
  {
    Catalog c = Catalog::open(other, *pack_, Catalog::Mode::kOpenExisting);
    bump_generation_to(c, generation);
  }
  copy_db(other, db);

  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  ASSERT_EQ(c.generation(), generation);
  std::vector<SideFileWarning> warnings;
  const auto index = build_vector_index(c, IndexKind::kPreferSaved, dim(), &warnings);
  EXPECT_EQ(index->kind(), "exact");
  EXPECT_EQ(index->size(), static_cast<size_t>(c.status().faces));
  EXPECT_TRUE(has_warning(warnings, vectors_file_path(c), "another library"));
  EXPECT_TRUE(has_warning(warnings, approx_index_path(c), "another library"));
  EXPECT_FALSE(load_current_approx_index(c, dim()));
  for (const auto& m : search_photos_of(c, *index, "obama")) EXPECT_LT(m.similarity, 0.99f) << m.path;
}

// A copy of this same library (same id) that went its own way and reached the same generation: the
// catalog's record of the side file it last wrote tells them apart (face ids collide: both start at 1).
TEST_F(SideFiles, ACopyOfTheSameLibraryThatChangedIsNotMatchedWithTheOriginalsSideFiles) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db", copy = tmp.path() / "copy.db";
  copy_db(obama_template(), db);
  copy_db(obama_template(), copy);
  std::int64_t generation = 0;
  {
    Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
    index(c, "Tony_Blair");
    bump_generation_to(c, c.generation() + 50);  // ahead of what indexing Laura Bush's photos commits
    ASSERT_TRUE(update_vectors_file(c, dim()));
    generation = c.generation();
  }
  {
    Catalog c = Catalog::open(copy, *pack_, Catalog::Mode::kOpenExisting);
    index(c, "Laura_Bush");
    bump_generation_to(c, generation);
  }
  copy_db(copy, db);

  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  ASSERT_EQ(c.generation(), generation);
  std::vector<float> vectors;
  std::vector<std::int64_t> ids;
  EXPECT_FALSE(load_current_vectors(c, dim(), ids, vectors));
  const auto index = build_vector_index(c, IndexKind::kExact, dim());
  // Tony Blair is not in this library: with the original's file, his photos came back as Laura Bush's.
  for (const auto& m : search_photos_of(c, *index, "Tony_Blair")) EXPECT_LT(m.similarity, 0.99f) << m.path;
  ASSERT_TRUE(update_vectors_file(c, dim()));
  ASSERT_TRUE(load_current_vectors(c, dim(), ids, vectors));
  EXPECT_EQ(ids, catalog_ids(c));
}

// Item 2: random bytes after a valid header were searched as embeddings (similarities like 1.4e37, true
// matches lost), and `index` kept the file.
TEST_F(SideFiles, RandomBytesInTheVectorsFileAreNeverSearchedAndIndexRepairsThem) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  copy_db(obama_template(), db);
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  auto true_matches = [&](const std::vector<Match>& matches) {
    size_t n = 0;
    for (const auto& m : matches) {
      EXPECT_TRUE(std::isfinite(m.similarity) && m.similarity <= 1.0001f) << m.similarity;
      n += m.similarity >= pack_->threshold && m.path.parent_path().filename() == "obama";
    }
    return n;
  };
  const size_t want = true_matches(search_photos_of(c, *build_vector_index(c, IndexKind::kExact, dim()), "obama"));
  ASSERT_GE(want, 8u);  // the obama photos find one another
  ASSERT_TRUE(update_vectors_file(c, dim()));
  const auto path = vectors_file_path(c);
  auto bytes = read_bytes(path);
  SideFileHeader header;
  std::string problem;
  ASSERT_EQ(read_side_file_header(bytes, SideFileKind::kVectors, header, problem), SideFileFault::kNone) << problem;
  std::mt19937 rng(10);
  for (size_t i = header.payload_offset; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(rng());
  write_bytes(path, bytes);

  std::vector<SideFileWarning> warnings;
  const auto index = build_vector_index(c, IndexKind::kAuto, dim(), &warnings);
  EXPECT_TRUE(has_warning(warnings, path, "damaged"));
  EXPECT_EQ(true_matches(search_photos_of(c, *index, "obama")), want);

  ASSERT_TRUE(update_vectors_file(c, dim()));  // repaired
  std::vector<float> want_vectors, vectors;
  const auto want_ids = catalog_ids(c, &want_vectors);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(load_current_vectors(c, dim(), ids, vectors));
  EXPECT_EQ(ids, want_ids);
  EXPECT_EQ(vectors, want_vectors);
}

// Every single-byte change of a vectors file is caught: the file no longer parses, or its header no
// longer describes the library it was written for.
TEST_F(SideFiles, NoSingleByteChangeOfAVectorsFilePassesForTheOriginal) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  copy_db(obama_template(), db);
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  ASSERT_TRUE(update_vectors_file(c, dim()));
  const auto original = read_bytes(vectors_file_path(c));
  const auto parsed = parse_vectors_file(original);
  ASSERT_EQ(parsed.fault, SideFileFault::kNone) << parsed.problem;
  const SideFileHeader& want = parsed.header;
  EXPECT_EQ(want.library_id, c.library_id());
  EXPECT_EQ(want.faces, static_cast<std::uint64_t>(c.status().faces));

  std::mt19937 rng(11);
  std::vector<std::byte> bytes;
  for (int trial = 0; trial < 3000; ++trial) {
    bytes = original;
    const size_t at = trial < 1000 ? trial % want.payload_offset : rng() % bytes.size();  // the header, then anywhere
    bytes[at] ^= static_cast<std::byte>(1 + rng() % 255);
    const auto view = parse_vectors_file(bytes);
    if (view.fault != SideFileFault::kNone) continue;
    const auto& h = view.header;
    EXPECT_TRUE(h.record() != want.record() || h.library_id != want.library_id ||
                h.model_fingerprint != want.model_fingerprint || h.dim != want.dim)
        << "byte " << at << " changed and the file still passes";
  }
  bytes = original;
  bytes.resize(bytes.size() - 1);
  EXPECT_EQ(parse_vectors_file(bytes).fault, SideFileFault::kDamaged);
  bytes = original;
  bytes.push_back(std::byte{0});
  EXPECT_EQ(parse_vectors_file(bytes).fault, SideFileFault::kDamaged);
}

// Where the arrays of a saved graph lie in save_approx_index's layout: params, then ids, vectors,
// assign_probas, cum_nneighbor_per_level, levels, offsets, neighbors (each a u64 count and its items),
// then entry_point and max_level.
struct GraphLayout {
  size_t ids = 0, levels = 0, offsets = 0, neighbors = 0, entry_point = 0, max_level = 0;
  std::uint64_t n = 0, neighbor_count = 0, level_count = 0;
  explicit GraphLayout(std::span<const std::byte> g) {
    size_t at = 3 * sizeof(std::int32_t);
    auto array = [&](size_t item_bytes, std::uint64_t* count = nullptr) {
      std::uint64_t k = 0;
      std::memcpy(&k, g.data() + at, sizeof k);
      if (count) *count = k;
      const size_t first = at + sizeof k;
      at = first + k * item_bytes;
      return first;
    };
    ids = array(sizeof(std::int64_t), &n);
    array(1);
    array(sizeof(double), &level_count);
    array(sizeof(int));
    levels = array(sizeof(int));
    offsets = array(sizeof(size_t));
    neighbors = array(sizeof(std::int32_t), &neighbor_count);
    entry_point = at;
    max_level = at + sizeof(std::int32_t);
  }
};

template <typename T>
T get(std::span<const std::byte> bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}
template <typename T>
void put(std::span<std::byte> bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

// Item 3: a damaged .hnsw crashed search. Each damage below is given a matching checksum (and the
// catalog a matching record), so that only the graph's own checks stand between it and the walk: the
// search falls back to the exact index with a warning, finds the true matches, and `index` rebuilds it.
TEST_F(SideFiles, DamagedApproximateIndexIsIgnoredWithAWarningAndRebuiltByIndex) {
  TempDir tmp;
  const fs::path db = tmp.path() / "lib.db";
  copy_db(obama_template(), db);
  Catalog c = Catalog::open(db, *pack_, Catalog::Mode::kOpenExisting);
  ASSERT_TRUE(update_vectors_file(c, dim()));
  ASSERT_TRUE(update_approx_index_file(c, dim(), /*min_faces=*/1));
  ASSERT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim())->kind(), "hnsw");
  const auto path = approx_index_path(c);
  const auto original = read_bytes(path);
  SideFileHeader header;
  std::string problem;
  ASSERT_EQ(read_side_file_header(original, SideFileKind::kApproxIndex, header, problem), SideFileFault::kNone);
  const auto graph = std::span(original).subspan(header.payload_offset);
  const GraphLayout layout(graph);
  ASSERT_EQ(layout.n, static_cast<std::uint64_t>(c.status().faces));
  ASSERT_GE(layout.n, 3u);
  const int max_level = get<std::int32_t>(graph, layout.max_level);
  // What an exact search finds for two of the photos.
  auto obama_matches = [&](const VectorIndex& index) {
    size_t found = 0;
    for (const char* photo : {"fr_obama.jpg", "fr_obama2.jpg"})
      for (const auto& m : search_index(c, index, *pipeline_, person("obama") / photo, {}).matches)
        found += m.path.parent_path().filename() == "obama";
    return found;
  };
  const size_t want = obama_matches(*build_vector_index(c, IndexKind::kExact, dim()));
  ASSERT_GE(want, 4u);

  // Writes a file whose graph is `damaged` under a valid header, checksum and catalog record.
  auto install = [&](std::vector<std::byte> damaged) {
    std::ostringstream out;
    SideFileHeader h = header;
    write_side_file(out, h, [&](std::ostream& payload) {
      payload.write(reinterpret_cast<const char*>(damaged.data()), static_cast<std::streamsize>(damaged.size()));
    });
    const std::string s = out.str();
    write_bytes(path, std::as_bytes(std::span(s.data(), s.size())));
    c.set_derived_file_record("hnsw", h.record());
  };
  struct Damage {
    const char* what;
    std::function<void(std::vector<std::byte>&)> apply;
  };
  const std::vector<Damage> damages = {
      {"offsets that decrease", [&](auto& g) { put<size_t>(g, layout.offsets + sizeof(size_t), 1u << 20); }},
      {"offsets that overlap", [&](auto& g) { put<size_t>(g, layout.offsets + sizeof(size_t), get<size_t>(g, layout.offsets + sizeof(size_t)) - 1); }},
      {"a node on a level that does not exist", [&](auto& g) { put<int>(g, layout.levels, static_cast<int>(layout.level_count) + 5); }},
      {"a node on no level", [&](auto& g) { put<int>(g, layout.levels + sizeof(int), 0); }},
      {"a node on more levels than its links", [&](auto& g) { put<int>(g, layout.levels + sizeof(int), get<int>(g, layout.levels + sizeof(int)) + 1); }},
      {"max_level beyond the levels", [&](auto& g) { put<std::int32_t>(g, layout.max_level, 40); }},
      {"max_level above the entry point's", [&](auto& g) { put<std::int32_t>(g, layout.max_level, max_level + 1); }},
      {"max_level negative", [&](auto& g) { put<std::int32_t>(g, layout.max_level, -7); }},
      {"entry point past the end", [&](auto& g) { put<std::int32_t>(g, layout.entry_point, static_cast<std::int32_t>(layout.n) + 3); }},
      {"entry point negative", [&](auto& g) { put<std::int32_t>(g, layout.entry_point, -2); }},
      {"a link past the end", [&](auto& g) { put<std::int32_t>(g, layout.neighbors, static_cast<std::int32_t>(layout.n)); }},
      {"a link below -1", [&](auto& g) { put<std::int32_t>(g, layout.neighbors, -9); }},
      {"an array size beyond the file", [&](auto& g) { put<std::uint64_t>(g, layout.neighbors - 8, layout.neighbor_count * 1000); }},
      {"an ids array larger than the graph", [&](auto& g) { put<std::uint64_t>(g, layout.ids - 8, layout.n + 1); }},
      {"a graph cut short", [&](auto& g) { g.resize(g.size() - 6); }},
      {"trailing bytes", [&](auto& g) { g.push_back(std::byte{1}); }},
  };
  for (const auto& d : damages) {
    SCOPED_TRACE(d.what);
    std::vector<std::byte> damaged(graph.begin(), graph.end());
    d.apply(damaged);
    // The graph's own loader refuses it...
    if (std::string(d.what) != "trailing bytes") {
      std::istringstream in(std::string(reinterpret_cast<const char*>(damaged.data()), damaged.size()));
      EXPECT_THROW(load_approx_index(in, dim()), Error);
    }
    // ...and a search over the library warns, searches exactly and finds obama's photos.
    install(damaged);
    std::vector<SideFileWarning> warnings;
    const auto index = build_vector_index(c, IndexKind::kPreferSaved, dim(), &warnings);
    EXPECT_EQ(index->kind(), "exact");
    EXPECT_TRUE(has_warning(warnings, path, "damaged"));
    EXPECT_EQ(obama_matches(*index), want);
  }

  // Bytes damaged in place (the checksum no longer matches) and a file cut short.
  for (const size_t at : {header.payload_offset + layout.offsets + 3, header.payload_offset + layout.neighbors + 1,
                          original.size() - 2, header.payload_offset - 1}) {
    auto bytes = original;
    bytes[at] ^= std::byte{0x5a};
    write_bytes(path, bytes);
    c.set_derived_file_record("hnsw", header.record());
    std::vector<SideFileWarning> warnings;
    EXPECT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim(), &warnings)->kind(), "exact") << at;
    EXPECT_FALSE(warnings.empty()) << at;
  }
  write_bytes(path, std::span(original).first(original.size() / 2));
  std::vector<SideFileWarning> warnings;
  EXPECT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim(), &warnings)->kind(), "exact");
  EXPECT_TRUE(has_warning(warnings, path, "damaged"));

  // `index` rebuilds it.
  ASSERT_TRUE(update_approx_index_file(c, dim(), 1));
  warnings.clear();
  EXPECT_EQ(build_vector_index(c, IndexKind::kPreferSaved, dim(), &warnings)->kind(), "hnsw");
  EXPECT_TRUE(warnings.empty());
}

// Many random single-byte changes of a real saved graph (seeded): each one is refused by the loader or
// gives an index that both graph walks search without crashing, returning only the graph's own ids.
TEST_F(SideFiles, RandomByteChangesOfASavedGraphNeverCrashASearch) {
  constexpr int kDim = 8;  // small rows: most bytes of the graph are its links, levels and offsets
  std::mt19937 rng(12);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<std::int64_t> ids;
  std::vector<float> vectors;
  for (int i = 0; i < 400; ++i) {
    ids.push_back(1000 + i);
    std::vector<float> v(kDim);
    for (auto& x : v) x = noise(rng);
    float norm = 0;
    for (const float x : v) norm += x * x;
    for (auto& x : v) x /= std::sqrt(norm);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  std::string saved;
  {
    auto index = make_approx_index(kDim);
    index->add(ids, vectors);
    std::ostringstream out;
    save_approx_index(*index, out);
    saved = out.str();
  }
  const GraphLayout layout(std::as_bytes(std::span(saved.data(), saved.size())));
  const std::set<std::int64_t> known(ids.begin(), ids.end());
  const std::span<const float> queries(vectors.data(), 4 * kDim);
  int refused = 0, loaded = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string damaged = saved;
    // Half of the changes land in the graph's structure (levels, offsets, links, entry point, top level).
    const size_t at = trial % 2 ? layout.levels - 8 + rng() % (damaged.size() - layout.levels + 8) : rng() % damaged.size();
    damaged[at] = static_cast<char>(damaged[at] ^ static_cast<char>(1 + rng() % 255));
    std::istringstream in(damaged);
    std::unique_ptr<index_detail::HnswIndex> index;
    try {
      index = index_detail::load_hnsw_index(in, kDim);
    } catch (const Error&) {
      ++refused;
      continue;
    }
    ++loaded;
    for (const bool own : {true, false}) {
      index->set_own_graph_walk(own);
      for (const auto& found : index->search(queries, 10, -2))
        for (const auto& n : found) EXPECT_TRUE(known.count(n.id) || at < layout.levels) << "byte " << at;
    }
  }
  EXPECT_GT(refused, 100);  // both outcomes are exercised
  EXPECT_GT(loaded, 100);
}

}  // namespace
}  // namespace facesearch
