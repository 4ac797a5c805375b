// Internal to src/store, shared by the files of the catalog (store/catalog.cpp, store/people_store.cpp):
// the catalog's connection (store/sql.h: SQLite or PostgreSQL) and what replace_faces keeps of the
// people of the faces it replaces.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/types.h"
#include "store/catalog.h"
#include "store/sql.h"

namespace facesearch {

struct Catalog::Raw {
  sql::Connection* conn = nullptr;
  const std::filesystem::path* path = nullptr;  // how messages name the library (a PostgreSQL address without its password)
  int schema = 0;
  int dim = 0;
  const std::string* address = nullptr;  // a PostgreSQL library's address as given (password and all); "" for a file
};

namespace store {

using sql::Statement;

// What the library knows about one face beyond its pixels: its person (0: none), whether the user
// placed it, and the people it is not. Faces of a photo analysed again get new rows (and ids); the
// new face covering the same part of the photo (IoU >= 0.5, best first) takes this over. The faces an
// `index --rebuild` dropped are remembered by photo content (remembered_faces) the same way.
struct KnownFace {
  Box box;
  std::int64_t person_id = 0;
  bool by_user = false;
  std::vector<std::int64_t> rejected;
  std::int64_t remembered_rowid = 0;  // a row of remembered_faces, deleted once given back
};
// The faces of `image_id` (before they are replaced) and the faces remembered for its content, that
// have anything to keep. Empty for a library without people tables.
std::vector<KnownFace> known_faces_of_image(const Catalog::Raw& raw, std::int64_t image_id);
// Gives what `known` holds to the new faces (id, box) that cover the same part of the photo.
void give_back_known_faces(const Catalog::Raw& raw, std::span<const std::pair<std::int64_t, Box>> new_faces,
                           std::span<const KnownFace> known);

}  // namespace store
}  // namespace facesearch
