#include "people_command.h"

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "flags.h"
#include "library/library.h"
#include "output.h"
#include "terminal_text.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kPeopleFooter = R"(Every `facesearch index` groups the library's faces into people: a new face joins the
person its nearest grouped faces agree on, and faces that belong to nobody yet wait until enough
of them (3) look alike to form a new person. Name people, and fix what the grouping got wrong:
what you say is kept through every later index run and re-grouping.

Examples:
  facesearch people                          # everyone, named first, then by number of faces
  facesearch people show 12                  # person 12's faces, with their ids and photos
  facesearch people name 12 "Anna"           # from now on: facesearch search --person Anna
  facesearch people merge Anna 31 40         # 31 and 40 are Anna too
  facesearch people move 5123 Anna           # face 5123 is Anna (kept there for good)
  facesearch people move 5123 new            # face 5123 is someone else: a person of its own
  facesearch people reject 5123              # face 5123 is not the person it is in (remembered)
  facesearch people hide 40                  # leave person 40 out of lists (`people --all` shows it)
  facesearch people recluster                # group every face again (names and corrections hold)

PERSON is an id (as `people` lists them) or a name (any case). FACE_ID is a face's id, as
`people show` and `facesearch faces PHOTO` list them.

The rules, which no run breaks: two faces of one photo are never one person; a face you rejected
is never put back in that person; a face you moved stays where you put it; named people are never
merged but by you, and keep their faces through `recluster`; a photo deleted from disk takes its
faces out of their people at the next index run (an unnamed person left empty disappears, a named
one stays).

Exit status:
  0    done
  1    no library, no such person or face, or the library could not be written
  2    usage error, or a change the rules forbid (a name already taken, two faces of one photo)
)";

std::string shown_name(const PersonRow& p) { return p.name.empty() ? "(unnamed)" : p.name; }

std::string fixed1(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v;
  return s.str();
}

std::int64_t parse_face_id(const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kInvalidArgument, "FACE_ID must be a face's id (a whole number > 0), not '" + text + "'");
}

Json box_json(const Box& b) { return Json::array({b.x1, b.y1, b.x2, b.y2}); }

Json person_json(const PersonRow& p) {
  return Json{{"id", p.id},
              {"name", p.name},
              {"hidden", p.hidden},
              {"faces", p.faces},
              {"photos", p.photos},
              {"cover_face_id", p.cover_face_id == 0 ? Json(nullptr) : Json(p.cover_face_id)},
              {"sample_face_id", p.sample_face_id == 0 ? Json(nullptr) : Json(p.sample_face_id)},
              {"sample", p.sample_path.empty() ? Json(nullptr) : Json(p.sample_path.string())}};
}

Json face_json(const PersonFace& f) {
  return Json{{"face_id", f.face.id},   {"photo_id", f.image.id},   {"path", f.image.path.string()},
              {"face_index", f.face.face_index}, {"box", box_json(f.face.face.box)}, {"by_user", f.by_user}};
}

void print_json(const Json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string box_text(const Box& b) {
  char text[96];
  std::snprintf(text, sizeof text, "%.0f,%.0f,%.0f,%.0f", b.x1, b.y1, b.x2, b.y2);
  return text;
}

int run_list(const PeopleArgs& args) {
  const Library library = Library::open_for_reading(library_path(args.db));
  const std::vector<PersonRow> people = library.people(args.all);
  std::vector<PersonDetail> details;
  if (args.faces)
    for (const PersonRow& p : people) details.push_back(library.person_detail(p.id));
  if (args.format == "json") {
    Json list = Json::array();
    for (size_t i = 0; i < people.size(); ++i) {
      Json j = person_json(people[i]);
      if (args.faces) {
        Json faces = Json::array();
        for (const PersonFace& f : details[i].faces) faces.push_back(face_json(f));
        j["face_list"] = std::move(faces);
      }
      list.push_back(std::move(j));
    }
    const LibraryStatus st = library.status();
    print_json(Json{{"library", library.path().string()},
                    {"people", st.people},
                    {"named", st.named_people},
                    {"faces", st.faces},
                    {"faces_with_person", st.faces_with_person},
                    {"list", std::move(list)}});
    return 0;
  }
  if (args.format == "csv") {
    if (args.faces) {
      std::cout << "person_id,name,face_id,photo_id,path,x1,y1,x2,y2,by_user\n";
      for (size_t i = 0; i < people.size(); ++i)
        for (const PersonFace& f : details[i].faces) {
          const Box& b = f.face.face.box;
          std::cout << people[i].id << ',' << csv_field(people[i].name) << ',' << f.face.id << ',' << f.image.id << ','
                    << csv_field(f.image.path.string()) << ',' << fixed1(b.x1) << ',' << fixed1(b.y1) << ','
                    << fixed1(b.x2) << ',' << fixed1(b.y2) << ',' << (f.by_user ? 1 : 0) << '\n';
        }
    } else {
      std::cout << "id,name,faces,photos,hidden,sample\n";
      for (const PersonRow& p : people)
        std::cout << p.id << ',' << csv_field(p.name) << ',' << p.faces << ',' << p.photos << ',' << (p.hidden ? 1 : 0)
                  << ',' << csv_field(p.sample_path.string()) << '\n';
    }
    return 0;
  }
  const LibraryStatus st = library.status();
  if (people.empty() && st.schema_version < 2) {
    std::cout << "No people yet: this library was made by an older facesearch. Run `facesearch index` once to "
                 "upgrade it and group its faces.\n";
    return 0;
  }
  if (people.empty()) {
    std::cout << (st.faces == 0 ? "No people yet: the library holds no faces.\n"
                                : "No people yet: no three faces look alike enough. Index more photos, or see "
                                  "`facesearch people --help`.\n");
    return 0;
  }
  std::cout << std::left << std::setw(6) << "ID" << std::setw(26) << "NAME" << std::right << std::setw(7) << "FACES"
            << std::setw(8) << "PHOTOS" << "  SAMPLE\n";
  for (size_t i = 0; i < people.size(); ++i) {
    const PersonRow& p = people[i];
    std::string name = printable(shown_name(p)) + (p.hidden ? " (hidden)" : "");
    std::cout << std::left << std::setw(6) << p.id << std::setw(26) << name << std::right << std::setw(7) << p.faces
              << std::setw(8) << p.photos << "  " << printable(p.sample_path) << '\n';
    if (args.faces)
      for (const PersonFace& f : details[i].faces)
        std::cout << "        face " << f.face.id << "  " << printable(f.image.path) << "  [" << box_text(f.face.face.box)
                  << "]" << (f.by_user ? "  (placed by you)" : "") << '\n';
  }
  std::cout << people.size() << (args.all ? " people" : " people shown") << "; " << st.faces_with_person << " of "
            << st.faces << " faces belong to someone\n";
  return 0;
}

int run_show(const PeopleArgs& args) {
  const Library library = Library::open_for_reading(library_path(args.db));
  const PersonDetail d = library.person_detail(library.find_person(args.person).id);
  if (args.format == "json") {
    Json j = person_json(d.person);
    Json faces = Json::array();
    for (const PersonFace& f : d.faces) faces.push_back(face_json(f));
    j["face_list"] = std::move(faces);
    print_json(j);
    return 0;
  }
  if (args.format == "csv") {
    std::cout << "face_id,photo_id,path,x1,y1,x2,y2,by_user\n";
    for (const PersonFace& f : d.faces) {
      const Box& b = f.face.face.box;
      std::cout << f.face.id << ',' << f.image.id << ',' << csv_field(f.image.path.string()) << ',' << fixed1(b.x1) << ','
                << fixed1(b.y1) << ',' << fixed1(b.x2) << ',' << fixed1(b.y2) << ',' << (f.by_user ? 1 : 0) << '\n';
    }
    return 0;
  }
  std::cout << "Person " << d.person.id << ": " << printable(shown_name(d.person)) << (d.person.hidden ? " (hidden)" : "")
            << ", " << d.person.faces << " faces in " << d.person.photos << " photos\n";
  std::cout << std::left << std::setw(10) << "FACE ID" << std::setw(22) << "BOX" << "PHOTO\n";
  for (const PersonFace& f : d.faces)
    std::cout << std::left << std::setw(10) << f.face.id << std::setw(22) << box_text(f.face.face.box)
              << printable(f.image.path) << (f.by_user ? "  (placed by you)" : "")
              << (f.face.id == d.person.cover_face_id ? "  (cover)" : "") << '\n';
  return 0;
}

Library open_for_editing(const PeopleArgs& args) { return Library::open_for_editing(library_path(args.db)); }

int run_name(const PeopleArgs& args) {
  Library library = open_for_editing(args);
  const PersonRow before = library.find_person(args.person);
  library.name_person(before.id, args.new_name);
  const PersonRow after = library.find_person(std::to_string(before.id));
  if (after.name.empty()) {
    std::cout << "Person " << after.id << " has no name now\n";
  } else {
    std::cout << "Person " << after.id << " is \"" << printable(after.name) << "\" (" << after.faces
              << " faces); find their photos with: facesearch search --person " << printable(after.name) << '\n';
  }
  return 0;
}

int run_merge(const PeopleArgs& args) {
  Library library = open_for_editing(args);
  std::vector<std::int64_t> ids;
  for (const std::string& p : args.merge) ids.push_back(library.find_person(p).id);
  const MergeReport report = library.merge_people(ids);
  std::cout << "Merged " << report.merged.size() << (report.merged.size() == 1 ? " person" : " people") << " into person "
            << report.person.id << " (" << printable(shown_name(report.person)) << "): " << report.person.faces
            << " faces in " << report.person.photos << " photos\n";
  if (report.faces_left_out > 0)
    std::cout << report.faces_left_out
              << (report.faces_left_out == 1 ? " face was" : " faces were")
              << " left out: in a photo where the person already is, or rejected from them\n";
  return 0;
}

int run_move(const PeopleArgs& args) {
  Library library = open_for_editing(args);
  const std::int64_t face = parse_face_id(args.face_id);
  std::optional<std::int64_t> person;
  if (args.target != "new") person = library.find_person(args.target).id;
  const std::int64_t id = library.move_face(face, person);
  const PersonRow p = library.find_person(std::to_string(id));
  std::cout << "Face " << face << " is person " << id << " (" << printable(shown_name(p)) << ")"
            << (person ? "" : ", a new person") << "; it stays there through later runs\n";
  return 0;
}

int run_reject(const PeopleArgs& args) {
  Library library = open_for_editing(args);
  const std::int64_t face = parse_face_id(args.face_id);
  const std::int64_t left = library.reject_face(face);
  std::cout << "Face " << face << " is not person " << left << ": taken out, and never put back there\n";
  return 0;
}

int run_hide(const PeopleArgs& args, bool hidden) {
  Library library = open_for_editing(args);
  const PersonRow p = library.find_person(args.person);
  library.hide_person(p.id, hidden);
  std::cout << "Person " << p.id << " (" << printable(shown_name(p)) << ") is "
            << (hidden ? "hidden: `facesearch people --all` still lists them\n" : "shown again\n");
  return 0;
}

int run_recluster(const PeopleArgs& args) {
  Library library = open_for_editing(args);
  ReclusterOptions options;
  options.min_faces = args.min_faces;
  options.threshold = args.threshold;
  const PeopleUpdate u = library.recluster(options);
  const LibraryStatus st = library.status();
  if (args.format == "json") {
    print_json(Json{{"faces_checked", u.faces_checked},
                    {"joined_named_or_placed", u.joined},
                    {"groups", u.new_people},
                    {"faces_in_groups", u.faces_in_new_people},
                    {"waiting", u.waiting},
                    {"people_removed", u.people_removed},
                    {"people", st.people},
                    {"seconds", u.seconds}});
    return 0;
  }
  std::cout << "Grouped " << u.faces_checked << " faces in " << fixed1(u.seconds) << " s: " << u.joined
            << " joined named people, " << u.faces_in_new_people << " form " << u.new_people << " groups, "
            << u.waiting << " belong to nobody yet; the library has " << st.people << " people now\n";
  return 0;
}

void add_common(CLI::App& sub, PeopleArgs& args, bool format, std::vector<std::string> formats = {"table", "json"}) {
  sub.allow_extras();
  add_db_option(sub, args.db);
  if (format) add_format_option(sub, args.format, formats, "Output format (default table; json for programs)");
}

}  // namespace

CLI::App* add_people_command(CLI::App& app, PeopleArgs& args) {
  CLI::App* people = app.add_subcommand("people", "The people the library's faces are grouped into: list, name, merge, correct");
  people->footer(kPeopleFooter);
  people->require_subcommand(0, 1);
  args.people = people;
  add_common(*people, args, true, {"table", "json", "csv"});
  people->add_flag("--all", args.all, "Hidden people too");
  people->add_flag("--faces", args.faces, "Every person's faces too: face id, photo and box");

  args.list = people->add_subcommand("list", "Everyone (the same as `people` alone)");
  add_common(*args.list, args, true, {"table", "json", "csv"});
  args.list->add_flag("--all", args.all, "Hidden people too");
  args.list->add_flag("--faces", args.faces, "Every person's faces too: face id, photo and box");

  args.show = people->add_subcommand("show", "A person's faces, with their ids, boxes and photos");
  add_common(*args.show, args, true, {"table", "json", "csv"});
  args.show->add_option("person", args.person, "Id or name")->type_name("PERSON")->required();

  args.name = people->add_subcommand("name", "Name a person (\"\" takes the name away)");
  add_common(*args.name, args, false);
  args.name->add_option("person", args.person, "Id or current name")->type_name("PERSON")->required();
  args.name->add_option("name", args.new_name, "The name (unique in the library, any case)")->type_name("NAME")->required();

  args.merge_cmd = people->add_subcommand("merge", "Merge people into the first one given (they are one person)");
  add_common(*args.merge_cmd, args, false);
  args.merge_cmd->add_option("people", args.merge, "Two or more ids or names; the first keeps its id")
      ->type_name("PERSON PERSON...")
      ->required()
      ->expected(2, -1);

  args.move = people->add_subcommand("move", "Put a face in a person (or `new`: a person of its own), for good");
  add_common(*args.move, args, false);
  args.move->add_option("face", args.face_id, "The face's id")->type_name("FACE_ID")->required();
  args.move->add_option("person", args.target, "Id or name of the person, or new")->type_name("PERSON|new")->required();

  args.reject = people->add_subcommand("reject", "This face is not the person it is in: take it out, for good");
  add_common(*args.reject, args, false);
  args.reject->add_option("face", args.face_id, "The face's id")->type_name("FACE_ID")->required();

  args.hide = people->add_subcommand("hide", "Leave a person out of lists (strangers, posters)");
  add_common(*args.hide, args, false);
  args.hide->add_option("person", args.person, "Id or name")->type_name("PERSON")->required();

  args.unhide = people->add_subcommand("unhide", "List a hidden person again");
  add_common(*args.unhide, args, false);
  args.unhide->add_option("person", args.person, "Id or name")->type_name("PERSON")->required();

  args.recluster = people->add_subcommand(
      "recluster", "Group every face again (names, moved faces and rejections hold; groups keep their ids by overlap)");
  add_common(*args.recluster, args, true);
  args.recluster->add_option("--min-faces", args.min_faces, "Faces a group needs to become a person (default 3)")
      ->type_name("N")
      ->check(CLI::Range(2, 1000000));
  add_threshold_option(*args.recluster, args.threshold,
                       "Similarity at which two faces link (default: the pack's, a tenth of the way from its match "
                       "threshold to 1: 0.46 for the default pack)");
  return people;
}

void check_people_args(const CLI::App& people, const PeopleArgs& args) {
  throw_if_unknown_options(people);
  for (const CLI::App* sub : {args.list, args.show, args.name, args.merge_cmd, args.move, args.reject, args.hide,
                              args.unhide, args.recluster})
    if (sub && sub->parsed()) throw_if_unknown_options(*sub);
}

int run_people(const PeopleArgs& args) {
  if (args.show->parsed()) return run_show(args);
  if (args.name->parsed()) return run_name(args);
  if (args.merge_cmd->parsed()) return run_merge(args);
  if (args.move->parsed()) return run_move(args);
  if (args.reject->parsed()) return run_reject(args);
  if (args.hide->parsed()) return run_hide(args, true);
  if (args.unhide->parsed()) return run_hide(args, false);
  if (args.recluster->parsed()) return run_recluster(args);
  return run_list(args);
}

}  // namespace facesearch::cli
