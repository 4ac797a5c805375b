#include "faces_command.h"

#include <filesystem>
#include <iostream>
#include <system_error>

#include "core/error.h"
#include "flags.h"
#include "output.h"
#include "library/library.h"

namespace facesearch::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFacesFooter = R"(Examples:
  Which faces of a group photo are in the library, and their ids:
    facesearch faces ~/Pictures/party.jpg
  More photos of the second one:
    facesearch search --face-id 1234

Faces are numbered in reading order (left to right); FACE is that number (what `search
--query-face` takes), ID the face's id in the library (what `search --face-id` takes). BOX is
x1,y1,x2,y2 in pixels of the upright photo; SCORE the detector's confidence, from 0 to 1; DETECTOR
the detector and pass that found the face (mediapipe_face_full: the whole photo, .../tiled: a tile of
a large photo, .../padded: the photo inside a black border; ssd_mobilenetv1: SSD, see --detector;
scrfd, yunet: the detector of an InsightFace or OpenCV zoo pack, see `facesearch models`).
Ids stay the same while the photo is unchanged or moved; they change when it is re-analysed.
A photo whose name starts with "-" goes after "--": facesearch faces -- -me.jpg

Exit status:
  0    the faces were listed (also when the photo has none)
  1    the photo is not in the library (run `facesearch index` on its folder), or no library there;
       the list could not be written (a full disk)
  2    usage error
)";

}  // namespace

CLI::App* add_faces_command(CLI::App& app, FacesArgs& args) {
  CLI::App* faces = app.add_subcommand("faces", "List the faces the library holds for one photo, with their ids");
  faces->footer(kFacesFooter);
  faces->allow_extras();
  faces->add_option("photo", args.photo, "Required. A photo under a folder that was indexed")->type_name("PHOTO");
  add_db_option(*faces, args.db);
  add_format_option(*faces, args.format, {"table", "json"}, "Output format (default table; json for programs)");
  return faces;
}

void check_faces_args(const CLI::App& faces, const FacesArgs& args) {
  throw_if_unknown_options(faces);
  if (args.photo.empty()) throw CLI::RequiredError("PHOTO (the photo whose faces to list)");
}

int run_faces(const FacesArgs& args) {
  const Library library = Library::open_for_reading(library_path(args.db));  // no models needed
  const PhotoFaces photo = library.faces_of_photo(args.photo);
  const std::optional<RebuildProgress> rebuild = library.rebuild_progress();
  if (rebuild) std::cerr << "facesearch: warning: " << describe_rebuild(*rebuild) << '\n';
  if (args.format == "json") {
    write_faces_json(std::cout, library.path(), photo.image, photo.faces, rebuild);
  } else {
    write_faces_table(std::cout, library.path(), photo.image, photo.faces);
  }
  return 0;
}

}  // namespace facesearch::cli
