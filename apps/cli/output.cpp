#include "output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "remedies.h"
#include "terminal_text.h"

namespace facesearch::cli {
namespace {

using Json = nlohmann::ordered_json;  // keys in the documented order, not alphabetical

// Floats are stored as doubles in JSON; rounding first keeps 0.92f from printing as 0.9200000166893005.
double rounded(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// The threshold as a person would type it: 0.92, not 0.920000.
std::string short_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%g", rounded(value, 4));
  return text;
}

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string int_box(const Box& b) {
  return std::to_string(std::lround(b.x1)) + "," + std::to_string(std::lround(b.y1)) + "," +
         std::to_string(std::lround(b.x2)) + "," + std::to_string(std::lround(b.y2));
}

// "rebuild_in_progress": null, or how far an unfinished `index --rebuild` got (results are partial).
Json json_rebuild(const std::optional<RebuildProgress>& rebuild) {
  if (!rebuild) return nullptr;
  return {{"images_done", rebuild->images_done},
          {"images_before", rebuild->images_before},
          {"message", describe_rebuild(*rebuild)}};
}

Json json_box(const Box& b) {
  return Json{{"x1", rounded(b.x1, 1)}, {"y1", rounded(b.y1, 1)}, {"x2", rounded(b.x2, 1)}, {"y2", rounded(b.y2, 1)}};
}

size_t images_with_matches(const SearchReport& report) {
  std::set<std::filesystem::path> paths;
  for (const Match& m : report.matches) paths.insert(m.path);
  return paths.size();
}

std::string query_faces_text(const SearchReport& report) {
  std::string text = report.query_faces.size() == 1 ? "face " : "faces ";
  for (size_t i = 0; i < report.query_faces.size(); ++i) {
    const QueryFace& q = report.query_faces[i];
    if (i > 0) text += ", ";
    text += std::to_string(q.index) + " (box " + int_box(q.face.box) + ")";
  }
  return text;
}

// The threshold line: "0.4", and the query faces that were judged higher ("0.4; 0.42 for the query, expanded"):
// a query combined from several photos or expanded scores everyone higher (search_report.h: query_threshold).
std::string threshold_text(const SearchReport& report) {
  std::string text = short_number(report.threshold);
  for (const QueryFace& q : report.query_faces) {
    if (std::abs(q.threshold - report.threshold) < 5e-7f) continue;
    std::string why;
    if (q.photos > 1) why = std::to_string(q.photos) + " photos combined";
    if (q.expanded) why += std::string(why.empty() ? "" : " and ") + "expanded";
    text += "; " + short_number(q.threshold) + " for " +
            (report.query_faces.size() == 1 ? std::string("the query") : "query face " + std::to_string(q.index)) +
            (why.empty() ? std::string() : ", " + why);
  }
  return text;
}

// 1234567 -> "1.2 MiB": file sizes in binary units, as `ls -lh` shows them.
std::string human_bytes(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? std::to_string(bytes) + " B" : fixed(value, 1) + " " + units[unit];
}

// Unix seconds as local time for people ("2025-05-01 14:03:12 CEST"); "never" for 0.
std::string local_time(std::int64_t unix_s) {
  if (unix_s <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return text;
}

// Unix seconds as RFC 3339 local time with its offset ("2025-05-01T14:03:12+02:00"); null for 0.
Json rfc3339_time(std::int64_t unix_s) {
  if (unix_s <= 0) return nullptr;
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S%z", &tm);  // %z: +0200; RFC 3339 wants +02:00
  const std::string_view local = text;
  return std::string(local.substr(0, local.size() - 2)) + ":" + std::string(local.substr(local.size() - 2));
}

void pad_left(std::string& line, const std::string& cell, size_t width) {
  line.append(width > cell.size() ? width - cell.size() : 0, ' ');
  line += cell;
}

void pad_right(std::string& line, const std::string& cell, size_t width) {
  line += cell;
  line.append(width > cell.size() ? width - cell.size() : 0, ' ');
}

}  // namespace

OutputFormat parse_output_format(std::string_view name) {
  if (name == "json") return OutputFormat::kJson;
  if (name == "csv") return OutputFormat::kCsv;
  return OutputFormat::kTable;
}

void write_table(std::ostream& out, const SearchReport& report, const LibrarySearchContext* library) {
  if (report.person_id != 0) {
    out << "Person " << report.person_id << " (" << (report.person_name.empty() ? "unnamed" : printable(report.person_name))
        << "), " << plural(report.person_faces, "face", "faces") << " of theirs and the faces that match several";
  } else if (library && library->query_face_ids.size() == 1) {
    out << "Query face id " << library->query_face_ids[0] << " of " << printable(report.query) << ", "
        << query_faces_text(report);
  } else if (library && !library->query_face_ids.empty()) {
    out << "Query face ids";
    for (const auto id : library->query_face_ids) out << ' ' << id;
    out << ", combined (" << report.combined << ")";
  } else if (report.queries.size() > 1) {
    out << "Query " << report.queries.size() << " photos of one person, their largest faces combined ("
        << report.combined << ")";
  } else {
    out << "Query " << printable(report.query) << ", " << query_faces_text(report);
  }
  out << "; model " << printable(report.model) << ", " << report.metric << " similarity, threshold "
      << threshold_text(report) << '\n';
  if (report.queries.size() > 1)
    for (const auto& q : report.queries) out << "  " << printable(q) << '\n';
  if (!report.expanded_with.empty()) {
    out << "Expanded with " << plural(report.expanded_with.size(), "face", "faces")
        << " confidently of the same person (--no-expand to search without):";
    for (const ExpansionFace& e : report.expanded_with)
      out << "\n  " << fixed(e.similarity, 3) << "  face " << e.face_index << " of " << printable(e.path);
    out << '\n';
  }
  if (library) {
    out << "Library " << printable(library->where.library) << ", " << plural(report.stats.faces, "face", "faces")
        << " in " << plural(report.stats.images_analysed, "image", "images") << ", " << library->where.index_kind
        << " index\n";
  }
  out << '\n';

  if (report.matches.empty()) {
    out << "No matches above threshold " << threshold_text(report) << ".\n";
  } else {
    // Which query face matched only matters when several were searched for.
    const bool show_query_face = report.query_faces.size() > 1;
    struct Row {
      std::string rank, similarity, face, box, query_face, path;
    };
    std::vector<Row> rows;
    rows.reserve(report.matches.size());
    Row widths{"RANK", "SIMILARITY", "FACE", "BOX", "QUERY", "PATH"};
    size_t w_rank = widths.rank.size(), w_sim = widths.similarity.size(), w_face = widths.face.size(),
           w_box = widths.box.size(), w_query = widths.query_face.size();
    for (size_t i = 0; i < report.matches.size(); ++i) {
      const Match& m = report.matches[i];
      Row row{std::to_string(i + 1), fixed(m.similarity, 3), std::to_string(m.face_index), int_box(m.box),
              std::to_string(m.query_face), printable(m.path)};
      w_rank = std::max(w_rank, row.rank.size());
      w_sim = std::max(w_sim, row.similarity.size());
      w_face = std::max(w_face, row.face.size());
      w_box = std::max(w_box, row.box.size());
      w_query = std::max(w_query, row.query_face.size());
      rows.push_back(std::move(row));
    }
    auto print = [&](const Row& row) {
      std::string line;
      pad_left(line, row.rank, w_rank);
      line += "  ";
      pad_left(line, row.similarity, w_sim);
      line += "  ";
      pad_left(line, row.face, w_face);
      line += "  ";
      pad_right(line, row.box, w_box);
      line += "  ";
      if (show_query_face) {
        pad_left(line, row.query_face, w_query);
        line += "  ";
      }
      line += row.path;
      out << line << '\n';
    };
    print(widths);
    for (const Row& row : rows) print(row);
  }

  const SearchStats& s = report.stats;
  // A library search looks up faces indexed earlier, in milliseconds; an on-the-fly one scans files.
  const std::string scanned =
      library ? plural(s.faces, "face", "faces") + " in " + plural(s.images_analysed, "image", "images") + " searched"
              : plural(s.faces, "face", "faces") + " in " + plural(s.images_analysed, "image", "images") +
                    " scanned, " + std::to_string(report.skipped.size()) + " skipped";
  const std::string took = library ? fixed(s.seconds * 1000, 1) + " ms" : fixed(s.seconds, 1) + " s";
  out << '\n';
  if (report.matches.empty()) {
    out << scanned << ", in " << took << "\n";
  } else {
    out << plural(report.matches.size(), "match", "matches") << " in "
        << plural(images_with_matches(report), "image", "images") << " (" << scanned << ") in " << took << "\n";
  }
}

void write_json(std::ostream& out, const SearchReport& report, bool interrupted, const LibrarySearchContext* library) {
  Json query_faces = Json::array();
  for (const QueryFace& q : report.query_faces) {
    query_faces.push_back({{"index", q.index},
                           {"box", json_box(q.face.box)},
                           {"score", rounded(q.face.score, 4)},
                           {"photos", q.photos},
                           {"expanded", q.expanded},
                           {"threshold", rounded(q.threshold, 6)}});
  }
  Json matches = Json::array();
  for (const Match& m : report.matches) {
    matches.push_back({{"path", m.path.string()},
                       {"similarity", rounded(m.similarity, 6)},
                       {"face_index", m.face_index},
                       {"box", json_box(m.box)},
                       {"detection_score", rounded(m.detection_score, 4)},
                       {"query_face", m.query_face}});
  }
  Json skipped = Json::array();
  for (const SkippedFile& f : report.skipped) {
    skipped.push_back({{"path", f.path.string()}, {"reason", f.reason}, {"message", f.message}});
  }
  Json warnings = Json::array();
  for (const FileWarning& w : report.warnings) {
    warnings.push_back({{"path", w.path.string()}, {"message", w.message}});
  }
  const SearchStats& s = report.stats;
  const StageTimes& t = s.stage_ms;
  Json doc{{"query", report.query.string()}};
  if (report.person_id != 0)
    doc["person"] = {{"id", report.person_id}, {"name", report.person_name}, {"faces", report.person_faces}};
  if (library) {
    doc["query_face_id"] = library->query_face_ids.empty() ? Json(nullptr) : Json(library->query_face_ids[0]);
    if (library->query_face_ids.size() > 1) doc["query_face_ids"] = library->query_face_ids;
    doc["library"] = library->where.library.string();
    doc["index"] = library->where.index_kind;
    doc["rebuild_in_progress"] = json_rebuild(library->where.rebuild);
  }
  doc["query_faces"] = std::move(query_faces);
  if (report.queries.size() > 1) {
    Json queries = Json::array();
    for (const auto& q : report.queries) queries.push_back(q.string());
    doc["queries"] = std::move(queries);
    doc["combined"] = report.combined;
  }
  Json expanded = Json::array();
  for (const ExpansionFace& e : report.expanded_with)
    expanded.push_back({{"query_face", e.query_face},
                        {"path", e.path.string()},
                        {"face_index", e.face_index},
                        {"similarity", rounded(e.similarity, 6)}});
  doc["expanded_with"] = std::move(expanded);
  doc["model"] = report.model;
  doc["metric"] = report.metric;
  doc["threshold"] = rounded(report.threshold, 6);
  doc["matches"] = std::move(matches);
  doc["skipped"] = std::move(skipped);
  doc["warnings"] = std::move(warnings);
  if (library) {
    // The library's size and the time of the lookup itself (the query photo's faces excluded).
    doc["stats"] = {{"images", s.images},
                    {"images_ok", s.images_analysed},
                    {"faces", s.faces},
                    {"index_build_ms", rounded(library->where.index_build_ms, 1)},
                    {"query_ms", rounded(s.seconds * 1000, 2)}};
  } else {
    doc["stats"] = {{"images", s.images},
                    {"images_analysed", s.images_analysed},
                    {"faces", s.faces},
                    {"skipped", report.skipped.size()},
                    {"seconds", rounded(s.seconds, 3)},
                    {"jobs", s.jobs},
                    {"stage_ms",
                     {{"decode", rounded(t.decode_ms, 1)},
                      {"detect", rounded(t.detect_ms, 1)},
                      {"landmarks", rounded(t.landmarks_ms, 1)},
                      {"align", rounded(t.align_ms, 1)},
                      {"embed", rounded(t.embed_ms, 1)}}}};
  }
  doc["interrupted"] = interrupted;
  // File names need not be UTF-8; replace what is not rather than fail after a long scan.
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

void write_csv(std::ostream& out, const SearchReport& report) {
  out << "path,similarity,face_index,x1,y1,x2,y2,query_face\n";
  for (const Match& m : report.matches) {
    out << csv_field(m.path.string()) << ',' << fixed(m.similarity, 6) << ',' << m.face_index << ','
        << fixed(m.box.x1, 1) << ',' << fixed(m.box.y1, 1) << ',' << fixed(m.box.x2, 1) << ','
        << fixed(m.box.y2, 1) << ',' << m.query_face << "\n";
  }
}

namespace {

// The core's messages may already start with the file name ("PATH: empty file"); the line names it once.
std::string_view without_path_prefix(std::string_view message, const std::string& path) {
  if (message.size() > path.size() + 2 && message.substr(0, path.size()) == path &&
      message.substr(path.size(), 2) == ": ") {
    message.remove_prefix(path.size() + 2);
  }
  return message;
}

}  // namespace

std::string skipped_file_line(const std::filesystem::path& path, std::string_view message, const Hint& hint,
                              std::string_view command) {
  const std::string name = path.string();
  return "facesearch: skipped " + printable(name) + ": " + printable(without_path_prefix(message, name)) +
         remedy_text(hint, command);
}

std::string unreadable_folder_line(const UnreadableFolderRow& folder) {
  const std::string why = folder.reason == "does not exist" ? "it does not exist: an unplugged drive?" : folder.reason;
  const std::string kept = folder.photos_kept == 0 ? "the library held no photos from it"
                           : folder.photos_kept == 1
                               ? "its photo is kept as it was"
                               : "its " + std::to_string(folder.photos_kept) + " photos are kept as they were";
  // The way out when the photos are gone for good (a disk thrown away, a folder deleted on purpose).
  const std::string forget = folder.photos_kept == 0 ? ""
                             : "; if they are gone for good: facesearch index --forget " + printable(folder.path.string());
  return "cannot read folder " + printable(folder.path.string()) + " (" + printable(why) + "): " + kept + forget;
}

void write_file_problems(std::ostream& err, const SearchReport& report) {
  for (const SkippedFile& f : report.skipped) err << skipped_file_line(f.path, f.message, f.hint, "search") << '\n';
  for (const FileWarning& w : report.warnings) {
    const std::string path = w.path.string();
    err << "facesearch: warning: " << printable(path) << ": " << printable(without_path_prefix(w.message, path))
        << '\n';
  }
}

// ---- index ------------------------------------------------------------------------------------------

void write_index_summary(std::ostream& out, const IndexReport& r, const LibraryStatus& library) {
  if (r.cancelled) {
    out << "Interrupted after " << fixed(r.seconds, 1) << " s (" << plural(r.files, "file", "files") << " found): ";
  } else {
    out << "Indexed " << plural(r.files, "file", "files") << " in " << fixed(r.seconds, 1) << " s: ";
  }
  out << r.unchanged
      << " unchanged, " << r.added << " added, " << r.updated << " updated, " << r.moved << " moved, " << r.touched
      << " touched, " << r.deleted << " deleted, " << plural(r.errors, "error", "errors") << ", "
      << plural(r.faces, "face", "faces")
      << (r.unreadable.empty() ? "" : ", " + plural(r.unreadable.size(), "folder", "folders") + " not readable")
      << "; library " << printable(library.path) << " ("
      << plural(static_cast<size_t>(library.images), "image", "images") << ", "
      << plural(static_cast<size_t>(library.faces), "face", "faces") << ")\n";
  if (r.people && r.people->faces_checked > 0) {
    const PeopleUpdate& p = *r.people;
    out << "People: " << plural(p.faces_checked, "new face", "new faces") << " grouped: " << p.joined
        << " joined people, " << p.faces_in_new_people << " form " << plural(p.new_people, "new person", "new people")
        << ", " << p.waiting << " belong to nobody yet; " << plural(static_cast<size_t>(library.people), "person", "people")
        << " in all (`facesearch people`)\n";
  }
}

namespace {
Json unreadable_folders_json(std::span<const UnreadableFolderRow> folders) {
  Json list = Json::array();
  for (const UnreadableFolderRow& f : folders)
    list.push_back({{"path", f.path.string()}, {"reason", f.reason}, {"photos_kept", f.photos_kept}});
  return list;
}
}  // namespace

void write_index_json(std::ostream& out, const IndexReport& r, const LibraryStatus& library) {
  Json failures = Json::array();
  for (const ScanFailure& f : r.failures) {
    failures.push_back({{"path", f.path.string()}, {"reason", f.reason}, {"message", f.message}});
  }
  Json doc{{"library", {{"path", library.path.string()}, {"images", library.images}, {"faces", library.faces}}},
           {"files", r.files},
           {"unchanged", r.unchanged},
           {"added", r.added},
           {"updated", r.updated},
           {"moved", r.moved},
           {"touched", r.touched},
           {"deleted", r.deleted},
           {"errors", r.errors},
           {"faces", r.faces},
           {"seconds", rounded(r.seconds, 3)},
           {"failures", std::move(failures)},
           {"unreadable_folders", unreadable_folders_json(r.unreadable)},
           {"people", r.people ? Json{{"faces_checked", r.people->faces_checked},
                                      {"joined", r.people->joined},
                                      {"new_people", r.people->new_people},
                                      {"faces_in_new_people", r.people->faces_in_new_people},
                                      {"waiting", r.people->waiting},
                                      {"people_removed", r.people->people_removed},
                                      {"seconds", rounded(r.people->seconds, 3)},
                                      {"people_in_library", library.people}}
                               : Json(nullptr)},
           {"interrupted", r.cancelled}};
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

void write_forget_summary(std::ostream& out, std::span<const std::pair<std::filesystem::path, std::int64_t>> forgotten,
                          const LibraryStatus& library, bool json) {
  if (json) {
    Json folders = Json::array();
    for (const auto& [folder, photos] : forgotten) folders.push_back({{"folder", folder.string()}, {"photos", photos}});
    Json doc{{"library", {{"path", library.path.string()}, {"images", library.images}, {"faces", library.faces}}},
             {"forgotten", std::move(folders)}};
    out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
    return;
  }
  for (const auto& [folder, photos] : forgotten)
    out << "Forgot " << printable(folder.string()) << ": " << photos << (photos == 1 ? " photo" : " photos")
        << " left the library (the files on disk are untouched)\n";
  out << "Library " << printable(library.path.string()) << ": " << library.images << " images, " << library.faces
      << " faces\n";
}

// ---- status -----------------------------------------------------------------------------------------

namespace {
constexpr size_t kStatusErrorsShown = 20;  // the table's list; JSON has them all
}

void write_status_table(std::ostream& out, const LibraryStatus& st, std::span<const ImageRow> errors) {
  out << "Library      " << printable(st.path) << '\n';
  out << "Size         " << human_bytes(st.file_bytes) << " on disk\n";
  out << "Schema       version " << st.schema_version << '\n';
  out << "Model        " << printable(st.model_name) << " (fingerprint " << printable(st.model_fingerprint) << ", "
      << st.embedding_dim << "-number embeddings)\n";
  if (st.roots.empty()) {
    out << "Folders      none yet\n";
  } else {
    for (size_t i = 0; i < st.roots.size(); ++i) {
      out << (i == 0 ? "Folders      " : "             ") << printable(st.roots[i]) << '\n';
    }
  }
  out << "Images       " << st.images << " (" << st.images_ok << " ok, " << st.images_error << " with errors)\n";
  out << "Faces        " << st.faces << '\n';
  if (st.schema_version >= 2)
    out << "People       " << st.people << " (" << st.named_people << " named), " << st.faces_with_person
        << " faces belong to someone\n";
  out << "Created      " << local_time(st.created_at) << '\n';
  out << "Last update  " << local_time(st.updated_at) << '\n';
  if (st.rebuild) out << "Rebuild      not finished: " << describe_rebuild(*st.rebuild) << '\n';
  if (!st.unreadable_folders.empty()) {
    out << "\nFolders `facesearch index` could not read (" << st.unreadable_folders.size()
        << "; their photos are kept as they were until a run reads them):\n";
    for (const UnreadableFolderRow& f : st.unreadable_folders) {
      out << "  " << printable(f.path.string()) << ": " << printable(f.reason) << " ("
          << plural(static_cast<size_t>(f.photos_kept), "photo", "photos") << " kept)\n";
    }
  }
  if (errors.empty()) return;
  out << "\nFiles that could not be read (" << errors.size() << "; fixed or replaced files are picked up by the "
      << "next `facesearch index`):\n";
  for (size_t i = 0; i < errors.size() && i < kStatusErrorsShown; ++i) {
    const std::string path = errors[i].path.string();
    out << "  " << printable(path) << ": " << printable(without_path_prefix(errors[i].error, path)) << '\n';
  }
  if (errors.size() > kStatusErrorsShown) {
    out << "  ... and " << errors.size() - kStatusErrorsShown << " more (--format json lists them all)\n";
  }
}

void write_status_json(std::ostream& out, const LibraryStatus& st, std::span<const ImageRow> errors) {
  Json roots = Json::array();
  for (const auto& root : st.roots) roots.push_back(root.string());
  Json error_list = Json::array();
  for (const ImageRow& row : errors) error_list.push_back({{"path", row.path.string()}, {"message", row.error}});
  Json doc{{"library", st.path.string()},
           {"file_bytes", st.file_bytes},
           {"schema_version", st.schema_version},
           {"model", {{"name", st.model_name}, {"fingerprint", st.model_fingerprint}}},
           {"embedding_dim", st.embedding_dim},
           {"roots", std::move(roots)},
           {"images", st.images},
           {"images_ok", st.images_ok},
           {"images_error", st.images_error},
           {"faces", st.faces},
           {"people", st.people},
           {"named_people", st.named_people},
           {"faces_with_person", st.faces_with_person},
           {"created_at", rfc3339_time(st.created_at)},
           {"updated_at", rfc3339_time(st.updated_at)},
           {"errors", std::move(error_list)},
           {"rebuild_in_progress", json_rebuild(st.rebuild)},
           {"unreadable_folders", unreadable_folders_json(st.unreadable_folders)}};
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

// ---- faces ------------------------------------------------------------------------------------------

void write_faces_table(std::ostream& out, const std::filesystem::path& library, const ImageRow& image,
                       std::span<const FaceRow> faces) {
  out << printable(image.path);
  if (image.width > 0) out << " (" << image.width << "x" << image.height << ")";
  out << ": " << plural(faces.size(), "face", "faces") << "; library " << printable(library) << "\n\n";
  if (image.status == "error") {
    const std::string path = image.path.string();
    out << "Not analysed: the file could not be read when it was indexed ("
        << printable(without_path_prefix(image.error, path)) << ").\n";
    return;
  }
  if (faces.empty()) {
    out << "No face was found in this photo.\n";
    return;
  }
  struct Row {
    std::string id, index, box, score, detector;
  };
  std::vector<Row> rows{{"ID", "FACE", "BOX", "SCORE", "DETECTOR"}};
  for (const FaceRow& f : faces) {
    rows.push_back({std::to_string(f.id), std::to_string(f.face_index), int_box(f.face.box), fixed(f.face.score, 3),
                    printable(f.face.detector)});
  }
  size_t w_id = 0, w_index = 0, w_box = 0, w_score = 0;
  for (const Row& r : rows) {
    w_id = std::max(w_id, r.id.size());
    w_index = std::max(w_index, r.index.size());
    w_box = std::max(w_box, r.box.size());
    w_score = std::max(w_score, r.score.size());
  }
  for (const Row& r : rows) {
    std::string line;
    pad_left(line, r.id, w_id);
    line += "  ";
    pad_left(line, r.index, w_index);
    line += "  ";
    pad_right(line, r.box, w_box);
    line += "  ";
    pad_right(line, r.score, w_score);
    line += "  ";
    line += r.detector;
    out << line << '\n';
  }
  // The example names the largest face, the one `search --query` would pick in this photo.
  const auto largest = std::max_element(faces.begin(), faces.end(), [](const FaceRow& a, const FaceRow& b) {
    return a.face.box.area() < b.face.box.area();
  });
  out << "\nMore photos of a face: facesearch search --face-id ID (e.g. " << largest->id << ")\n";
}

void write_faces_json(std::ostream& out, const std::filesystem::path& library, const ImageRow& image,
                      std::span<const FaceRow> faces, const std::optional<RebuildProgress>& rebuild) {
  Json face_list = Json::array();
  for (const FaceRow& f : faces) {
    face_list.push_back({{"id", f.id},
                         {"index", f.face_index},
                         {"box", json_box(f.face.box)},
                         {"score", rounded(f.face.score, 4)},
                         {"detector", f.face.detector}});
  }
  Json doc{{"library", library.string()},
           {"path", image.path.string()},
           {"image_id", image.id},
           {"width", image.width},
           {"height", image.height},
           {"status", image.status},
           {"error", image.error},
           {"faces", std::move(face_list)},
           {"rebuild_in_progress", json_rebuild(rebuild)}};
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

// ---- models -----------------------------------------------------------------------------------------

namespace {

// "RGB, (x - 127.5) * 0.0078125 (= /128.0)", "BGR, raw 0..255".
std::string normalisation_text(const InputSpec& in) {
  std::string text = std::string(in.rgb ? "RGB" : "BGR") + ", ";
  if (in.mean[0] == 0 && in.mean[1] == 0 && in.mean[2] == 0 && in.scale == 1.f) return text + "raw 0..255";
  if (in.mean[0] == in.mean[1] && in.mean[1] == in.mean[2]) {
    text += "(x - " + short_number(in.mean[0]) + ")";
  } else {
    text += "(x - (" + short_number(in.mean[0]) + ", " + short_number(in.mean[1]) + ", " + short_number(in.mean[2]) + "))";
  }
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.6g", in.scale);  // 0.00784314: short_number's 4 decimals would lose it
  text += std::string(" * ") + scale;
  if (in.scale > 0) text += " (= /" + fixed(1.0 / in.scale, 1) + ")";
  return text;
}

Json network_json(const NetworkSpec& n) {
  Json mean = Json::array();
  for (float m : n.input.mean) mean.push_back(rounded(m, 6));
  return {{"kind", n.kind},
          {"file", n.file.string()},
          {"sha256", n.sha256},
          {"input_size", {n.input.width, n.input.height}},
          {"color", n.input.rgb ? "rgb" : "bgr"},
          {"mean", mean},
          {"scale", rounded(n.input.scale, 9)}};
}

Json pack_to_json(const PackEntry& entry, const ModelPack& p) {
  Json j{{"name", p.name},
         {"dir", entry.dir.string()},
         {"source", pack_source_name(entry.source)},
         {"origin", p.source},
         {"description", p.description},
         {"license", p.license},
         {"non_commercial", p.non_commercial},
         {"default", p.name == kDefaultPackName},
         {"metric", metric_name(p.metric)},
         {"threshold", rounded(p.threshold, 4)},
         {"threshold_source", p.threshold_source},
         {"fingerprint", p.fingerprint},
         {"aligner", {{"kind", p.aligner.kind}, {"size", p.aligner.size}, {"antialias", p.aligner.antialias}}}};
  j["query_expansion"] = p.query_expansion ? Json{{"top", p.query_expansion->top},
                                                  {"at_least", rounded(p.query_expansion->at_least, 4)},
                                                  {"raise", rounded(p.query_expansion->raise, 4)}}
                                           : Json(nullptr);
  j["several_photos"] = {{"person_share", rounded(p.several_photos.person_share, 4)}};
  j["detector"] = network_json(p.detector);
  j["detector"]["score_threshold"] = rounded(p.detector.score_threshold, 4);
  j["detector"]["nms_iou"] = rounded(p.detector.nms_iou, 4);
  if (p.detector.fitted) {
    Json sizes = Json::array();
    for (const auto& [w, h] : p.detector.fitted->input_sizes) sizes.push_back({w, h});
    j["detector"]["fitted"] = {{"file", p.detector.fitted->file.string()}, {"input_sizes", sizes}};
  }
  if (p.fast_detector) j["fast_detector"] = network_json(*p.fast_detector);
  if (p.landmarker) j["landmarker"] = network_json(*p.landmarker);
  j["embedder"] = network_json(p.embedder);
  j["embedder"]["dim"] = p.embedder.dim;
  if (!p.embedder.fast_file.empty()) j["embedder"]["fast_file"] = p.embedder.fast_file.string();
  return j;
}

void write_labelled(std::ostream& out, const char* label, const std::string& text) {
  std::string line;
  pad_right(line, label, 15);
  out << line << printable(text) << '\n';
}

}  // namespace

void write_packs_table(std::ostream& out, std::span<const PackListing> packs) {
  if (packs.empty()) {
    out << "No model packs: run `make setup` for the default one, put InsightFace packs in "
        << printable(insightface_models_root()) << ", or add one with `facesearch models add`\n";
    return;
  }
  const std::vector<std::string> header{"NAME", "SOURCE", "DETECTOR", "RECOGNISER", "THRESHOLD", "LICENCE"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : packs) {
    std::vector<std::string> cells{r.entry.name + (r.entry.name == kDefaultPackName ? " *" : ""),
                                   pack_source_name(r.entry.source)};
    if (!r.pack) {
      cells.push_back("unusable: " + r.problem);  // the rest of the line: not a column
    } else {
      const ModelPack& p = *r.pack;
      cells.push_back(p.detector.kind + (p.fast_detector ? "+" + p.fast_detector->kind : ""));
      cells.push_back(p.embedder.kind + " " + std::to_string(p.embedder.dim) + "-d");
      cells.push_back(fixed(p.threshold, 3));
      cells.push_back(p.non_commercial ? "non-commercial only" : "permissive");
    }
    for (std::string& cell : cells) cell = printable(cell);
    rows.push_back(std::move(cells));
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    if (row.size() == header.size())
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto write_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c + 1 < cells.size(); ++c) pad_right(line, cells[c], width[c] + 2);
    out << line << cells.back() << '\n';
  };
  write_row(header);
  for (const auto& row : rows) write_row(row);
  const bool has_default =
      std::any_of(packs.begin(), packs.end(), [](const PackListing& r) { return r.entry.name == kDefaultPackName; });
  out << (has_default ? "(* the default pack; "
                      : std::string("(the default pack, ") + kDefaultPackName + ", is not installed: `make setup` builds it; ")
      << "`facesearch models show NAME` for details)\n";
}

void write_packs_json(std::ostream& out, std::span<const PackListing> packs) {
  Json all = Json::array();
  for (const auto& r : packs) {
    if (r.pack) {
      all.push_back(pack_to_json(r.entry, *r.pack));
    } else {
      all.push_back({{"name", r.entry.name},
                     {"dir", r.entry.dir.string()},
                     {"source", pack_source_name(r.entry.source)},
                     {"error", r.problem}});
    }
  }
  const Json doc{{"packs", std::move(all)},
                 {"installed_in", packs_root().string()},
                 {"insightface_root", insightface_models_root().string()}};
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

void write_pack_details(std::ostream& out, const PackEntry& entry, const ModelPack& p) {
  auto network = [&](const char* role, const NetworkSpec& n, const std::string& extra) {
    write_labelled(out, role, n.kind + ": " + n.file.filename().string() + ", " + std::to_string(n.input.width) + "x" +
                                  std::to_string(n.input.height) + ", " + normalisation_text(n.input) + extra);
  };
  write_labelled(out, "Pack", p.name + (p.name == kDefaultPackName ? " (default)" : ""));
  write_labelled(out, "Folder", entry.dir.string() + " (" + pack_source_name(entry.source) + ")");
  write_labelled(out, "What", p.description);
  if (!p.source.empty()) write_labelled(out, "From", p.source);
  write_labelled(out, "Licence", p.license);
  std::string fitted;
  if (p.detector.fitted) {
    for (const auto& [w, h] : p.detector.fitted->input_sizes)
      fitted += (fitted.empty() ? "" : ", ") + std::to_string(w) + "x" + std::to_string(h);
    fitted = " (run as " + p.detector.fitted->file.filename().string() + ", the same network at " + fitted +
             ": a photo at the smallest that holds it)";
  }
  network("Detector", p.detector,
          ", score >= " + fixed(p.detector.score_threshold, 2) + ", NMS IoU " + fixed(p.detector.nms_iou, 2) + fitted);
  if (p.fast_detector) network("Fast detector", *p.fast_detector, "");
  if (p.landmarker) network("Landmarks", *p.landmarker, ", " + std::to_string(p.landmarker->points) + " points");
  write_labelled(out, "Alignment",
                 p.aligner.kind + ", " + std::to_string(p.aligner.size) + "x" + std::to_string(p.aligner.size) +
                     (p.landmarker ? (p.landmarker->points == 68 && p.aligner.kind == "arcface_5pt"
                                          ? " (5 points from the 68 landmarks)"
                                          : "")
                                   : " (on the detector's 5 keypoints)") +
                     (p.aligner.antialias ? ", big faces halved before the warp" : ""));
  network("Recogniser", p.embedder,
          ", " + std::to_string(p.embedder.dim) + " values per face" +
              (p.embedder.fast_file.empty() ? "" : " (run as " + p.embedder.fast_file.filename().string() + ", the same network)"));
  write_labelled(out, "Similarity",
                 std::string(metric_name(p.metric)) + ", match threshold " + fixed(p.threshold, 3) +
                     (p.threshold_source.empty() ? "" : " (" + p.threshold_source + ")"));
  write_labelled(out, "Expansion",
                 p.query_expansion ? "the query plus its best " + std::to_string(p.query_expansion->top) +
                                         " matches scoring >= " + fixed(p.query_expansion->at_least, 2) +
                                         (p.query_expansion->raise > 0
                                              ? ", judged at the threshold + " + fixed(p.query_expansion->raise, 2)
                                              : std::string()) +
                                         " (search --no-expand to turn off)"
                                   : "none");
  if (p.several_photos.person_share < 1) {
    const auto at = [&](int k) { return fixed(query_threshold(p.threshold, p, k, false), 2); };
    write_labelled(out, "Several photos",
                   "their mean judged at threshold / sqrt(s + (1 - s) / k), s = " + fixed(p.several_photos.person_share, 2) +
                       ": " + at(2) + " for two photos, " + at(3) + " for three");
  }
  write_labelled(out, "Fingerprint", p.fingerprint);
  if (p.non_commercial) out << "\nNote: this pack's weights are licensed for non-commercial research purposes only.\n";
}

void write_pack_json(std::ostream& out, const PackEntry& entry, const ModelPack& pack) {
  out << pack_to_json(entry, pack).dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

void write_pack_checks_table(std::ostream& out, const ModelPack& pack, std::span<const PackCheck> checks) {
  bool ok = true;
  for (const auto& c : checks) {
    std::string line = c.ok ? "ok    " : "FAIL  ";
    pad_right(line, c.role, 16);
    out << line << printable(c.file.filename()) << ": " << printable(c.detail) << '\n';
    ok = ok && c.ok;
  }
  if (ok) {
    out << "Model pack " << printable(pack.name) << " is intact.\n";
  } else if (pack.described) {
    out << "Model pack " << printable(pack.name) << " has problems: put the original files back in "
        << printable(pack.dir) << ".\n";
  } else {
    out << "Model pack " << printable(pack.name)
        << " has problems: add it again (`facesearch models add ... --replace`).\n";
  }
}

void write_pack_checks_json(std::ostream& out, const ModelPack& pack, std::span<const PackCheck> checks) {
  Json items = Json::array();
  bool ok = true;
  for (const auto& c : checks) {
    items.push_back({{"role", c.role}, {"file", c.file.string()}, {"ok", c.ok}, {"detail", c.detail}});
    ok = ok && c.ok;
  }
  const Json doc{{"pack", pack.name}, {"ok", ok}, {"checks", std::move(items)}};
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

}  // namespace facesearch::cli
