#include "remedies.h"

namespace facesearch::cli {

std::string remedy_text(const Hint& hint, std::string_view command) {
  const std::string& d = hint.detail;
  switch (hint.remedy) {
    case Remedy::kNone: return {};
    case Remedy::kIndexFirst:
      return std::string("; build one first with `facesearch index FOLDER`") +
             (command == "search" ? ", or search folders without a library with --target FOLDER" : "");
    case Remedy::kNameFolders: return "; name the folders to index: facesearch index ~/Pictures";
    case Remedy::kIndexFolder: return "; run `facesearch index` on its folder first";
    case Remedy::kSeeFolders: return "; `facesearch status` lists its folders";
    case Remedy::kRebuild:
      return "; run `facesearch index --rebuild` to re-read every photo into a fresh copy of it (its folders are kept)";
    case Remedy::kRebuildElseNewLibrary:
      return "; run `facesearch index --rebuild` on it to re-read every photo into a fresh copy (its folders are "
             "kept); if that fails too, move it away and index your folders into a new library";
    case Remedy::kRebuildWhenAlone: return "; stop it and run `facesearch index --rebuild` again";
    case Remedy::kFinishRebuild: return "; an interrupted rebuild is finished by `facesearch index`";
    case Remedy::kMergeAsOwner: return "; its owner can, by running `facesearch status` on it";
    case Remedy::kUseLibraryPack:
      return ": a library is bound to one pack; use the pack it was built with (`--model " + d +
             "`, or the --models DIR it came from), or re-index it with " + hint.pack +
             ": `facesearch index --rebuild --model " + hint.pack + "`";
    case Remedy::kInstallPackOrRebuild:
      return " (see `facesearch models list`); add it with `facesearch models add`, or re-index with another "
             "pack: `facesearch index --rebuild --model NAME`";
    case Remedy::kListOrAddPacks:
      return "; see `facesearch models list`, add one with `facesearch models add FOLDER|ZIP|URL`, or put "
             "InsightFace packs in " + d;
    case Remedy::kNewLibrary: return "; choose another --db, or make one with `facesearch index FOLDER`";
    case Remedy::kMoveAwayOrNewLibrary: return "; move it away, or index into a new --db";
    case Remedy::kUpgrade: return "; upgrade facesearch, or use --rebuild to re-index it with this version";
    case Remedy::kRaisePixelLimit: return " (--max-pixels raises it)";
    case Remedy::kPickQueryFace: return "; --query-face must be between 0 and " + d;
    case Remedy::kListFaceIds: return "; `facesearch faces PHOTO` lists face ids";
    case Remedy::kListPeople: return "; `facesearch people` lists them";
    case Remedy::kUpgradeByIndexing: return "; run `facesearch index` once to upgrade it and group its faces";
    case Remedy::kLeaveDetectorDefault: return ": leave --detector out";
    case Remedy::kDetectorSsdOrRebuild:
      return "; use --detector ssd, or rebuild the default pack (`make setup`, tools/setup.sh)";
    case Remedy::kSetupModels: return "; run `make setup` (tools/setup.sh) to build the default pack, or pass --models DIR";
    case Remedy::kDetectorSizeFixed: return " (see --smallest-face)";
    case Remedy::kPackChecksumFormat: return " (--sha256 takes the 64 hex digits of the file's SHA-256)";
    case Remedy::kPackChecksumNotForFolder: return " (--sha256 is for a .zip file or a download)";
    case Remedy::kChoosePackName: return "; choose one with --name";
    case Remedy::kReplaceOrRenamePack: return "; use --replace to replace it, or --name to install under another name";
    case Remedy::kReplacePack: return "; use --replace to replace it";
  }
  return {};
}

std::string describe_rebuild(const RebuildProgress& rebuild) {
  return rebuild_warning(rebuild) + remedy_text(Hint{Remedy::kFinishRebuild}, "");
}

}  // namespace facesearch::cli
