// Allocator policy for training: every activation and gradient is a fresh ArrayBuffer (Node
// allocates them with glibc calloc/malloc), so a training step frees and reallocates hundreds of
// MB. By default glibc serves blocks above its mmap threshold (≤ 32 MiB) with mmap and returns them
// with munmap, so every step pays page faults (the kernel zeroes each 4 KiB page again) plus
// munmap TLB flushes — tens of ms of system time per step. Here, at addon load, large blocks are
// kept on the heap instead (M_MMAP_MAX = 0) and up to 256 MiB of free heap is kept rather than
// trimmed, so steady-state steps reuse already-mapped memory.
//
// Process-wide and glibc-only; CHIMERA_MALLOC=default leaves the allocator untouched.
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace chimera {
namespace {

struct MallocPolicy {
  MallocPolicy() {
#if defined(__GLIBC__)
    const char* e = std::getenv("CHIMERA_MALLOC");
    if (e && std::strcmp(e, "default") == 0) return;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
  }
};
const MallocPolicy policy;

}  // namespace
}  // namespace chimera
