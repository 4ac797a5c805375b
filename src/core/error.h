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

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace facesearch
