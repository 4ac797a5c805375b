// How the process's heap serves the big, short-lived buffers of analysing photos (a decoded 12-MP photo,
// the detectors' activations: tens of MB per photo, allocated and freed on every call, from several
// threads).
#pragma once

namespace facesearch {

// Both settings below, for a program that analyses photos: call it first in main, before any thread
// starts (the benchmarks do; the CLI calls the two itself, and re-executes only for the commands that
// analyse photos).
void tune_process_memory(char** argv);

// Where the kernel gives transparent huge pages only on request (THP "madvise", Debian's default
// config on many machines), re-executes the running program once with glibc's malloc told to ask for
// them (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; glibc reads its tunables only at start-up). The kernel
// then faults a 2 MB page in where it faulted 512 small ones: measured on 46 12-MP photos, `index`
// spent 40% less time in the kernel and ran 8% faster, peak memory the same (docs/PERFORMANCE.md).
// Returns without doing anything when THP is "always" or "never", the tunable is set already, the
// variable FACESEARCH_NO_HUGE_PAGES is set, or the program cannot be re-executed; call it first in
// main, before any thread starts.
void use_huge_pages(char** argv);

// Fixes glibc's threshold above which a block is mapped on its own (and unmapped when freed) at 16 MB.
// glibc raises that threshold to the largest block freed so far (up to 32 MB), and from then on such
// blocks come from the threads' heaps, which keep what was freed: measured on 46 12-MP photos, `index`
// peaked at 525-595 MB that way and at 351-380 MB with the threshold fixed, in the same time; fixed at
// glibc's start value (128 KB) it used 230 MB but spent three times as long in the kernel
// (docs/PERFORMANCE.md).
void bound_heap_retention();

}  // namespace facesearch
