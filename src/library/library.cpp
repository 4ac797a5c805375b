#include "library/library.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
#include "models/pack_registry.h"
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
  if (library && fs::exists(*library, ec)) {
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
  if (!create && !fs::exists(db, ec))
    // Checked before anything is created, so a mistaken run leaves no empty library behind.
    throw Error(ErrorCode::kInvalidArgument, "no library at " + fs::absolute(db, ec).string() + " yet",
                Hint{Remedy::kNameFolders, ""});
  // The pack the library was built with, read once, read-only (Catalog::inspect), before the pack is
  // chosen; not status(): its counts fail on a damaged library.
  std::string library_pack;
  if (fs::exists(db, ec)) {
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
  return Library(std::move(state));
}

Library Library::another_reader() const {
  if (!state_->index) throw std::logic_error("Library::another_reader: not opened for search");
  // Its own read-only connection (Catalog::inspect), on the catalog this one checked against the pack.
  auto state = std::make_unique<State>(State{Catalog::inspect(path()), state_->pack, state_->pipeline, state_->index,
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
  if (!report.cancelled)
    refresh_side_files(state_->catalog, state_->pipeline->embedding_dim(), options.on_building_approx_index);
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

}  // namespace facesearch
