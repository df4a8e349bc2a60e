// N-API entry point for rotary position embedding (RoFormer, Su et al. 2021), float32: the
// `rope` kernel of src/backend/kernels.ts (reference: src/backend/reference/rope.ts).
//
// x, out [N, H, D] (N tokens); token n uses row positions[n] of cos/sin [P, R/2] (R = rotaryDim).
// Pairs are (i, i + R/2) (rotate-half) or (2i, 2i + 1) (interleaved); inverse uses −sin (the
// transpose, i.e. the backward). Channels R..D−1 are copied. Each token is independent: tokens
// are split into fixed ranges over the pool, so results do not depend on the thread count.
// Loops are plain and auto-vectorised (-O3, AVX2 baseline); in-place (out == x) is safe.
#include <algorithm>
#include <cstring>
#include "common.h"
#include "pool.h"

namespace chimera {
namespace {

/** Rotate-half pairs of one head: a = x[0..half), b = x[half..R). */
inline void rotateHalf(const float* __restrict x, float* __restrict y, const float* c, const float* s, size_t half, float sgn) {
  for (size_t i = 0; i < half; i++) {
    const float xa = x[i], xb = x[i + half], si = sgn * s[i];
    y[i] = xa * c[i] - xb * si;
    y[i + half] = xb * c[i] + xa * si;
  }
}
/** Interleaved pairs (2i, 2i+1) of one head. */
inline void rotateInterleaved(const float* __restrict x, float* __restrict y, const float* c, const float* s, size_t half, float sgn) {
  for (size_t i = 0; i < half; i++) {
    const float xa = x[2 * i], xb = x[2 * i + 1], si = sgn * s[i];
    y[2 * i] = xa * c[i] - xb * si;
    y[2 * i + 1] = xb * c[i] + xa * si;
  }
}

/** rope(x, out, positions, cos, sin, n, heads, headDim, rotaryDim, interleaved, inverse) */
napi_value ropeEntry(Args& a) {
  const size_t n = a.size(5), heads = a.size(6), D = a.size(7), R = a.size(8);
  const bool interleaved = a.flag(9), inverse = a.flag(10);
  if (R > D || R % 2 != 0) throw ArgError("rope: rotaryDim must be even and ≤ headDim", true);
  const size_t half = R / 2;
  const float* x = a.f32(0, n * heads * D);
  float* out = a.f32(1, n * heads * D);
  const int32_t* pos = a.i32(2, n);
  const size_t tabLen = std::min(a.length(3), a.length(4));
  const float* cosT = a.f32(3);
  const float* sinT = a.f32(4);
  const size_t P = half ? tabLen / half : 0;
  for (size_t t = 0; t < n; t++)
    if (half && (pos[t] < 0 || static_cast<size_t>(pos[t]) >= P)) throw ArgError("rope: position out of the table range", true);
  const float sgn = inverse ? -1.0f : 1.0f;
  const size_t row = heads * D;
  // temporaries let out alias x (the kernels read a head fully before writing it)
  parallelRanges(n, grainFor(n, row * 2), n * row * 2, [&](size_t t0, size_t t1, int) {
    float tmp[512];
    for (size_t t = t0; t < t1; t++) {
      const float* c = cosT + static_cast<size_t>(pos[t]) * half;
      const float* s = sinT + static_cast<size_t>(pos[t]) * half;
      for (size_t h = 0; h < heads; h++) {
        const float* xh = x + t * row + h * D;
        float* yh = out + t * row + h * D;
        const bool alias = xh == yh;
        if (alias && R > 512) {
          // very wide heads in place: rotate pair by pair
          for (size_t i = 0; i < half; i++) {
            const size_t ia = interleaved ? 2 * i : i, ib = interleaved ? ia + 1 : i + half;
            const float xa = xh[ia], xb = xh[ib], si = sgn * s[i];
            yh[ia] = xa * c[i] - xb * si;
            yh[ib] = xb * c[i] + xa * si;
          }
          continue;
        }
        float* dst = alias ? tmp : yh;
        if (interleaved) rotateInterleaved(xh, dst, c, s, half, sgn);
        else rotateHalf(xh, dst, c, s, half, sgn);
        if (alias) std::memcpy(yh, tmp, R * sizeof(float));
        else if (R < D) std::memcpy(yh + R, xh + R, (D - R) * sizeof(float));
      }
    }
  });
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(rope, chimera::ropeEntry);
