// The photos under some folders: the one file walk of indexing, folder search, benchmarks and tools.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace facesearch {

// A folder under the targets (or a target) whose content could not be listed: what is in it is unknown,
// which is not the same as empty.
struct UnreadableFolder {
  std::filesystem::path path;
  std::string reason;  // "Permission denied", "does not exist", ...: the system's words, for messages
};

struct PhotoFiles {
  std::vector<std::filesystem::path> files;       // sorted, without duplicates
  std::vector<UnreadableFolder> unreadable;       // in walk order
};

// Image files under the targets: folders are walked recursively (files with a photo extension,
// hidden entries skipped, symlinked folders not followed), files named explicitly are taken as they are.
// A target that does not exist, a folder that cannot be listed, or one whose entries cannot be looked
// at is reported in `unreadable` (and nothing under it is listed); never throws for them.
PhotoFiles find_photo_files(std::span<const std::filesystem::path> targets);

// The files of find_photo_files. Throws Error{kNotFound} for a target that does not exist and
// Error{kIo} for a folder that cannot be read: for callers that need every photo or none (tests, tools).
std::vector<std::filesystem::path> collect_images(std::span<const std::filesystem::path> targets);

}  // namespace facesearch
