// Adding packs to packs_root() (from a folder, a .zip file or a URL) and removing them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "models/model_pack.h"
#include "models/pack_registry.h"

namespace facesearch {

struct AddPackOptions {
  std::string name;            // empty: from the folder, zip or URL file name
  std::string expected_sha256; // of the zip or download; empty: not checked
  bool replace = false;        // replace an installed pack of the same name
  // Download progress: bytes so far and in all (0 = unknown).
  std::function<void(std::uint64_t received, std::uint64_t total)> progress;
};

struct AddedPack {
  PackEntry entry;
  ModelPack pack;
  std::vector<std::string> skipped;  // ONNX files of the source left out (other tasks: landmarks, age...)
};

// Installs a pack from a folder, a .zip file or an http(s):// URL of a .zip into packs_root()/NAME:
// the files the pack uses are copied and a manifest.json written (a folder that has a manifest is copied
// as it is). Downloads go to ${XDG_CACHE_HOME:-~/.cache}/facesearch/downloads and resume after an
// interruption. The pack is checked as `models verify` checks it (verify_pack, library/pack_verify.h)
// before it is moved in. Nothing is left in packs_root() when anything fails. Throws Error with what
// went wrong.
AddedPack add_pack(const std::string& source, const AddPackOptions& options = {});

// Deletes an installed pack (the folder under packs_root()). Throws Error{kNotFound} when there is no
// pack of that name, Error{kInvalidArgument} for a pack facesearch did not install (an InsightFace
// folder: facesearch never deletes the user's own files). Libraries built with it stay as they are and
// say that their pack is missing until it is added again. Returns the folder removed.
std::filesystem::path remove_pack(const std::string& name);

}  // namespace facesearch
