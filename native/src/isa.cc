// Run-time choice of the kernel table: AVX-512 when the CPU (and OS) support it, else AVX2.
#include "isa.h"
#include <cstdlib>
#include <cstring>

namespace chimera {

bool cpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}

namespace {
const IsaTable* choose() {
  const char* e = std::getenv("CHIMERA_ISA");
  if (e && std::strcmp(e, "avx2") == 0) return isaAvx2();
  return cpuHasAvx512() ? isaAvx512() : isaAvx2();
}
const IsaTable* current = choose();
}  // namespace

const IsaTable& isa() { return *current; }

bool setIsa(const char* name) {
  if (std::strcmp(name, "avx2") == 0) {
    current = isaAvx2();
    return true;
  }
  if (std::strcmp(name, "avx512") == 0 && cpuHasAvx512()) {
    current = isaAvx512();
    return true;
  }
  return false;
}

}  // namespace chimera
