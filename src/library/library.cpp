#include "library/library.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <set>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/file_io.h"
#include "models/pack_registry.h"
#include "people/people.h"
#include "search/folder_search.h"
#include "search/library_search.h"

namespace facesearch {

namespace fs = std::filesystem;

namespace {

// The pack a library built with `library_pack` (its meta row; "" when unknown) is used with.
ModelPack choose_pack(const PackRequest& request, const fs::path& library, const std::string& library_pack) {
  if (!request.models_dir.empty()) return load_model_pack(request.models_dir);
  if (!request.name.empty()) return load_named_pack(request.name);
  if (const char* env = std::getenv("FACESEARCH_MODELS"); env && *env) return load_model_pack(env);
  // The library remembers its pack: a later index run or search needs no pack named.
  if (!library_pack.empty() && library_pack != kDefaultPackName) {
    if (const auto entry = find_pack(library_pack)) return load_pack_folder(entry->dir, entry->name);
    throw Error(ErrorCode::kModel,
                "library " + library.string() + " was built with model pack " + library_pack +
                    ", which is not installed or found",
                Hint{Remedy::kInstallPackOrRebuild, library_pack});
  }
  return load_model_pack(resolve_models_dir(std::nullopt));
}

}  // namespace

ModelPack choose_model_pack(const PackRequest& request, const fs::path* library) {
  std::string name;
  std::error_code ec;
  if (library && (is_database_address(*library) || fs::exists(*library, ec))) {
    try {
      name = Catalog::inspect(*library).model_name();  // not status(): its counts fail on a damaged library
    } catch (const Error&) {
      // A damaged or foreign library: opening it reports that, with the pack chosen without it.
    }
  }
  return choose_pack(request, library ? *library : fs::path(), name);
}

fs::path default_library_path() { return default_catalog_path(); }

void require_library(const fs::path& db) {
  std::error_code ec;
  if (is_database_address(db)) return;  // Catalog::inspect says when the database holds none
  if (!fs::exists(db, ec))
    throw Error(ErrorCode::kNotFound, "no library at " + fs::absolute(db, ec).string(),
                Hint{Remedy::kIndexFirst, ""});
}

struct Library::State {
  Catalog catalog;
  std::optional<ModelPack> pack;              // unset: opened for reading
  // Indexing, and searches by photo. Shared (never changed after opening) with the handles that
  // another_reader() makes, like the vector index.
  std::shared_ptr<const FacePipeline> pipeline;
  std::shared_ptr<const VectorIndex> index;  // searches
  SearchContext context;
  bool writable = false;  // opened for indexing or editing
};

Library::Library(std::unique_ptr<State> state) : state_(std::move(state)) {}
Library::~Library() = default;
Library::Library(Library&&) noexcept = default;
Library& Library::operator=(Library&&) noexcept = default;

Library Library::open_for_reading(const fs::path& db) {
  require_library(db);
  return Library(std::make_unique<State>(State{Catalog::inspect(db), std::nullopt, nullptr, nullptr, {}}));
}

Library Library::open_for_search(const fs::path& db, const SearchRequest& request) {
  require_library(db);
  // Opened once: read-only (never writes, see Catalog::inspect), then its pack chosen and checked.
  Catalog catalog = Catalog::inspect(db);
  ModelPack pack = choose_pack(request.pack, db, catalog.model_name());
  catalog.check_pack(pack);
  auto state = std::make_unique<State>(State{std::move(catalog), std::move(pack), nullptr, nullptr, {}});
  // A photo query needs the networks; a face-id query only the stored embedding.
  if (request.photo_queries)
    state->pipeline = std::make_shared<const FacePipeline>(*state->pack, RuntimeOptions{}, request.detection);

  const auto start = std::chrono::steady_clock::now();
  SearchContext& context = state->context;
  state->index = build_vector_index(state->catalog, request.index, state->pack->embedder.dim,
                                    &context.side_file_warnings);
  context.library = state->catalog.path();
  context.index_kind = state->index->kind();
  context.rebuild = state->catalog.rebuild_progress();
  context.index_build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return Library(std::move(state));
}

std::optional<Library> Library::open_for_indexing(const fs::path& db, const IndexRequest& request, bool create) {
  std::error_code ec;
  if (!create && !is_database_address(db) && !fs::exists(db, ec))
    // Checked before anything is created, so a mistaken run leaves no empty library behind.
    throw Error(ErrorCode::kInvalidArgument, "no library at " + fs::absolute(db, ec).string() + " yet",
                Hint{Remedy::kNameFolders, ""});
  // The pack the library was built with, read once, read-only (Catalog::inspect), before the pack is
  // chosen; not status(): its counts fail on a damaged library.
  std::string library_pack;
  if (is_database_address(db) || fs::exists(db, ec)) {
    try {
      library_pack = Catalog::inspect(db).model_name();
    } catch (const Error&) {
      // A damaged or foreign library: Catalog::open below reports that, with the pack chosen without it.
    }
  }
  // The models are loaded and checked before the library is opened for writing: a rebuild empties it,
  // which must not happen when the pack or the detection choice turns out not to work.
  FacePipeline pipeline(choose_pack(request.pack, db, library_pack), RuntimeOptions{}, request.detection);
  if (request.cancel && request.cancel->load()) return std::nullopt;
  const ModelPack& pack = pipeline.pack();
  check_analysis_options(pack, request.analysis);
  Catalog catalog = Catalog::open(db, pack, create ? Catalog::Mode::kOpenOrCreate : Catalog::Mode::kOpenExisting,
                                  request.rebuild);
  auto state = std::make_unique<State>(State{std::move(catalog), pack, nullptr, nullptr, {}});
  state->pipeline = std::make_shared<const FacePipeline>(std::move(pipeline));
  state->writable = true;
  return Library(std::move(state));
}

Library Library::open_for_editing(const fs::path& db, const PackRequest& request) {
  require_library(db);
  std::string library_pack;
  try {
    library_pack = Catalog::inspect(db).model_name();
  } catch (const Error&) {
    // A damaged or foreign library: Catalog::open below reports that.
  }
  ModelPack pack = choose_pack(request, db, library_pack);
  Catalog catalog = Catalog::open(db, pack, Catalog::Mode::kOpenExisting);
  auto state = std::make_unique<State>(State{std::move(catalog), std::move(pack), nullptr, nullptr, {}});
  state->writable = true;
  return Library(std::move(state));
}

Library Library::another_reader() const {
  if (!state_->index) throw std::logic_error("Library::another_reader: not opened for search");
  // Its own read-only connection (Catalog::inspect), on the catalog this one checked against the pack.
  auto state = std::make_unique<State>(State{state_->catalog.another_reader(), state_->pack, state_->pipeline, state_->index,
                                             state_->context});
  return Library(std::move(state));
}

const fs::path& Library::path() const { return state_->catalog.path(); }
const ModelPack* Library::pack() const { return state_->pack ? &*state_->pack : nullptr; }
LibraryStatus Library::status() const { return state_->catalog.status(); }
void Library::check_integrity() const { state_->catalog.check_integrity(); }
std::optional<RebuildProgress> Library::rebuild_progress() const { return state_->catalog.rebuild_progress(); }

std::vector<ImageRow> Library::unreadable_photos() const {
  std::vector<ImageRow> errors;
  if (state_->catalog.status().images_error == 0) return errors;
  for (ImageRow& row : state_->catalog.images())
    if (row.status == "error") errors.push_back(std::move(row));
  return errors;
}

PhotoFaces Library::faces_of_photo(const fs::path& photo) const {
  // The catalog keys images by absolute path with symlinks and ".." resolved, as the indexer stores them.
  std::error_code ec;
  const fs::path path = fs::weakly_canonical(fs::absolute(photo), ec);
  const std::optional<ImageRow> image = state_->catalog.image_by_path(ec ? fs::absolute(photo) : path);
  if (!image) {
    if (!fs::exists(path, ec)) throw Error(ErrorCode::kNotFound, "photo " + photo.string() + " does not exist");
    throw Error(ErrorCode::kNotFound, "photo " + path.string() + " is not in library " + this->path().string(),
                Hint{Remedy::kIndexFolder, ""});
  }
  return {*image, state_->catalog.faces_of_image(image->id)};
}

std::optional<PhotoFaces> Library::photo(std::int64_t photo_id) const {
  std::optional<ImageRow> image = state_->catalog.image_by_id(photo_id);
  if (!image) return std::nullopt;
  return PhotoFaces{*image, state_->catalog.faces_of_image(photo_id)};
}

std::optional<FaceRow> Library::face(std::int64_t face_id) const { return state_->catalog.face_by_id(face_id); }

namespace {

// LIBRARY.vectors and LIBRARY.hnsw brought up to date with the catalog (store/vector_files.h).
void refresh_side_files(Catalog& catalog, int dim, const std::function<void(size_t)>& on_building_approx_index) {
  const auto faces = static_cast<size_t>(catalog.status().faces);
  if (faces >= kSavedGraphThreshold && on_building_approx_index) on_building_approx_index(faces);
  update_vectors_file(catalog, dim);
  update_approx_index_file(catalog, dim, kSavedGraphThreshold);
}

}  // namespace

IndexReport Library::index(std::span<const fs::path> roots, const IndexOptions& options) {
  if (!state_->pipeline) throw std::logic_error("Library::index: not opened for indexing");
  check_analysis_options(*state_->pack, options.analysis);
  IndexReport report = index_library(state_->catalog, *state_->pipeline, roots, options);
  // Every face's vector is saved next to the catalog in one flat file (the exact index loads it in one
  // read), and large libraries also get an approximate (HNSW) index.
  if (!report.cancelled) {
    refresh_side_files(state_->catalog, state_->pipeline->embedding_dim(), options.on_building_approx_index);
    // Then the new faces join people or form new ones (people/people.h), over the index just written;
    // a run that added no face only lets unnamed people whose photos all left go.
    Catalog& catalog = state_->catalog;
    if (catalog.has_unseen_faces()) {
      const auto index = build_vector_index(catalog, IndexKind::kPreferSaved, state_->pipeline->embedding_dim());
      report.people = assign_new_faces(catalog, *index, people_params_for(*state_->pack));
    } else {
      Catalog::Transaction t(catalog);
      PeopleUpdate update;
      update.people_removed = static_cast<size_t>(catalog.remove_empty_people());
      report.people = update;
      t.commit();
    }
  }
  return report;
}

ForgetReport Library::forget(std::span<const fs::path> folders) {
  if (!state_->pipeline) throw std::logic_error("Library::forget: not opened for indexing");
  Catalog& catalog = state_->catalog;
  ForgetReport report;
  {
    Catalog::Transaction t(catalog);
    const std::vector<fs::path> roots = catalog.roots();
    for (const fs::path& given : folders) {
      std::error_code ec;
      // The folder may be gone (that is often why it is forgotten): canonical as far as it exists.
      const fs::path folder = fs::weakly_canonical(fs::absolute(given), ec).lexically_normal();
      const bool is_root_or_holds_one = std::any_of(roots.begin(), roots.end(), [&](const fs::path& r) {
        const auto rel = r.lexically_relative(folder);
        return !rel.empty() && *rel.begin() != "..";
      });
      const std::int64_t photos = catalog.forget_folder(folder);
      if (photos == 0 && !is_root_or_holds_one)
        throw Error(ErrorCode::kNotFound, "the library holds no photos under " + folder.string(),
                    Hint{Remedy::kSeeFolders, ""});
      report.folders.emplace_back(folder, photos);
    }
    catalog.remove_empty_people();  // unnamed people whose photos all left
    t.commit();
  }
  refresh_side_files(catalog, state_->pipeline->embedding_dim(), nullptr);
  return report;
}

FolderSearch::FolderSearch(const PackRequest& pack, DetectionStrategy detection)
    : pipeline_(choose_model_pack(pack), RuntimeOptions{}, detection) {}

SearchReport FolderSearch::search(const fs::path& query, std::span<const fs::path> targets,
                                  const SearchOptions& options) const {
  return search_folder(pipeline_, query, targets, options);
}

SearchReport FolderSearch::search(std::span<const fs::path> queries, std::span<const fs::path> targets,
                                  const SearchOptions& options) const {
  return search_folder(pipeline_, queries, targets, options);
}

const SearchContext& Library::search_context() const { return state_->context; }

SearchReport Library::search_photo(const fs::path& query, const SearchOptions& options) const {
  return search_photos(std::span<const fs::path>(&query, 1), options);
}

SearchReport Library::search_photos(std::span<const fs::path> queries, const SearchOptions& options) const {
  if (!state_->index || !state_->pipeline)
    throw std::logic_error("Library::search_photos: not opened for search by photo");
  check_analysis_options(*state_->pack, options.analysis);
  return search_index(state_->catalog, *state_->index, *state_->pipeline, queries, options);
}

SearchReport Library::search_face(std::int64_t face_id, const SearchOptions& options) const {
  return search_faces(std::span<const std::int64_t>(&face_id, 1), options);
}

SearchReport Library::search_faces(std::span<const std::int64_t> face_ids, const SearchOptions& options) const {
  if (!state_->index) throw std::logic_error("Library::search_faces: not opened for search");
  check_analysis_options(*state_->pack, options.analysis);
  return search_index_by_face(state_->catalog, *state_->index, *state_->pack, face_ids, options);
}

// People ---------------------------------------------------------------------------------------------

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A name as the user typed it, trimmed; Error{kInvalidArgument} for one no list could show.
std::string clean_name(const std::string& given) {
  size_t b = 0, e = given.size();
  while (b < e && std::isspace(static_cast<unsigned char>(given[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(given[e - 1]))) --e;
  std::string name = given.substr(b, e - b);
  if (all_digits(name))
    throw Error(ErrorCode::kInvalidArgument, "a person's name cannot be only digits (\"" + name + "\"): numbers name people by id");
  if (std::any_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    throw Error(ErrorCode::kInvalidArgument, "a person's name cannot hold control characters or line breaks");
  if (name.size() > 200) throw Error(ErrorCode::kInvalidArgument, "a person's name is at most 200 bytes long");
  return name;
}

}  // namespace

std::vector<PersonRow> Library::people(bool include_hidden) const {
  std::vector<PersonRow> out = state_->catalog.people();
  if (!include_hidden) std::erase_if(out, [](const PersonRow& p) { return p.hidden; });
  // Named people first, by name; then the others, most faces first.
  std::stable_sort(out.begin(), out.end(), [](const PersonRow& a, const PersonRow& b) {
    if (a.name.empty() != b.name.empty()) return !a.name.empty();
    if (!a.name.empty()) {
      for (size_t i = 0; i < a.name.size() && i < b.name.size(); ++i) {
        const int x = std::tolower(static_cast<unsigned char>(a.name[i])), y = std::tolower(static_cast<unsigned char>(b.name[i]));
        if (x != y) return x < y;
      }
      if (a.name.size() != b.name.size()) return a.name.size() < b.name.size();
      return a.id < b.id;
    }
    if (a.faces != b.faces) return a.faces > b.faces;
    return a.id < b.id;
  });
  return out;
}

PersonRow Library::find_person(const std::string& id_or_name) const {
  const Catalog& catalog = state_->catalog;
  std::optional<PersonRow> found;
  if (all_digits(id_or_name) && id_or_name.size() < 19) {
    found = catalog.person(std::stoll(id_or_name));
  } else {
    found = catalog.person_by_name(id_or_name);
  }
  if (found) return *found;
  if (!catalog.has_people())
    throw Error(ErrorCode::kNotFound,
                "library " + path().string() + " has no people yet (it was written by an older facesearch)",
                Hint{Remedy::kUpgradeByIndexing});
  throw Error(ErrorCode::kNotFound, "library " + path().string() + " has no person " +
                                        (all_digits(id_or_name) ? id_or_name : "named \"" + id_or_name + "\""),
              Hint{Remedy::kListPeople});
}

namespace {

PersonFace person_face(const Catalog& catalog, std::int64_t face_id, bool by_user) {
  PersonFace pf;
  if (auto face = catalog.face_by_id(face_id)) {
    pf.face = std::move(*face);
    pf.face.embedding.clear();
    pf.face.embedding.shrink_to_fit();
    if (auto image = catalog.image_by_id(pf.face.image_id)) pf.image = std::move(*image);
  }
  pf.by_user = by_user;
  return pf;
}

}  // namespace

PersonDetail Library::person_detail(std::int64_t person_id) const {
  const Catalog& catalog = state_->catalog;
  const std::optional<PersonRow> person = catalog.person(person_id);
  if (!person) find_person(std::to_string(person_id));  // throws the error that names what to do
  PersonDetail detail{*person, {}};
  for (const FacePersonRow& row : catalog.faces_of_person(person_id))
    detail.faces.push_back(person_face(catalog, row.face_id, row.by_user));
  std::stable_sort(detail.faces.begin(), detail.faces.end(), [&](const PersonFace& a, const PersonFace& b) {
    const bool ca = a.face.id == person->cover_face_id, cb = b.face.id == person->cover_face_id;
    if (ca != cb) return ca;
    if (a.by_user != b.by_user) return a.by_user;
    return a.face.id < b.face.id;
  });
  return detail;
}

std::optional<PersonRow> Library::person_of_face(std::int64_t face_id) const {
  const auto row = state_->catalog.person_of_face(face_id);
  if (!row) return std::nullopt;
  return state_->catalog.person(row->person_id);
}

std::vector<PersonFace> Library::unassigned_faces(size_t limit) const {
  std::vector<PersonFace> out;
  for (const std::int64_t id : state_->catalog.unassigned_face_ids(limit))
    out.push_back(person_face(state_->catalog, id, false));
  return out;
}

Catalog& Library::writable_catalog(const char* what) {
  if (!state_->writable) throw std::logic_error(std::string("Library::") + what + ": not opened for editing");
  return state_->catalog;
}

void Library::name_person(std::int64_t person_id, const std::string& name) {
  Catalog& catalog = writable_catalog("name_person");
  const std::string clean = clean_name(name);
  Catalog::Transaction t(catalog);
  catalog.set_person_name(person_id, clean);
  t.commit();
}

void Library::hide_person(std::int64_t person_id, bool hidden) {
  Catalog& catalog = writable_catalog("hide_person");
  Catalog::Transaction t(catalog);
  catalog.set_person_hidden(person_id, hidden);
  t.commit();
}

void Library::set_person_cover(std::int64_t person_id, std::int64_t face_id) {
  Catalog& catalog = writable_catalog("set_person_cover");
  Catalog::Transaction t(catalog);
  if (face_id != 0) {
    const auto owner = catalog.person_of_face(face_id);
    if (!owner || owner->person_id != person_id)
      throw Error(ErrorCode::kInvalidArgument,
                  "face " + std::to_string(face_id) + " is not a face of person " + std::to_string(person_id));
  }
  catalog.set_person_cover(person_id, face_id);
  t.commit();
}

MergeReport Library::merge_people(std::span<const std::int64_t> person_ids) {
  Catalog& catalog = writable_catalog("merge_people");
  std::vector<std::int64_t> ids;
  for (const std::int64_t id : person_ids)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  if (ids.size() < 2) throw Error(ErrorCode::kInvalidArgument, "a merge needs two different people or more");
  Catalog::Transaction t(catalog);
  std::string name;
  for (const std::int64_t id : ids) {
    const auto p = catalog.person(id);
    if (!p) find_person(std::to_string(id));
    if (name.empty()) name = p->name;
  }
  MergeReport report;
  for (size_t i = 1; i < ids.size(); ++i) {
    report.faces_left_out += catalog.merge_people(ids[0], ids[i]);
    report.merged.push_back(ids[i]);
  }
  if (catalog.person(ids[0])->name.empty() && !name.empty()) catalog.set_person_name(ids[0], name);
  catalog.remove_empty_people();
  report.person = *catalog.person(ids[0]);
  t.commit();
  return report;
}

std::int64_t Library::move_face(std::int64_t face_id, std::optional<std::int64_t> person_id) {
  Catalog& catalog = writable_catalog("move_face");
  Catalog::Transaction t(catalog);
  const auto face = catalog.face_by_id(face_id);
  if (!face)
    throw Error(ErrorCode::kNotFound, "library " + path().string() + " has no face " + std::to_string(face_id),
                Hint{Remedy::kListFaceIds});
  std::int64_t person = 0;
  if (person_id) {
    if (!catalog.person(*person_id)) find_person(std::to_string(*person_id));
    person = *person_id;
    for (const FaceRow& other : catalog.faces_of_image(face->image_id)) {
      if (other.id == face_id) continue;
      if (const auto owner = catalog.person_of_face(other.id); owner && owner->person_id == person)
        throw Error(ErrorCode::kInvalidArgument,
                    "person " + std::to_string(person) + " already has face " + std::to_string(other.id) +
                        " in the same photo; two faces of one photo are never one person (move that face first)");
    }
    catalog.remove_rejection(face_id, person);
  } else {
    person = catalog.add_person();
  }
  catalog.assign_face(face_id, person, true);
  catalog.remove_empty_people();
  t.commit();
  return person;
}

std::int64_t Library::reject_face(std::int64_t face_id) {
  Catalog& catalog = writable_catalog("reject_face");
  Catalog::Transaction t(catalog);
  if (!catalog.face_by_id(face_id))
    throw Error(ErrorCode::kNotFound, "library " + path().string() + " has no face " + std::to_string(face_id),
                Hint{Remedy::kListFaceIds});
  const auto owner = catalog.person_of_face(face_id);
  if (!owner) throw Error(ErrorCode::kInvalidArgument, "face " + std::to_string(face_id) + " belongs to no person");
  catalog.add_rejection(face_id, owner->person_id);
  catalog.unassign_face(face_id);
  catalog.remove_empty_people();
  t.commit();
  return owner->person_id;
}

PeopleUpdate Library::recluster(const ReclusterOptions& options) {
  Catalog& catalog = writable_catalog("recluster");
  PeopleParams params = people_params_for(*state_->pack);
  if (options.min_faces) params.min_faces = *options.min_faces;
  if (options.threshold) params.cluster.link_similarity = *options.threshold;
  const auto index = build_vector_index(catalog, IndexKind::kPreferSaved, state_->pack->embedder.dim);
  return recluster_people(catalog, *index, params);
}

SearchReport Library::search_person(const std::string& id_or_name, const SearchOptions& options) const {
  if (!state_->index) throw std::logic_error("Library::search_person: not opened for search");
  const auto start = std::chrono::steady_clock::now();
  const Catalog& catalog = state_->catalog;
  const ModelPack& pack = *state_->pack;
  const PersonRow person = find_person(id_or_name);
  SearchReport report;
  report.person_id = person.id;
  report.person_name = person.name;
  report.model = pack.name;
  report.metric = metric_name(pack.metric);
  report.threshold = search_threshold(options, pack);
  const Catalog::Counts counts = catalog.counts();
  report.stats.images = static_cast<size_t>(counts.images);
  report.stats.images_analysed = static_cast<size_t>(counts.images_ok);
  report.stats.faces = static_cast<size_t>(counts.faces);

  const size_t d = static_cast<size_t>(pack.embedder.dim);
  std::vector<FaceRow> own;
  for (const FacePersonRow& row : catalog.faces_of_person(person.id))
    if (auto f = catalog.face_by_id(row.face_id); f && f->embedding.size() == d) own.push_back(std::move(*f));
  report.person_faces = own.size();
  if (own.empty()) return report;

  // The person's mean face scores every match; up to 64 of its faces, spread over its list, look for more.
  std::vector<float> mean(d, 0.f);
  for (const FaceRow& f : own)
    for (size_t i = 0; i < d; ++i) mean[i] += f.embedding[i];
  double norm = 0;
  for (const float v : mean) norm += double(v) * v;
  for (float& v : mean) v = static_cast<float>(v / std::max(std::sqrt(norm), 1e-12));

  std::unordered_set<std::int64_t> own_ids, own_photos;
  for (const FaceRow& f : own) own_ids.insert(f.id), own_photos.insert(f.image_id);
  auto add_match = [&](const FaceRow& f) {
    const auto image = catalog.image_by_id(f.image_id);
    if (!image) return;
    Match m;
    m.path = image->path;
    m.face_index = f.face_index;
    m.box = f.face.box;
    m.similarity = similarity(mean, f.embedding);
    m.detection_score = f.face.score;
    m.photo_id = f.image_id;
    m.face_id = f.id;
    report.matches.push_back(std::move(m));
  };
  for (const FaceRow& f : own) add_match(f);

  constexpr size_t kMaxQueries = 64, kNeighbours = 256;
  const size_t queries = std::min(own.size(), kMaxQueries);
  std::vector<float> batch;
  batch.reserve(queries * d);
  for (size_t q = 0; q < queries; ++q) {
    const FaceRow& f = own[q * own.size() / queries];
    batch.insert(batch.end(), f.embedding.begin(), f.embedding.end());
  }
  const auto found = state_->index->search(batch, kNeighbours, report.threshold);
  std::unordered_map<std::int64_t, int> hits;
  for (const auto& list : found)
    for (const Neighbor& n : list)
      if (!own_ids.count(n.id)) ++hits[n.id];
  const int need = own.size() >= 2 ? 2 : 1;
  std::set<std::int64_t> rejected;
  for (const RejectionRow& r : catalog.rejections())
    if (r.person_id == person.id) rejected.insert(r.face_id);
  for (const auto& [face_id, count] : hits) {
    if (count < need || rejected.count(face_id) || catalog.person_of_face(face_id)) continue;
    const auto f = catalog.face_by_id(face_id);
    if (!f || own_photos.count(f->image_id) || f->embedding.size() != d) continue;  // another face of a photo the person is in
    add_match(*f);
  }
  rank_matches(report.matches, options);
  report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace facesearch
