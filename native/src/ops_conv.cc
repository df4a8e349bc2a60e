// N-API entry points for the causal depthwise conv1d (the short convolution of Mamba / Gated
// DeltaNet layers; components.md §11.1), float32: `causalConv1d` / `causalConv1dBackward` of
// src/backend/kernels.ts (reference: src/backend/reference/conv.ts).
//
// Shape legend: B batch, T time, C channels, K kernel width. x [B, T, C], w [C, K], bias [C],
// state [B, K−1, C] (the K−1 inputs before t = 0; null = zeros). With x̃ = concat(state, x) in time:
//   out[b, t, c] = bias[c] + Σ_j w[c, j]·x̃[b, t + j, c]
//   gx̃[b, s, c] = Σ_j w[c, j]·gy[b, s − j, c]   (0 ≤ s − j < T; s ≥ K−1 → gx, s < K−1 → gState)
//   gw[c, j] += Σ_{b,t} gy[b, t, c]·x̃[b, t + j, c];  gb[c] += Σ_{b,t} gy[b, t, c]
// Rows (b, t) are vectorised over channels with the weights transposed to [K, C]. The weight and
// bias gradients are summed per fixed block of rows (blocks depend only on B·T) and the block
// partials added in block order: deterministic and independent of the thread count.
#include <algorithm>
#include <cstring>
#include <vector>
#include "common.h"
#include "pool.h"

namespace chimera {
namespace {

/** y[c] += w[c]·x[c] over C channels (auto-vectorised). */
inline void fmaRow(float* __restrict y, const float* __restrict w, const float* __restrict x, size_t C) {
  for (size_t c = 0; c < C; c++) y[c] += w[c] * x[c];
}

/** w [C, K] → wt [K, C]. */
std::vector<float> transposeWeights(const float* w, size_t C, size_t K) {
  std::vector<float> wt(K * C);
  for (size_t c = 0; c < C; c++)
    for (size_t j = 0; j < K; j++) wt[j * C + c] = w[c * K + j];
  return wt;
}

/** Row s of x̃ for batch b (nullptr when it is the zero padding). */
inline const float* paddedRow(const float* x, const float* state, size_t b, long s, size_t T, size_t C, size_t K) {
  const long p = s - static_cast<long>(K - 1);
  if (p >= 0) return x + (b * T + static_cast<size_t>(p)) * C;
  return state ? state + (b * (K - 1) + static_cast<size_t>(s)) * C : nullptr;
}

/** causalConv1d(x, w, bias|null, state|null, out, B, T, C, K) */
napi_value convEntry(Args& a) {
  const size_t B = a.size(5), T = a.size(6), C = a.size(7), K = a.size(8);
  if (K < 1) throw ArgError("causalConv1d: kernel width must be ≥ 1", true);
  const float* x = a.f32(0, B * T * C);
  const float* w = a.f32(1, C * K);
  const float* bias = a.f32OrNull(2, C);
  const float* state = a.f32OrNull(3, B * (K - 1) * C);
  float* out = a.f32(4, B * T * C);
  const std::vector<float> wt = transposeWeights(w, C, K);
  const size_t rows = B * T;
  parallelRanges(rows, grainFor(rows, C * K), rows * C * K, [&](size_t r0, size_t r1, int) {
    for (size_t r = r0; r < r1; r++) {
      const size_t b = r / T, t = r % T;
      float* o = out + r * C;
      if (bias) std::memcpy(o, bias, C * sizeof(float));
      else std::fill(o, o + C, 0.0f);
      for (size_t j = 0; j < K; j++) {
        const float* src = paddedRow(x, state, b, static_cast<long>(t + j), T, C, K);
        if (src) fmaRow(o, wt.data() + j * C, src, C);
      }
    }
  });
  return nullptr;
}

/** causalConv1dBackward(x, w, state|null, gy, gx, gw, gb|null, gState|null, B, T, C, K) */
napi_value convBackwardEntry(Args& a) {
  const size_t B = a.size(8), T = a.size(9), C = a.size(10), K = a.size(11);
  if (K < 1) throw ArgError("causalConv1dBackward: kernel width must be ≥ 1", true);
  const float* x = a.f32(0, B * T * C);
  const float* w = a.f32(1, C * K);
  const float* state = a.f32OrNull(2, B * (K - 1) * C);
  const float* gy = a.f32(3, B * T * C);
  float* gx = a.f32(4, B * T * C);
  float* gw = a.f32(5, C * K);
  float* gb = a.f32OrNull(6, C);
  float* gState = a.f32OrNull(7, B * (K - 1) * C);
  const std::vector<float> wt = transposeWeights(w, C, K);
  // 1. input gradients: padded rows s of each batch, each written once
  const size_t S = T + K - 1;
  const size_t prow = B * S;
  parallelRanges(prow, grainFor(prow, C * K), prow * C * K, [&](size_t r0, size_t r1, int) {
    for (size_t r = r0; r < r1; r++) {
      const size_t b = r / S, s = r % S;
      float* o;
      if (s >= K - 1) o = gx + (b * T + s - (K - 1)) * C;
      else if (gState) o = gState + (b * (K - 1) + s) * C;
      else continue;
      std::fill(o, o + C, 0.0f);
      for (size_t j = 0; j < K; j++) {
        if (s < j || s - j >= T) continue;
        fmaRow(o, wt.data() + j * C, gy + (b * T + s - j) * C, C);
      }
    }
  });
  // 2. weight and bias gradients: per-block partials [K + 1, C], added in block order
  const size_t rows = B * T;
  if (rows == 0) return nullptr;
  const size_t br = std::max<size_t>(16, (rows + 63) / 64);
  const size_t nb = (rows + br - 1) / br;
  const size_t stride = (K + 1) * C;
  std::vector<float> part(nb * stride, 0.0f);
  parallelRanges(nb, 1, rows * C * (K + 1), [&](size_t b0, size_t b1, int) {
    for (size_t blk = b0; blk < b1; blk++) {
      float* pw = part.data() + blk * stride;  // [K, C] then gb [C]
      float* pb = pw + K * C;
      for (size_t r = blk * br; r < std::min(rows, (blk + 1) * br); r++) {
        const size_t b = r / T, t = r % T;
        const float* g = gy + r * C;
        for (size_t c = 0; c < C; c++) pb[c] += g[c];
        for (size_t j = 0; j < K; j++) {
          const float* src = paddedRow(x, state, b, static_cast<long>(t + j), T, C, K);
          if (src) fmaRow(pw + j * C, g, src, C);
        }
      }
    }
  });
  for (size_t blk = 1; blk < nb; blk++) {
    const float* p = part.data() + blk * stride;
    float* acc = part.data();
    for (size_t i = 0; i < stride; i++) acc[i] += p[i];
  }
  const float* tot = part.data();
  for (size_t c = 0; c < C; c++)
    for (size_t j = 0; j < K; j++) gw[c * K + j] += tot[j * C + c];
  if (gb)
    for (size_t c = 0; c < C; c++) gb[c] += tot[K * C + c];
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(causalConv1d, chimera::convEntry);
CHIMERA_EXPORT(causalConv1dBackward, chimera::convBackwardEntry);
