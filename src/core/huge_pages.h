// Transparent huge pages for the big, short-lived buffers of analysing photos (a decoded 12-MP photo,
// the detectors' activations: tens of MB per photo, allocated and freed on every call).
#pragma once

namespace facesearch {

// Where the kernel gives transparent huge pages only on request (THP "madvise", Debian's default
// config on many machines), re-executes the running program once with glibc's malloc told to ask for
// them (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; glibc reads its tunables only at start-up). The kernel
// then faults a 2 MB page in where it faulted 512 small ones: measured on 46 12-MP photos, `index`
// spent 40% less time in the kernel and ran 8% faster, peak memory the same (docs/PERFORMANCE.md).
// Returns without doing anything when THP is "always" or "never", the tunable is set already, the
// variable FACESEARCH_NO_HUGE_PAGES is set, or the program cannot be re-executed; call it first in
// main, before any thread starts.
void use_huge_pages(char** argv);

}  // namespace facesearch
