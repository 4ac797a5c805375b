// ../shared/testdata/faces/MANIFEST.tsv (path \t identity \t faces \t ...): the annotated face counts of
// the scenes/ photos. Shared by the detection tests (tests/), the detection bench (bench/) and the
// calibration tool (tools/).
#pragma once

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace facesearch::eval {

// scenes/ photo path (relative to `faces_dir`) -> annotated face count; photos whose count is unknown
// ("?") or uncertain ("2?") are left out.
inline std::map<std::string, int> annotated_scene_counts(const std::filesystem::path& faces_dir) {
  std::ifstream in(faces_dir / "MANIFEST.tsv");
  std::map<std::string, int> counts;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string path, identity, faces;
    std::getline(fields, path, '\t');
    std::getline(fields, identity, '\t');
    std::getline(fields, faces, '\t');
    if (path.rfind("scenes/", 0) == 0 && !faces.empty() && faces.find('?') == std::string::npos &&
        std::isdigit(static_cast<unsigned char>(faces[0])))
      counts[path] = std::stoi(faces);
  }
  return counts;
}

}  // namespace facesearch::eval
