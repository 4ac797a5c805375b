#include "output.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

void write_table(std::ostream& out, const SearchReport& report) {
  out << "Query " << report.query.string() << ", " << query_faces_text(report) << "; model " << report.model
      << ", " << report.metric << " similarity, threshold " << short_number(report.threshold) << "\n\n";

  if (report.matches.empty()) {
    out << "No matches above threshold " << short_number(report.threshold) << ".\n";
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
              std::to_string(m.query_face), m.path.string()};
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
  const std::string scanned = plural(s.faces, "face", "faces") + " in " +
                              plural(s.images_analysed, "image", "images") + " scanned, " +
                              std::to_string(report.skipped.size()) + " skipped";
  out << '\n';
  if (report.matches.empty()) {
    out << scanned << ", in " << fixed(s.seconds, 1) << " s\n";
  } else {
    out << plural(report.matches.size(), "match", "matches") << " in "
        << plural(images_with_matches(report), "image", "images") << " (" << scanned << ") in "
        << fixed(s.seconds, 1) << " s\n";
  }
}

void write_json(std::ostream& out, const SearchReport& report, bool interrupted) {
  Json query_faces = Json::array();
  for (const QueryFace& q : report.query_faces) {
    query_faces.push_back({{"index", q.index}, {"box", json_box(q.face.box)}, {"score", rounded(q.face.score, 4)}});
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
  Json doc{{"query", report.query.string()},
           {"query_faces", std::move(query_faces)},
           {"model", report.model},
           {"metric", report.metric},
           {"threshold", rounded(report.threshold, 6)},
           {"matches", std::move(matches)},
           {"skipped", std::move(skipped)},
           {"warnings", std::move(warnings)},
           {"stats",
            {{"images", s.images},
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
               {"embed", rounded(t.embed_ms, 1)}}}}},
           {"interrupted", interrupted}};
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

// The core's messages may already start with the file name ("PATH: empty file"); the line names it once.
std::string_view without_path_prefix(std::string_view message, const std::string& path) {
  if (message.size() > path.size() + 2 && message.substr(0, path.size()) == path &&
      message.substr(path.size(), 2) == ": ") {
    message.remove_prefix(path.size() + 2);
  }
  return message;
}

void write_file_problems(std::ostream& err, const SearchReport& report) {
  for (const SkippedFile& f : report.skipped) {
    const std::string path = f.path.string();
    err << "facesearch: skipped " << path << ": " << without_path_prefix(f.message, path) << '\n';
  }
  for (const FileWarning& w : report.warnings) {
    const std::string path = w.path.string();
    err << "facesearch: warning: " << path << ": " << without_path_prefix(w.message, path) << '\n';
  }
}

}  // namespace facesearch::cli
