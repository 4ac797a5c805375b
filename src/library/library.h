// The library, as every front end uses it: one object that opens (or creates) a library with the right
// model pack, indexes folders into it and keeps the files next to its catalog current, forgets
// folders, answers searches (by photo, by face id), and lists faces and status. The CLI, the HTTP
// server and any later front end call this and nothing below it; they only parse, print and report
// progress. Errors are Error (core/error.h) with a stable code; the front end words the remedy.
//
// Thread-safety: one Library per thread (the catalog's connection is not shared); another_reader()
// gives a second thread its own handle on a library opened for search, sharing the networks and the
// vector index. Several processes may use the same library: a search reads while an index run writes.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "index/vector_index.h"
#include "models/model_pack.h"
#include "pipeline/face_pipeline.h"
#include "search/search_report.h"
#include "store/catalog.h"
#include "store/indexer.h"
#include "store/vector_files.h"

namespace facesearch {

// What the library holds (CatalogStatus under the name front ends use).
using LibraryStatus = CatalogStatus;

// Which model pack a front end asks for. Both empty: the library's own pack (the one it was built
// with), else $FACESEARCH_MODELS, else the default pack.
struct PackRequest {
  std::filesystem::path models_dir;  // a pack's folder
  std::string name;                  // a pack by name, as the registry lists them
};

// The pack to use, first found: request.models_dir, request.name, $FACESEARCH_MODELS, the pack the
// library at `library` (when given and there) was built with, the default pack. Throws Error{kModel}
// when the library's pack is not installed (the hint says how to add it or re-index).
ModelPack choose_model_pack(const PackRequest& request, const std::filesystem::path* library = nullptr);

// ${FACESEARCH_DB} or ${XDG_DATA_HOME:-~/.local/share}/facesearch/library.db
std::filesystem::path default_library_path();

// Throws Error{kNotFound} saying how to make one when there is no library at `db`.
void require_library(const std::filesystem::path& db);

// The faces a library holds for one photo.
struct PhotoFaces {
  ImageRow image;
  std::vector<FaceRow> faces;
};

// `forget`: each folder, and how many photos left the library with it.
struct ForgetReport {
  std::vector<std::pair<std::filesystem::path, std::int64_t>> folders;
};

// How an index run is opened.
struct IndexRequest {
  PackRequest pack;
  DetectionStrategy detection = DetectionStrategy::kAuto;
  bool rebuild = false;  // forget every photo and face and index again with this pack (keeps the folders)
  // The run's analysis options, checked against the pack before the library is opened
  // (check_analysis_options); pass the same in IndexOptions.
  AnalysisOptions analysis;
  // Set before the library is opened (the models load first, which takes a while): nothing is opened
  // or changed, and open_for_indexing returns nothing.
  const std::atomic<bool>* cancel = nullptr;
};

// A face of a person, with its photo, as `people show` and the server's person page give them.
struct PersonFace {
  FaceRow face;  // without its embedding
  ImageRow image;
  bool by_user = false;  // placed there by the user
};

// A person and every face of it, best-known first (the cover face, then the user's, then by id).
struct PersonDetail {
  PersonRow person;
  std::vector<PersonFace> faces;
};

// What `merge_people` did.
struct MergeReport {
  PersonRow person;                   // the person all were merged into (the first given)
  std::vector<std::int64_t> merged;   // the people merged into it (gone now)
  std::int64_t faces_left_out = 0;    // faces of the merged that could not join (same photo, or rejected)
};

// How `recluster` groups; unset: the pack's (people_params_for).
struct ReclusterOptions {
  std::optional<int> min_faces;
  std::optional<float> threshold;  // the similarity at which faces link
};

// How a search is opened.
struct SearchRequest {
  PackRequest pack;
  DetectionStrategy detection = DetectionStrategy::kAuto;
  IndexKind index = IndexKind::kAuto;  // exact, approximate (HNSW), or a saved HNSW graph when current (vector_files.h)
  bool photo_queries = true;           // false: only search_face, no networks loaded
};

// Where a library search looked, for reports.
struct SearchContext {
  std::filesystem::path library;
  std::string index_kind;                 // VectorIndex::kind(): "exact" or "hnsw"
  double index_build_ms = 0;              // loading the embeddings and building the vector index
  std::optional<RebuildProgress> rebuild;  // an `index --rebuild` has not completed: results are partial
  std::vector<SideFileWarning> side_file_warnings;  // side files that were there but could not be used
};

// Searching folders on the fly, without a library: the models loaded once (choose_model_pack, with no
// library to ask), then any number of searches (search/folder_search.h).
class FolderSearch {
 public:
  FolderSearch(const PackRequest& pack, DetectionStrategy detection);
  const ModelPack& pack() const { return pipeline_.pack(); }
  SearchReport search(const std::filesystem::path& query, std::span<const std::filesystem::path> targets,
                      const SearchOptions& options) const;
  // Several photos of one person as one query (search_folder's combined form).
  SearchReport search(std::span<const std::filesystem::path> queries, std::span<const std::filesystem::path> targets,
                      const SearchOptions& options) const;

 private:
  FacePipeline pipeline_;
};

class Library {
 public:
  // For reading what is stored (status, faces): no models needed, nothing written. Throws
  // Error{kNotFound} when there is no library at `db`, Error{kCatalog} for a foreign or damaged one.
  static Library open_for_reading(const std::filesystem::path& db);

  // For searching: the pack (chosen as choose_model_pack says, and checked against the library's), the
  // vector index (from the side files when current), and the networks when photo_queries. Nothing is
  // ever written into the library or next to it.
  static Library open_for_search(const std::filesystem::path& db, const SearchRequest& request);

  // For indexing: the models are loaded and checked first (a --rebuild empties the library, which
  // must not happen when the pack turns out not to work), then the library is opened, or created
  // when `create` and it is missing. nullopt when request.cancel was set while the models loaded.
  // Throws Error{kInvalidArgument} when there is no library and !create.
  static std::optional<Library> open_for_indexing(const std::filesystem::path& db, const IndexRequest& request,
                                                  bool create);

  // For changing people (name, merge, move, reject, hide, recluster): the library opened for writing
  // (a library of schema 1 is upgraded), the pack's description read (no networks are loaded).
  static Library open_for_editing(const std::filesystem::path& db, const PackRequest& pack = {});

  ~Library();
  Library(Library&&) noexcept;
  Library& operator=(Library&&) noexcept;

  // Another handle on this library, for searching from another thread: its own read-only catalog
  // connection, the same pack, networks and vector index (shared, not copied or rebuilt), so a server
  // keeps one per worker. Library opened for search.
  Library another_reader() const;

  const std::filesystem::path& path() const;
  // The pack in use; nullptr for a library opened for reading.
  const ModelPack* pack() const;

  LibraryStatus status() const;
  // PRAGMA quick_check: Error{kCatalog} naming what is damaged and the remedy.
  void check_integrity() const;
  // The photos recorded as unreadable, with why.
  std::vector<ImageRow> unreadable_photos() const;
  std::optional<RebuildProgress> rebuild_progress() const;

  // The faces stored for `photo` (any path that names it: relative, through symlinks). Throws
  // Error{kNotFound} when the photo does not exist or the library does not hold it.
  PhotoFaces faces_of_photo(const std::filesystem::path& photo) const;
  // A photo by its id in the library, with its faces; a face by its id. nullopt when there is none
  // (front ends that name photos by id: the server).
  std::optional<PhotoFaces> photo(std::int64_t photo_id) const;
  std::optional<FaceRow> face(std::int64_t face_id) const;

  // Indexes `roots` (empty: every folder indexed before), then brings LIBRARY.vectors and
  // LIBRARY.hnsw up to date unless the run was cancelled (options.on_building_approx_index is called
  // first when the approximate index is rebuilt: minutes per million faces). Library opened for indexing only.
  IndexReport index(std::span<const std::filesystem::path> roots, const IndexOptions& options);

  // Forgets each folder (indexed before, or one inside one) and its photos in one transaction; files on
  // disk are not touched. Throws Error{kNotFound} for a folder the library holds nothing under.
  ForgetReport forget(std::span<const std::filesystem::path> folders);

  // Where searches look (the vector index was built when the library was opened for search).
  const SearchContext& search_context() const;
  // The query photo's faces looked up in the library. Library opened for search with photo_queries.
  SearchReport search_photo(const std::filesystem::path& query, const SearchOptions& options) const;
  // "More photos of this face": Error{kNotFound} for an unknown face id.
  SearchReport search_face(std::int64_t face_id, const SearchOptions& options) const;
  // Several photos (or indexed faces) of one person as one query: their faces combined into one
  // (combine_query_faces, SearchReport::combined); every one of them is left out of the results.
  SearchReport search_photos(std::span<const std::filesystem::path> queries, const SearchOptions& options) const;
  SearchReport search_faces(std::span<const std::int64_t> face_ids, const SearchOptions& options) const;

  // People (people/people.h). Reading works on a library opened any way; a library of schema 1 opened
  // for reading has none yet. Changes need a library opened for editing or indexing, and are made in
  // one transaction each. Unknown ids and names are Error{kNotFound}; a change the rules forbid
  // (two faces of one photo in one person, a name another person has) Error{kInvalidArgument}.
  std::vector<PersonRow> people(bool include_hidden = false) const;
  // A person by id ("12") or name (case-insensitive).
  PersonRow find_person(const std::string& id_or_name) const;
  PersonDetail person_detail(std::int64_t person_id) const;
  // Faces that belong to nobody yet, newest first (at most `limit`; 0: all).
  std::vector<PersonFace> unassigned_faces(size_t limit = 0) const;
  // The person a face is (a photo view shows it, with "not this person"); nullopt: nobody's, or no
  // such face, or a library without people yet.
  std::optional<PersonRow> person_of_face(std::int64_t face_id) const;
  void name_person(std::int64_t person_id, const std::string& name);  // "" takes the name away
  void hide_person(std::int64_t person_id, bool hidden);
  void set_person_cover(std::int64_t person_id, std::int64_t face_id);  // a face of the person; 0: none chosen
  // Merges the others into the first (its id stays; it takes the first name among them if it has none).
  MergeReport merge_people(std::span<const std::int64_t> person_ids);
  // "This face is that person" (nullopt: a new person), as the user says it: placed by_user, never
  // moved by clustering; a rejection of that person is taken back. Returns the person's id.
  std::int64_t move_face(std::int64_t face_id, std::optional<std::int64_t> person_id);
  // "This face is not its person": remembered, and the face is unassigned. Returns the person it left.
  std::int64_t reject_face(std::int64_t face_id);
  // Groups the library again (people/people.h, recluster_people).
  PeopleUpdate recluster(const ReclusterOptions& options = {});
  // Every photo of a person: its faces, and the faces of the library that match at least two of its
  // faces (one, for a person of one face) over the threshold and are not another person's or rejected
  // from it. Similarity is to the person's mean face. Library opened for search.
  SearchReport search_person(const std::string& id_or_name, const SearchOptions& options) const;

 private:
  struct State;
  explicit Library(std::unique_ptr<State> state);
  Catalog& writable_catalog(const char* what);  // std::logic_error unless opened for indexing or editing
  std::unique_ptr<State> state_;
};

}  // namespace facesearch
