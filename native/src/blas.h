// Matrix multiply dispatch: OpenBLAS (loaded with dlopen at run time, never linked) when the
// system has it, else the built-in kernel. Our pool is parked while OpenBLAS runs and OpenBLAS
// uses as many threads as the pool, so the two never oversubscribe the cores.
#pragma once
#include <string>
#include "isa.h"

namespace chimera {

/** C = alpha·op(A)·op(B) + beta·C through the active implementation. */
void gemm(const GemmArgs& g);
/** "openblas" or "builtin". */
const char* blasActive();
bool openblasAvailable();
/** Path that was loaded, or the reason OpenBLAS is unavailable. */
std::string openblasDetail();
/** Selects "openblas" (loads it if needed) or "builtin"; false if unavailable. */
bool setBlas(const char* name);
/** Keeps OpenBLAS's thread count equal to the pool size. */
void blasSetThreads(int n);

}  // namespace chimera
