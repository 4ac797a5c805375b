// One error type for the whole core: a stable code plus a message that says what failed, where, and
// what to do. Front ends map the code once (CLI exit status, later HTTP status).
#pragma once

#include <stdexcept>
#include <string>

namespace facesearch {

enum class ErrorCode {
  kInvalidArgument,  // a caller mistake: bad flag value, missing query, unknown option
  kNotFound,         // a named file or folder does not exist
  kDecode,           // a file is not a readable image (empty, truncated, unknown format)
  kModel,            // a model pack is missing, incomplete or inconsistent
  kInference,        // the runtime failed while running a model
  kNoFace,           // a query photo holds no usable face
  kIo,               // reading or writing failed (permissions, disk)
  kCatalog,          // a library database is foreign, corrupted, newer, or made with other models
};

const char* error_code_name(ErrorCode code);

// What the user can do about an error, as data: the core's message says what is wrong, in the
// library's terms, and each front end words the remedy in its own (the CLI as a command with its
// flags, the server as a JSON field).
enum class Remedy {
  kNone,
  kIndexFirst,            // there is no library yet: build one by indexing a folder
  kNameFolders,           // there is no library yet, and an update needs one: name the folders to index
  kIndexFolder,           // the photo is not in the library: index its folder
  kSeeFolders,            // the library's folders are listed by its status
  kRebuild,               // re-read every photo into a fresh copy of the library (index --rebuild)
  kRebuildElseNewLibrary, // the same, and if that fails too, move it away and index into a new library
  kRebuildWhenAlone,      // another process has the library open: stop it, then rebuild again
  kFinishRebuild,         // a rebuild was interrupted: index the library again to finish it
  kMergeAsOwner,          // a stopped writer's changes wait in the WAL: the library's owner merges them (opens it)
  kUseLibraryPack,        // the library holds another pack's faces: use that pack (detail: its name) or rebuild
  kInstallPackOrRebuild,  // the library's pack (detail) is not installed: add it, or rebuild with another
  kListOrAddPacks,        // no pack of that name: list the packs, add one, or put InsightFace packs in detail (a folder)
  kNewLibrary,            // the file is no library (or lost its description): choose or make another one
  kMoveAwayOrNewLibrary,  // the file is damaged beyond rebuilding: move it away, or index into a new one
  kUpgrade,               // a newer facesearch made it: upgrade, or rebuild it with this version
  kRaisePixelLimit,       // the photo is over the pixel limit: the limit can be raised
  kPickQueryFace,         // the query face index is out of range (detail: the highest index)
  kListFaceIds,           // no face of that id in the library: a photo's faces, with their ids, are listed by photo
  kLeaveDetectorDefault,  // the detection strategy does not fit the pack (detail: the strategy)
  kDetectorSsdOrRebuild,  // the pack lacks the fast detector (detail: the strategy)
  kSetupModels,           // the default pack is not built: run the set-up, or name a pack folder
  kDetectorSizeFixed,     // the detector input size is for SCRFD and YuNet packs only (detail: detector kind)
  kPackChecksumFormat,    // installing a pack: the expected SHA-256 is 64 hex digits
  kPackChecksumNotForFolder,  // installing a pack: a checksum checks a .zip file or a download, not a folder
  kChoosePackName,        // installing a pack: its name is not usable, give another
  kReplaceOrRenamePack,   // installing a pack: one of that name is installed; replace it or choose another name
  kReplacePack,           // installing a pack: one of that name appeared meanwhile; replace it
  kListPeople,            // no person of that id or name: the library's people are listed by `people`
  kUpgradeByIndexing,     // a library older than people: indexing it once (or any change of people) upgrades it
};

struct Hint {
  Hint() = default;
  explicit Hint(Remedy r, std::string d = {}, std::string p = {})
      : remedy(r), detail(std::move(d)), pack(std::move(p)) {}
  Remedy remedy = Remedy::kNone;
  std::string detail;  // what the remedy needs (a pack name, a count, ...), see Remedy
  std::string pack;    // kUseLibraryPack: the pack that was asked for (re-indexing with it is the other way)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, Hint hint = {})
      : std::runtime_error(std::move(message)), code_(code), hint_(std::move(hint)) {}
  ErrorCode code() const noexcept { return code_; }
  const Hint& hint() const noexcept { return hint_; }

 private:
  ErrorCode code_;
  Hint hint_;
};

// A stable name for a remedy ("index_first", ...), for JSON.
const char* remedy_name(Remedy remedy);

}  // namespace facesearch
