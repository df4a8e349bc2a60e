// Per-ISA kernel table. The generic kernels in kernels_impl.h / gemm_impl.h are compiled twice
// (isa_avx2.cc, isa_avx512.cc) against the vector wrappers, and the table for the best ISA the
// CPU supports is chosen once at load (CHIMERA_ISA=avx2 forces the AVX2 table).
//
// Op codes match the order of UnaryOp / BinaryOp / ReduceOp in src/backend/native/kernels.ts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace chimera {

enum UnaryCode {
  U_NEG, U_ABS, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SQUARE, U_RECIP, U_TANH, U_SIGMOID, U_RELU,
  U_SILU, U_GELU, U_GELU_TANH, U_SOFTPLUS, U_SIN, U_COS, U_COUNT
};
enum BinaryCode { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_GT, B_LT, B_GE, B_LE, B_EQ, B_COUNT };
enum ReduceCode { R_SUM, R_MAX, R_MIN, R_LSE, R_COUNT };

struct GemmArgs {
  bool transA, transB;
  size_t m, n, k;
  float alpha;
  const float* a;
  size_t lda;
  const float* b;
  size_t ldb;
  float beta;
  float* c;
  size_t ldc;
};

/** Most rows the few-row gemm path (gemm_small.h) takes. */
constexpr size_t kFewRowsMax = 16;

/**
 * Whether a product takes the built-in few-row path (2 ≤ m ≤ 16), which streams op(B) once: used
 * by the kernel itself and by the BLAS dispatcher, which keeps these products off OpenBLAS.
 * With op(B) = Bᵀ each C element ends in one horizontal sum, so k must amortise it.
 */
inline bool fewRowsGemm(const GemmArgs& g) {
  if (g.m < 2 || g.m > kFewRowsMax) return false;
  return !g.transB || g.k >= 32;
}

/** AdamW step constants, derived in double from the call's arguments and rounded once. */
struct AdamCoefs {
  float lr, beta1, beta2, c1, c2, eps, wd, invBc1, invBc2;
};

struct IsaTable {
  const char* name;
  int width;
  // ---- elementwise over n contiguous elements ----
  /** stream: non-temporal output stores (for outputs much larger than the caches). */
  void (*unary)(int op, const float* x, float* y, size_t n, bool stream);
  void (*unaryBackward)(int op, const float* x, const float* y, const float* gy, float* gx, size_t n, bool stream);
  /** out[j] = a[j·sa] ⊙ b[j·sb], sa, sb ∈ {0, 1}. */
  void (*binaryRow)(int op, const float* a, int sa, const float* b, int sb, float* out, size_t n);
  void (*affine)(const float* x, float* y, size_t n, float alpha, float s);
  void (*axpy)(size_t n, float alpha, const float* x, float* y);
  void (*where)(const float* c, const float* a, const float* b, float* out, size_t n);
  // ---- row reductions over n contiguous elements ----
  double (*sumRow)(const float* x, size_t n);
  /** NaN-propagating max/min (reference `reduce` semantics); empty → ∓inf. */
  float (*maxRow)(const float* x, size_t n);
  float (*minRow)(const float* x, size_t n);
  /** First index of the maximum; NaN never wins; all −inf/NaN → 0. */
  size_t (*argmaxRow)(const float* x, size_t n);
  /** Σ exp(x − m) in double. */
  double (*sumExpRow)(const float* x, size_t n, float m);
  double (*sumSquares)(const float* x, size_t n);
  // ---- softmax family, one row of `cols` ----
  void (*softmaxRow)(const float* x, float* y, size_t cols);
  void (*logSoftmaxRow)(const float* x, float* y, size_t cols);
  void (*softmaxBackwardRow)(const float* y, const float* gy, float* gx, size_t cols);
  void (*logSoftmaxBackwardRow)(const float* y, const float* gy, float* gx, size_t cols);
  /** log Σ exp(x) as m + log Σ exp(x − m), m = NaN-ignoring max (reference softmax semantics). */
  double (*logSumExpRow)(const float* x, size_t cols);
  /** g·exp(x − lse) → out. */
  void (*scaledExpRow)(const float* x, float lse, float g, float* out, size_t cols);
  // ---- normalisation, one row ----
  /** Returns rstd; writes y = x·rstd·(wOffset + w) (w null → 1). */
  float (*rmsNormRow)(const float* x, const float* w, float* y, size_t cols, float eps, float wOffset);
  /** Writes gx; when gwAcc is non-null adds gy·x·rstd into it. */
  void (*rmsNormBackwardRow)(const float* x, const float* w, float rstd, const float* gy, float* gx, float* gwAcc, size_t cols, float wOffset);
  void (*layerNormRow)(const float* x, const float* w, const float* b, float* y, size_t cols, float eps, float* mean, float* rstd);
  void (*layerNormBackwardRow)(const float* x, const float* w, float mean, float rstd, const float* gy, float* gx, float* gwAcc, float* gbAcc, size_t cols);
  // ---- optimiser ----
  void (*adamw)(float* p, const float* g, float* m, float* v, size_t n, const AdamCoefs& k);
  // ---- random: Philox4x32-10 u32 stream for blocks [ctr, ctr + nblocks) into out[4·nblocks] ----
  void (*philoxBlocks)(uint64_t ctr, size_t nblocks, uint32_t k0, uint32_t k1, uint32_t* out);
  // ---- matrix multiply (built-in kernel; `threaded` lets it use the pool) ----
  void (*sgemm)(const GemmArgs& g, bool threaded);
  int gemmMR, gemmNR;
  /** Peak-FLOP probe: runs `iters` rounds of independent FMAs; returns the flops performed. */
  double (*fmaLoop)(size_t iters);
};

/** The table in use (best supported ISA unless CHIMERA_ISA=avx2). */
const IsaTable& isa();
/** Tables compiled in; the AVX-512 one may be null when the CPU lacks it. */
const IsaTable* isaAvx2();
const IsaTable* isaAvx512();
bool cpuHasAvx512();
/** Switches tables at run time (tests, benchmarks); returns false if unsupported. */
bool setIsa(const char* name);

}  // namespace chimera
