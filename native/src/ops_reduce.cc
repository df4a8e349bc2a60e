// N-API entry points for reductions: reduce (sum/max/min/logsumexp over the middle axis of
// [outer, len, inner]), argmax, sumSquares. Long rows are cut into fixed 64K-element chunks
// whose partial results are combined in chunk order, so results never depend on the threads.
#include <algorithm>
#include <cmath>
#include <vector>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {
namespace {

constexpr size_t kChunk = 65536;
constexpr float kInf = __builtin_inff();

/** Σ over a long row by fixed chunks (parallel), combined in order. */
template <class F>
double chunkedSum(size_t len, F partial) {
  const size_t nc = (len + kChunk - 1) / kChunk;
  std::vector<double> parts(nc);
  parallelRanges(nc, 1, len, [&](size_t c0, size_t c1, int) {
    for (size_t c = c0; c < c1; c++) parts[c] = partial(c * kChunk, std::min(len, (c + 1) * kChunk) - c * kChunk);
  });
  double s = 0;
  for (double p : parts) s += p;
  return s;
}

float rowReduce(int op, const float* x, size_t len) {
  const IsaTable& k = isa();
  const bool chunk = len >= 2 * kChunk;
  switch (op) {
    case R_SUM:
      if (!chunk) return static_cast<float>(k.sumRow(x, len));
      return static_cast<float>(chunkedSum(len, [&](size_t b, size_t n) { return k.sumRow(x + b, n); }));
    case R_MAX:
      return k.maxRow(x, len);
    case R_MIN:
      return k.minRow(x, len);
    case R_LSE: {
      const float m = k.maxRow(x, len);
      if (m == -kInf || m != m) return m;
      const double s = chunk ? chunkedSum(len, [&](size_t b, size_t n) { return k.sumExpRow(x + b, n, m); }) : k.sumExpRow(x, len, m);
      return static_cast<float>(static_cast<double>(m) + std::log(s));
    }
  }
  return 0;
}

/** Reduction over len for `cols` adjacent columns (inner > 1): x[l·inner + i]. */
void colReduce(int op, const float* x, float* out, size_t len, size_t inner, size_t cols) {
  switch (op) {
    case R_SUM: {
      std::vector<double> acc(cols, 0.0);
      for (size_t l = 0; l < len; l++) {
        const float* r = x + l * inner;
        for (size_t i = 0; i < cols; i++) acc[i] += r[i];
      }
      for (size_t i = 0; i < cols; i++) out[i] = static_cast<float>(acc[i]);
      break;
    }
    case R_MAX:
    case R_MIN: {
      const bool mx = op == R_MAX;
      for (size_t i = 0; i < cols; i++) out[i] = mx ? -kInf : kInf;
      for (size_t l = 0; l < len; l++) {
        const float* r = x + l * inner;
        for (size_t i = 0; i < cols; i++) {
          const float v = r[i], a = out[i];
          out[i] = (mx ? v > a : v < a) || v != v ? v : a;
          if (a != a) out[i] = a;
        }
      }
      break;
    }
    case R_LSE: {
      std::vector<float> m(cols, -kInf);
      for (size_t l = 0; l < len; l++) {
        const float* r = x + l * inner;
        for (size_t i = 0; i < cols; i++) {
          const float v = r[i], a = m[i];
          m[i] = (v != v || a != a) ? __builtin_nanf("") : (v > a ? v : a);
        }
      }
      std::vector<double> s(cols, 0.0);
      for (size_t l = 0; l < len; l++) {
        const float* r = x + l * inner;
        for (size_t i = 0; i < cols; i++) s[i] += std::exp(static_cast<double>(r[i]) - m[i]);
      }
      for (size_t i = 0; i < cols; i++)
        out[i] = (m[i] == -kInf || m[i] != m[i]) ? m[i] : static_cast<float>(static_cast<double>(m[i]) + std::log(s[i]));
      break;
    }
  }
}

napi_value reduceEntry(Args& a) {
  const int64_t op = a.i64(0);
  if (op < 0 || op >= R_COUNT) throw ArgError("unknown reduce op code");
  const size_t outer = a.size(3), len = a.size(4), inner = a.size(5);
  const float* x = a.f32(1, outer * len * inner);
  float* out = a.f32(2, outer * inner);
  const int o = static_cast<int>(op);
  if (outer * inner == 0) return nullptr;
  if (inner == 1) {
    parallelRanges(outer, grainFor(outer, len), outer * len, [&](size_t r0, size_t r1, int) {
      for (size_t r = r0; r < r1; r++) out[r] = rowReduce(o, x + r * len, len);
    });
    return nullptr;
  }
  constexpr size_t CW = 512;
  const size_t cb = (inner + CW - 1) / CW;
  parallelRanges(outer * cb, grainFor(outer * cb, len * CW), outer * len * inner, [&](size_t t0, size_t t1, int) {
    for (size_t t = t0; t < t1; t++) {
      const size_t ob = t / cb, c0 = (t % cb) * CW, cols = std::min(CW, inner - c0);
      colReduce(o, x + ob * len * inner + c0, out + ob * inner + c0, len, inner, cols);
    }
  });
  return nullptr;
}

napi_value argmaxEntry(Args& a) {
  const size_t outer = a.size(2), len = a.size(3), inner = a.size(4);
  const float* x = a.f32(0, outer * len * inner);
  int32_t* out = a.i32(1, outer * inner);
  if (outer * inner == 0) return nullptr;
  if (inner == 1) {
    parallelRanges(outer, grainFor(outer, len), outer * len, [&](size_t r0, size_t r1, int) {
      for (size_t r = r0; r < r1; r++) out[r] = static_cast<int32_t>(isa().argmaxRow(x + r * len, len));
    });
    return nullptr;
  }
  parallelRanges(outer, grainFor(outer, len * inner), outer * len * inner, [&](size_t o0, size_t o1, int) {
    std::vector<float> best(inner);
    for (size_t o = o0; o < o1; o++) {
      const float* xo = x + o * len * inner;
      int32_t* io = out + o * inner;
      std::fill(best.begin(), best.end(), -kInf);
      std::fill(io, io + inner, 0);
      for (size_t l = 0; l < len; l++)
        for (size_t i = 0; i < inner; i++)
          if (xo[l * inner + i] > best[i]) {
            best[i] = xo[l * inner + i];
            io[i] = static_cast<int32_t>(l);
          }
    }
  });
  return nullptr;
}

napi_value sumSquaresEntry(Args& a) {
  const size_t n = a.size(1);
  const float* x = a.f32(0, n);
  const IsaTable& k = isa();
  const double s = n >= 2 * kChunk ? chunkedSum(n, [&](size_t b, size_t m) { return k.sumSquares(x + b, m); }) : k.sumSquares(x, n);
  return numberValue(a.env(), s);
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(reduce, chimera::reduceEntry);
CHIMERA_EXPORT(argmax, chimera::argmaxEntry);
CHIMERA_EXPORT(sumSquares, chimera::sumSquaresEntry);
