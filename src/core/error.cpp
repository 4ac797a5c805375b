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

}  // namespace facesearch
