// Fuzzes the zip extraction of `facesearch models add` (extract_zip) on arbitrary archives: it must
// write only regular files inside its folder (no absolute paths, "..", symlinks) or throw
// facesearch::Error, and a failed extraction leaves nothing behind.
#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "fuzz_support.h"
#include "models/pack_fetch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& scratch = facesearch::fuzz::scratch();
  const auto zip = scratch.path() / "pack.zip";
  const auto dest = scratch.path() / "out";
  facesearch::fuzz::write_file(zip, data, size);
  try {
    const auto files = facesearch::extract_zip(zip, dest);
    for (const auto& rel : files) {
      if (rel.is_absolute()) std::abort();
      for (const auto& part : rel)
        if (part == "..") std::abort();
      if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(dest / rel))) std::abort();
    }
    // Nothing but what it reported (and the folders holding it) may exist under dest.
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dest)) {
      if (entry.is_symlink()) std::abort();
      if (!entry.is_directory() && !entry.is_regular_file()) std::abort();
    }
  } catch (const facesearch::Error&) {
    std::error_code ec;
    // A failed extraction removes what it wrote: no regular file may remain.
    for (auto it = std::filesystem::recursive_directory_iterator(dest, ec); !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (!it->is_directory()) std::abort();
  }
  scratch.clear();
  return 0;
}
