// The people tables of the catalog (schema 2): store/catalog.h, "People".
#include <algorithm>
#include <chrono>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace facesearch {

using store::Statement;

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr const char* kPersonColumns =
    "p.id, p.name, p.hidden, coalesce(p.cover_face_id, 0), p.created_at, "
    "(SELECT count(*) FROM face_people fp WHERE fp.person_id = p.id), "
    "(SELECT count(DISTINCT f.image_id) FROM face_people fp JOIN faces f ON f.id = fp.face_id WHERE fp.person_id = p.id), "
    "coalesce((SELECT fp.face_id FROM face_people fp WHERE fp.face_id = p.cover_face_id AND fp.person_id = p.id), "
    "(SELECT min(fp.face_id) FROM face_people fp WHERE fp.person_id = p.id), 0)";

// The sample's photo path, by face id.
constexpr const char* kSamplePathSql = "SELECT i.path FROM faces f JOIN images i ON i.id = f.image_id WHERE f.id = ?";

PersonRow read_person(const Statement& s) {
  PersonRow p;
  p.id = s.i64(0);
  p.name = s.text(1);
  p.hidden = s.i64(2) != 0;
  p.cover_face_id = s.i64(3);
  p.created_at = s.i64(4);
  p.faces = s.i64(5);
  p.photos = s.i64(6);
  p.sample_face_id = s.i64(7);
  return p;
}

void fill_sample_paths(const Catalog::Raw& raw, std::span<PersonRow> people) {
  Statement s(*raw.conn, kSamplePathSql);
  for (PersonRow& p : people) {
    if (p.sample_face_id == 0) continue;
    s.bind(1, p.sample_face_id);
    if (s.step()) p.sample_path = s.text(0);
    s.run();  // resets
  }
}

constexpr const char* kFacePersonColumns = "fp.face_id, f.image_id, fp.person_id, fp.by_user";

FacePersonRow read_face_person(const Statement& s) {
  return {s.i64(0), s.i64(1), s.i64(2), s.i64(3) != 0};
}

void require_people(const Catalog::Raw& raw) {
  if (raw.schema < 2)
    throw Error(ErrorCode::kCatalog,
                "library " + raw.path->string() + " has no people yet (it was written by an older facesearch)",
                Hint{Remedy::kUpgradeByIndexing});
}

[[noreturn]] void no_person(const Catalog::Raw& raw, std::int64_t id) {
  throw Error(ErrorCode::kNotFound, "library " + raw.path->string() + " has no person " + std::to_string(id),
              Hint{Remedy::kListPeople});
}

void require_person(const Catalog::Raw& raw, std::int64_t id) {
  Statement s(*raw.conn, "SELECT 1 FROM people WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) no_person(raw, id);
}

void require_face(const Catalog::Raw& raw, std::int64_t id) {
  Statement s(*raw.conn, "SELECT 1 FROM faces WHERE id = ?");
  s.bind(1, id);
  if (!s.step())
    throw Error(ErrorCode::kNotFound, "library " + raw.path->string() + " has no face " + std::to_string(id),
                Hint{Remedy::kListFaceIds});
}

std::vector<std::int64_t> parse_ids(const std::string& text) {
  std::vector<std::int64_t> ids;
  std::istringstream in(text);
  std::int64_t id = 0;
  while (in >> id) ids.push_back(id);
  return ids;
}

}  // namespace

namespace store {

std::vector<KnownFace> known_faces_of_image(const Catalog::Raw& raw, std::int64_t image_id) {
  std::vector<KnownFace> known;
  if (raw.schema < 2) return known;
  {
    Statement s(*raw.conn, "SELECT f.x1, f.y1, f.x2, f.y2, coalesce(fp.person_id, 0), coalesce(fp.by_user, 0), "
                "coalesce((SELECT " + sql::space_separated(raw.conn->dialect(), "r.person_id") + " FROM rejections r WHERE r.face_id = f.id), '') "
                "FROM faces f LEFT JOIN face_people fp ON fp.face_id = f.id WHERE f.image_id = ?");
    s.bind(1, image_id);
    while (s.step()) {
      KnownFace k;
      k.box = {float(s.f64(0)), float(s.f64(1)), float(s.f64(2)), float(s.f64(3))};
      k.person_id = s.i64(4);
      k.by_user = s.i64(5) != 0;
      k.rejected = parse_ids(s.text(6));
      if (k.person_id != 0 || !k.rejected.empty()) known.push_back(std::move(k));
    }
  }
  Statement s(*raw.conn, "SELECT rowid, x1, y1, x2, y2, person_id, by_user, rejected FROM remembered_faces "
              "WHERE hash = (SELECT hash FROM images WHERE id = ?) AND hash <> ''");
  s.bind(1, image_id);
  while (s.step()) {
    KnownFace k;
    k.remembered_rowid = s.i64(0);
    k.box = {float(s.f64(1)), float(s.f64(2)), float(s.f64(3)), float(s.f64(4))};
    k.person_id = s.i64(5);
    k.by_user = s.i64(6) != 0;
    k.rejected = parse_ids(s.text(7));
    known.push_back(std::move(k));
  }
  return known;
}

void give_back_known_faces(const Catalog::Raw& raw, std::span<const std::pair<std::int64_t, Box>> new_faces,
                           std::span<const KnownFace> known) {
  struct Pair {
    float overlap;
    size_t face, known;
  };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < new_faces.size(); ++i)
    for (size_t j = 0; j < known.size(); ++j)
      if (const float o = iou(new_faces[i].second, known[j].box); o >= 0.5f) pairs.push_back({o, i, j});
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return a.overlap > b.overlap || (a.overlap == b.overlap && (a.face < b.face || (a.face == b.face && a.known < b.known)));
  });
  std::vector<bool> face_used(new_faces.size()), known_used(known.size());
  // A person that is gone (deleted while a rebuild ran) is not given back.
  Statement assign(*raw.conn, "INSERT INTO face_people(face_id, person_id, by_user) "
                   "SELECT ?1, ?2, ?3 WHERE EXISTS(SELECT 1 FROM people WHERE id = ?2) "
                   "ON CONFLICT(face_id) DO UPDATE SET person_id = excluded.person_id, by_user = excluded.by_user");
  Statement reject(*raw.conn, "INSERT INTO rejections(face_id, person_id) "
                   "SELECT ?1, ?2 WHERE EXISTS(SELECT 1 FROM people WHERE id = ?2) ON CONFLICT DO NOTHING");
  Statement forget(*raw.conn, "DELETE FROM remembered_faces WHERE rowid = ?");
  for (const Pair& p : pairs) {
    if (face_used[p.face] || known_used[p.known]) continue;
    face_used[p.face] = known_used[p.known] = true;
    const std::int64_t face_id = new_faces[p.face].first;
    const KnownFace& k = known[p.known];
    if (k.person_id != 0) assign.bind(1, face_id).bind(2, k.person_id).bind(3, int(k.by_user)).run();
    for (const std::int64_t person : k.rejected) reject.bind(1, face_id).bind(2, person).run();
    if (k.remembered_rowid != 0) forget.bind(1, k.remembered_rowid).run();
  }
}

}  // namespace store

bool Catalog::has_people() const { return raw().schema >= 2; }

std::vector<PersonRow> Catalog::people() const {
  std::vector<PersonRow> out;
  const Raw r = raw();
  if (r.schema < 2) return out;
  Statement s(*r.conn, (std::string("SELECT ") + kPersonColumns + " FROM people p ORDER BY p.id"));
  while (s.step()) out.push_back(read_person(s));
  fill_sample_paths(r, out);
  return out;
}

std::optional<PersonRow> Catalog::person(std::int64_t person_id) const {
  const Raw r = raw();
  if (r.schema < 2) return std::nullopt;
  Statement s(*r.conn, (std::string("SELECT ") + kPersonColumns + " FROM people p WHERE p.id = ?"));
  s.bind(1, person_id);
  if (!s.step()) return std::nullopt;
  PersonRow p = read_person(s);
  fill_sample_paths(r, std::span<PersonRow>(&p, 1));
  return p;
}

std::optional<PersonRow> Catalog::person_by_name(const std::string& name) const {
  const Raw r = raw();
  if (r.schema < 2 || name.empty()) return std::nullopt;
  Statement s(*r.conn, (std::string("SELECT ") + kPersonColumns + " FROM people p WHERE lower(p.name) = lower(?) AND p.name <> ''"));
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  PersonRow p = read_person(s);
  fill_sample_paths(r, std::span<PersonRow>(&p, 1));
  return p;
}

std::int64_t Catalog::add_person(const std::string& name) {
  const Raw r = raw();
  require_people(r);
  if (!name.empty() && person_by_name(name))
    throw Error(ErrorCode::kInvalidArgument, "library " + r.path->string() + " already has a person named \"" + name + "\"");
  Statement s(*r.conn, "INSERT INTO people(name, created_at) VALUES(?, ?) RETURNING id");
  s.bind(1, name).bind(2, now_s());
  if (!s.step()) throw Error(ErrorCode::kCatalog, "library " + r.path->string() + ": adding a person gave no id");
  const std::int64_t id = s.i64(0);
  s.run();
  return id;
}

void Catalog::set_person_name(std::int64_t person_id, const std::string& name) {
  const Raw r = raw();
  require_people(r);
  require_person(r, person_id);
  if (const auto other = person_by_name(name); other && other->id != person_id)
    throw Error(ErrorCode::kInvalidArgument, "library " + r.path->string() + " already has a person named \"" +
                                                 other->name + "\" (person " + std::to_string(other->id) + ")");
  Statement s(*r.conn, "UPDATE people SET name = ? WHERE id = ?");
  s.bind(1, name).bind(2, person_id).run();
}

void Catalog::set_person_hidden(std::int64_t person_id, bool hidden) {
  const Raw r = raw();
  require_people(r);
  require_person(r, person_id);
  Statement s(*r.conn, "UPDATE people SET hidden = ? WHERE id = ?");
  s.bind(1, int(hidden)).bind(2, person_id).run();
}

void Catalog::set_person_cover(std::int64_t person_id, std::int64_t face_id) {
  const Raw r = raw();
  require_people(r);
  require_person(r, person_id);
  if (face_id != 0) require_face(r, face_id);
  Statement s(*r.conn, "UPDATE people SET cover_face_id = nullif(?, 0) WHERE id = ?");
  s.bind(1, face_id).bind(2, person_id).run();
}

std::vector<FacePersonRow> Catalog::face_people() const {
  std::vector<FacePersonRow> out;
  const Raw r = raw();
  if (r.schema < 2) return out;
  Statement s(*r.conn, (std::string("SELECT ") + kFacePersonColumns + " FROM face_people fp JOIN faces f ON f.id = fp.face_id ORDER BY fp.face_id"));
  while (s.step()) out.push_back(read_face_person(s));
  return out;
}

std::vector<FacePersonRow> Catalog::faces_of_person(std::int64_t person_id) const {
  std::vector<FacePersonRow> out;
  const Raw r = raw();
  if (r.schema < 2) return out;
  Statement s(*r.conn, (std::string("SELECT ") + kFacePersonColumns +
               " FROM face_people fp JOIN faces f ON f.id = fp.face_id WHERE fp.person_id = ? ORDER BY fp.face_id"));
  s.bind(1, person_id);
  while (s.step()) out.push_back(read_face_person(s));
  return out;
}

std::optional<FacePersonRow> Catalog::person_of_face(std::int64_t face_id) const {
  const Raw r = raw();
  if (r.schema < 2) return std::nullopt;
  Statement s(*r.conn, (std::string("SELECT ") + kFacePersonColumns + " FROM face_people fp JOIN faces f ON f.id = fp.face_id WHERE fp.face_id = ?"));
  s.bind(1, face_id);
  if (s.step()) return read_face_person(s);
  return std::nullopt;
}

std::vector<std::int64_t> Catalog::unassigned_face_ids(size_t limit) const {
  std::vector<std::int64_t> out;
  const Raw r = raw();
  Statement s(*r.conn, r.schema < 2 ? "SELECT id FROM faces ORDER BY id DESC LIMIT ?"
                           : "SELECT id FROM faces WHERE id NOT IN (SELECT face_id FROM face_people) ORDER BY id DESC LIMIT ?");
  s.bind(1, limit == 0 ? std::numeric_limits<std::int64_t>::max() : static_cast<std::int64_t>(limit));
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

void Catalog::assign_face(std::int64_t face_id, std::int64_t person_id, bool by_user) {
  const Raw r = raw();
  require_people(r);
  require_face(r, face_id);
  require_person(r, person_id);
  Statement s(*r.conn, "INSERT INTO face_people(face_id, person_id, by_user) VALUES(?, ?, ?) "
                          "ON CONFLICT(face_id) DO UPDATE SET person_id = excluded.person_id, by_user = excluded.by_user");
  s.bind(1, face_id).bind(2, person_id).bind(3, int(by_user)).run();
  // A face that leaves a person is no longer its cover.
  Statement cover(*r.conn, "UPDATE people SET cover_face_id = NULL WHERE cover_face_id = ? AND id <> ?");
  cover.bind(1, face_id).bind(2, person_id).run();
}

void Catalog::unassign_face(std::int64_t face_id) {
  const Raw r = raw();
  require_people(r);
  Statement s(*r.conn, "DELETE FROM face_people WHERE face_id = ?");
  s.bind(1, face_id).run();
  Statement cover(*r.conn, "UPDATE people SET cover_face_id = NULL WHERE cover_face_id = ?");
  cover.bind(1, face_id).run();
}

std::vector<FacePersonRow> Catalog::unassign_unnamed_auto() {
  const Raw r = raw();
  require_people(r);
  std::vector<FacePersonRow> out;
  {
    Statement s(*r.conn, (std::string("SELECT ") + kFacePersonColumns +
                 " FROM face_people fp JOIN faces f ON f.id = fp.face_id JOIN people p ON p.id = fp.person_id "
                 "WHERE fp.by_user = 0 AND p.name = '' ORDER BY fp.face_id"));
    while (s.step()) out.push_back(read_face_person(s));
  }
  Statement del(*r.conn, "DELETE FROM face_people WHERE by_user = 0 AND person_id IN (SELECT id FROM people WHERE name = '')");
  del.run();
  return out;
}

std::vector<RejectionRow> Catalog::rejections() const {
  std::vector<RejectionRow> out;
  const Raw r = raw();
  if (r.schema < 2) return out;
  Statement s(*r.conn, "SELECT face_id, person_id FROM rejections ORDER BY face_id, person_id");
  while (s.step()) out.push_back({s.i64(0), s.i64(1)});
  return out;
}

void Catalog::add_rejection(std::int64_t face_id, std::int64_t person_id) {
  const Raw r = raw();
  require_people(r);
  require_face(r, face_id);
  require_person(r, person_id);
  Statement s(*r.conn, "INSERT INTO rejections(face_id, person_id) VALUES(?, ?) ON CONFLICT DO NOTHING");
  s.bind(1, face_id).bind(2, person_id).run();
}

void Catalog::remove_rejection(std::int64_t face_id, std::int64_t person_id) {
  const Raw r = raw();
  require_people(r);
  Statement s(*r.conn, "DELETE FROM rejections WHERE face_id = ? AND person_id = ?");
  s.bind(1, face_id).bind(2, person_id).run();
}

std::int64_t Catalog::merge_people(std::int64_t into, std::int64_t from) {
  const Raw r = raw();
  require_people(r);
  require_person(r, into);
  require_person(r, from);
  if (into == from) return 0;
  std::int64_t left = 0;
  {
    // The kept person keeps the face it is shown by (its cover, else its first face), whatever ids the
    // merged faces have.
    Statement s(*r.conn, "UPDATE people SET cover_face_id = (SELECT min(face_id) FROM face_people WHERE person_id = ?1) "
                "WHERE id = ?1 AND (cover_face_id IS NULL OR cover_face_id NOT IN "
                "(SELECT face_id FROM face_people WHERE person_id = ?1))");
    s.bind(1, into).run();
  }
  {
    // A face of `from` the user said is not `into`, or in a photo where `into` is already, leaves both.
    Statement s(*r.conn, "DELETE FROM face_people WHERE person_id = ?2 AND (face_id IN (SELECT face_id FROM rejections WHERE person_id = ?1) "
                "OR face_id IN (SELECT f.id FROM faces f WHERE f.image_id IN (SELECT f2.image_id FROM face_people fp2 "
                "JOIN faces f2 ON f2.id = fp2.face_id WHERE fp2.person_id = ?1)))");
    left = s.bind(1, into).bind(2, from).run();
  }
  {
    Statement s(*r.conn, "UPDATE face_people SET person_id = ?1 WHERE person_id = ?2");
    s.bind(1, into).bind(2, from).run();
  }
  {
    // A face rejected from both keeps one rejection.
    Statement drop(*r.conn, "DELETE FROM rejections WHERE person_id = ?2 AND face_id IN "
                            "(SELECT face_id FROM rejections WHERE person_id = ?1)");
    drop.bind(1, into).bind(2, from).run();
    Statement s(*r.conn, "UPDATE rejections SET person_id = ?1 WHERE person_id = ?2");
    s.bind(1, into).bind(2, from).run();
  }
  {
    Statement s(*r.conn, "UPDATE remembered_faces SET person_id = ?1 WHERE person_id = ?2");
    s.bind(1, into).bind(2, from).run();
  }
  {
    Statement s(*r.conn, "UPDATE people SET cover_face_id = (SELECT cover_face_id FROM people WHERE id = ?2) "
                      "WHERE id = ?1 AND cover_face_id IS NULL");
    s.bind(1, into).bind(2, from).run();
  }
  delete_person(from);
  return left;
}

void Catalog::delete_person(std::int64_t person_id) {
  const Raw r = raw();
  require_people(r);
  Statement s(*r.conn, "DELETE FROM people WHERE id = ?");
  s.bind(1, person_id).run();
}

std::int64_t Catalog::remove_empty_people() {
  const Raw r = raw();
  if (r.schema < 2) return 0;
  Statement s(*r.conn, "DELETE FROM people WHERE name = '' AND NOT EXISTS(SELECT 1 FROM face_people fp WHERE fp.person_id = people.id) "
              "AND NOT EXISTS(SELECT 1 FROM remembered_faces m WHERE m.person_id = people.id)");
  return s.run();
}

std::vector<std::int64_t> Catalog::unseen_face_ids() const {
  std::vector<std::int64_t> out;
  const Raw r = raw();
  require_people(r);
  Statement s(*r.conn, "SELECT id FROM faces WHERE people_seen = 0 ORDER BY id");
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

bool Catalog::has_unseen_faces() const {
  const Raw r = raw();
  if (r.schema < 2) return false;
  Statement s(*r.conn, "SELECT 1 FROM faces WHERE people_seen = 0 LIMIT 1");
  return s.step();
}

void Catalog::mark_faces_seen(std::span<const std::int64_t> face_ids) {
  const Raw r = raw();
  require_people(r);
  Statement s(*r.conn, "UPDATE faces SET people_seen = 1 WHERE id = ?");
  for (const std::int64_t id : face_ids) s.bind(1, id).run();
}

}  // namespace facesearch
