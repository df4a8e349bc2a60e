// N-API entry points for gemm and gemmBatched (Kernels signatures, arrays + element offsets).
#include <algorithm>
#include "blas.h"
#include "common.h"
#include "pool.h"

namespace chimera {
namespace {

/** Elements spanned by a rows×cols matrix with leading dimension ld. */
size_t extent(size_t rows, size_t cols, size_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

napi_value gemmEntry(Args& a) {
  GemmArgs g;
  g.transA = a.flag(0);
  g.transB = a.flag(1);
  g.m = a.size(2);
  g.n = a.size(3);
  g.k = a.size(4);
  g.alpha = static_cast<float>(a.num(5));
  const size_t aOff = a.size(7), bOff = a.size(10), cOff = a.size(14);
  g.lda = a.size(8);
  g.ldb = a.size(11);
  g.beta = static_cast<float>(a.num(12));
  g.ldc = a.size(15);
  const size_t needA = aOff + (g.transA ? extent(g.k, g.m, g.lda) : extent(g.m, g.k, g.lda));
  const size_t needB = bOff + (g.transB ? extent(g.n, g.k, g.ldb) : extent(g.k, g.n, g.ldb));
  g.a = a.f32(6, needA) + aOff;
  g.b = a.f32(9, needB) + bOff;
  g.c = a.f32(13, cOff + extent(g.m, g.n, g.ldc)) + cOff;
  gemm(g);
  return nullptr;
}

napi_value gemmBatchedEntry(Args& a) {
  const size_t batch = a.size(0);
  GemmArgs g;
  g.transA = a.flag(1);
  g.transB = a.flag(2);
  g.m = a.size(3);
  g.n = a.size(4);
  g.k = a.size(5);
  g.alpha = static_cast<float>(a.num(6));
  const size_t aOff = a.size(8), sA = a.size(9);
  g.lda = a.size(10);
  const size_t bOff = a.size(12), sB = a.size(13);
  g.ldb = a.size(14);
  g.beta = static_cast<float>(a.num(15));
  const size_t cOff = a.size(17), sC = a.size(18);
  g.ldc = a.size(19);
  if (batch == 0) return nullptr;
  const size_t needA = aOff + (batch - 1) * sA + (g.transA ? extent(g.k, g.m, g.lda) : extent(g.m, g.k, g.lda));
  const size_t needB = bOff + (batch - 1) * sB + (g.transB ? extent(g.n, g.k, g.ldb) : extent(g.k, g.n, g.ldb));
  const float* A = a.f32(7, needA) + aOff;
  const float* B = a.f32(11, needB) + bOff;
  float* C = a.f32(16, cOff + (batch - 1) * sC + extent(g.m, g.n, g.ldc)) + cOff;
  const double work = static_cast<double>(g.m) * g.n * g.k;
  auto one = [&](size_t i, GemmArgs& gi) {
    gi = g;
    gi.a = A + i * sA;
    gi.b = B + i * sB;
    gi.c = C + i * sC;
  };
  if (batch > 1 && sC != 0 && work < 262144.0 && poolSize() > 1 && !inParallel()) {
    // many small products: one whole gemm per task (built-in kernel, single-threaded)
    const size_t per = std::max<size_t>(1, static_cast<size_t>(65536.0 / std::max(1.0, work)));
    const size_t ntasks = (batch + per - 1) / per;
    parallelTasks(ntasks, [&](size_t t, int) {
      for (size_t i = t * per; i < std::min(batch, (t + 1) * per); i++) {
        GemmArgs gi;
        one(i, gi);
        isa().sgemm(gi, false);
      }
    });
    return nullptr;
  }
  for (size_t i = 0; i < batch; i++) {
    GemmArgs gi;
    one(i, gi);
    if (work < 262144.0) isa().sgemm(gi, false);
    else gemm(gi);
  }
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(gemm, chimera::gemmEntry);
CHIMERA_EXPORT(gemmBatched, chimera::gemmBatchedEntry);
