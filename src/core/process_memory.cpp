#include "core/process_memory.h"

#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdlib>
#include <fstream>
#include <string>

namespace facesearch {

void use_huge_pages(char** argv) {
#ifdef __linux__
  if (std::getenv("FACESEARCH_NO_HUGE_PAGES")) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const std::string current = tunables ? tunables : "";
  if (current.find("glibc.malloc.hugetlb") != std::string::npos) return;  // set already (by us or the user)
  std::ifstream mode_file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(mode_file, mode);
  if (mode.find("[madvise]") == std::string::npos) return;  // "always": nothing to ask for; "never": no use
  const std::string value = current.empty() ? "glibc.malloc.hugetlb=1" : current + ":glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Not re-executed (no /proc, a sandbox): go on as started, without the tunable in the environment
  // (so that child processes do not see a setting this process does not have).
  if (tunables) setenv("GLIBC_TUNABLES", tunables, 1);
  else unsetenv("GLIBC_TUNABLES");
#else
  (void)argv;
#endif
}

void bound_heap_retention() {
#ifdef __GLIBC__
  constexpr int kMappedFromBytes = 16 << 20;
  mallopt(M_MMAP_THRESHOLD, kMappedFromBytes);
#endif
}

void tune_process_memory(char** argv) {
  use_huge_pages(argv);
  bound_heap_retention();
}

}  // namespace facesearch
