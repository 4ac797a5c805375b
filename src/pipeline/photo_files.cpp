#include "pipeline/photo_files.h"

#include <algorithm>
#include <system_error>

#include "core/error.h"
#include "core/file_io.h"
#include "image/image.h"

namespace facesearch {
namespace {

bool is_hidden(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return name.size() > 1 && name[0] == '.';
}

}  // namespace

PhotoFiles find_photo_files(std::span<const std::filesystem::path> targets) {
  namespace fs = std::filesystem;
  PhotoFiles out;
  for (const auto& target : targets) {
    std::error_code ec;
    const auto status = fs::status(target, ec);
    if (ec || !fs::exists(status)) {
      std::string why = why_missing(target);
      if (why.rfind("is ", 0) == 0) why.erase(0, 3);
      out.unreadable.push_back({target.lexically_normal(), !why.empty() ? why : ec ? ec.message() : "does not exist"});
      continue;
    }
    if (!fs::is_directory(status)) {
      out.files.push_back(target.lexically_normal());
      continue;
    }
    // Depth first, one folder at a time: a folder's files and subfolders count only once all of it
    // was listed, so a folder that fails part way is reported whole instead of looking half empty.
    std::vector<fs::path> pending{target};
    while (!pending.empty()) {
      const fs::path folder = std::move(pending.back());
      pending.pop_back();
      std::vector<fs::path> files, folders;
      std::error_code error;
      fs::directory_iterator it(folder, error), end;
      while (!error && it != end) {
        const fs::directory_entry& entry = *it;
        if (!is_hidden(entry.path())) {
          const fs::file_status own = entry.symlink_status(error);  // a folder without x: EACCES here
          if (error) break;
          if (fs::is_directory(own)) {
            folders.push_back(entry.path());  // symbolic links to folders are not followed
          } else if (has_image_extension(entry.path())) {
            std::error_code link_error;  // a broken link or one to a non-file is not a photo: skipped
            if (fs::is_regular_file(own) || (fs::is_symlink(own) && fs::is_regular_file(entry.status(link_error))))
              files.push_back(entry.path().lexically_normal());
          }
        }
        it.increment(error);
      }
      if (error) {
        out.unreadable.push_back({folder.lexically_normal(), error.message()});
        continue;
      }
      out.files.insert(out.files.end(), files.begin(), files.end());
      // Reversed, so that the walk takes them in listing order.
      pending.insert(pending.end(), folders.rbegin(), folders.rend());
    }
  }
  std::sort(out.files.begin(), out.files.end());
  out.files.erase(std::unique(out.files.begin(), out.files.end()), out.files.end());
  return out;
}

std::vector<std::filesystem::path> collect_images(std::span<const std::filesystem::path> targets) {
  for (const auto& target : targets)
    if (const std::string why = why_missing(target); !why.empty())
      throw Error(ErrorCode::kNotFound, "target " + target.string() + " " + why);
  PhotoFiles found = find_photo_files(targets);
  if (!found.unreadable.empty()) {
    const UnreadableFolder& folder = found.unreadable.front();
    throw Error(ErrorCode::kIo, "cannot read folder " + folder.path.string() + " (" + folder.reason + ")");
  }
  return std::move(found.files);
}

}  // namespace facesearch
