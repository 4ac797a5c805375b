#include "core/error.h"

namespace facesearch {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kDecode: return "decode";
    case ErrorCode::kModel: return "model";
    case ErrorCode::kInference: return "inference";
    case ErrorCode::kNoFace: return "no_face";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCatalog: return "catalog";
  }
  return "unknown";
}

const char* remedy_name(Remedy remedy) {
  switch (remedy) {
    case Remedy::kNone: return "none";
    case Remedy::kIndexFirst: return "index_first";
    case Remedy::kNameFolders: return "name_folders";
    case Remedy::kIndexFolder: return "index_folder";
    case Remedy::kSeeFolders: return "see_folders";
    case Remedy::kRebuild: return "rebuild";
    case Remedy::kRebuildElseNewLibrary: return "rebuild_else_new_library";
    case Remedy::kRebuildWhenAlone: return "rebuild_when_alone";
    case Remedy::kFinishRebuild: return "finish_rebuild";
    case Remedy::kMergeAsOwner: return "merge_as_owner";
    case Remedy::kUseLibraryPack: return "use_library_pack";
    case Remedy::kInstallPackOrRebuild: return "install_pack_or_rebuild";
    case Remedy::kListOrAddPacks: return "list_or_add_packs";
    case Remedy::kNewLibrary: return "new_library";
    case Remedy::kMoveAwayOrNewLibrary: return "move_away_or_new_library";
    case Remedy::kUpgrade: return "upgrade";
    case Remedy::kRaisePixelLimit: return "raise_pixel_limit";
    case Remedy::kPickQueryFace: return "pick_query_face";
    case Remedy::kListFaceIds: return "list_face_ids";
    case Remedy::kListPeople: return "list_people";
    case Remedy::kUpgradeByIndexing: return "upgrade_by_indexing";
    case Remedy::kLeaveDetectorDefault: return "leave_detector_default";
    case Remedy::kDetectorSsdOrRebuild: return "detector_ssd_or_rebuild";
    case Remedy::kSetupModels: return "setup_models";
    case Remedy::kDetectorSizeFixed: return "detector_size_fixed";
    case Remedy::kPackChecksumFormat: return "pack_checksum_format";
    case Remedy::kPackChecksumNotForFolder: return "pack_checksum_not_for_folder";
    case Remedy::kChoosePackName: return "choose_pack_name";
    case Remedy::kReplaceOrRenamePack: return "replace_or_rename_pack";
    case Remedy::kReplacePack: return "replace_pack";
  }
  return "none";
}

}  // namespace facesearch
