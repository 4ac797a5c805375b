// Checking a model pack with the stages that will run it: above models/, because loading a network as a
// detector or an embedder needs src/detect/ and src/embed/.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "models/model_pack.h"

namespace facesearch {

// What `models verify` checks: every file the pack names exists and has the sha256 its manifest records,
// and every network loads in ONNX Runtime with the inputs and outputs the pack expects.
struct PackCheck {
  std::string role;  // "detector", "embedder", ...
  std::filesystem::path file;
  bool ok = true;
  std::string detail;  // what was found (or what is wrong)
};
std::vector<PackCheck> verify_pack(const ModelPack& pack);

}  // namespace facesearch
