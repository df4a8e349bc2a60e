// N-API entry points for RMSNorm and LayerNorm over the last axis (forward and backward).
// Weight/bias gradients are accumulated per fixed block of rows (block size depends only on
// the row count) and the block partials are added in block order: deterministic, race-free,
// and independent of the number of threads.
#include <algorithm>
#include <cstring>
#include <vector>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {
namespace {

template <class F>
void rowsParallel(size_t rows, size_t cols, F f) {
  parallelRanges(rows, grainFor(rows, cols * 3), rows * cols * 3, [&](size_t r0, size_t r1, int) {
    for (size_t r = r0; r < r1; r++) f(r);
  });
}

/** Rows per partial-gradient block: ≤ 64 blocks, ≥ 16 rows each. */
size_t blockRows(size_t rows) { return std::max<size_t>(16, (rows + 63) / 64); }

/**
 * Runs rowFn(r, accs...) over all rows with per-block accumulators of `cols` floats
 * (`nacc` of them), then adds block partials into targets[i] in block order.
 */
template <class F>
void rowsWithAccumulators(size_t rows, size_t cols, float* const* targets, size_t nacc, F rowFn) {
  const size_t br = blockRows(rows);
  const size_t nb = (rows + br - 1) / br;
  std::vector<float> part(nb * nacc * cols, 0.0f);
  parallelRanges(nb, 1, rows * cols * 4, [&](size_t b0, size_t b1, int) {
    for (size_t b = b0; b < b1; b++) {
      float* acc = part.data() + b * nacc * cols;
      for (size_t r = b * br; r < std::min(rows, (b + 1) * br); r++) rowFn(r, acc);
    }
  });
  parallelRanges(cols, 1024, nb * nacc * cols, [&](size_t c0, size_t c1, int) {
    for (size_t i = 0; i < nacc; i++) {
      if (!targets[i]) continue;
      for (size_t b = 0; b < nb; b++) {
        const float* p = part.data() + (b * nacc + i) * cols;
        for (size_t c = c0; c < c1; c++) targets[i][c] += p[c];
      }
    }
  });
}

/** rmsNorm(x, w|null, out, rstd, rows, cols, eps, wOffset) */
napi_value rmsNormEntry(Args& a) {
  const size_t rows = a.size(4), cols = a.size(5);
  const float eps = static_cast<float>(a.num(6)), wOff = static_cast<float>(a.num(7));
  const float* x = a.f32(0, rows * cols);
  const float* w = a.f32OrNull(1, cols);
  float* y = a.f32(2, rows * cols);
  float* rstd = a.f32(3, rows);
  rowsParallel(rows, cols, [&](size_t r) { rstd[r] = isa().rmsNormRow(x + r * cols, w, y + r * cols, cols, eps, wOff); });
  return nullptr;
}

/** rmsNormBackward(x, w|null, rstd, gy, gx, gw|null, rows, cols, wOffset) */
napi_value rmsNormBackwardEntry(Args& a) {
  const size_t rows = a.size(6), cols = a.size(7);
  const float wOff = static_cast<float>(a.num(8));
  const float* x = a.f32(0, rows * cols);
  const float* w = a.f32OrNull(1, cols);
  const float* rstd = a.f32(2, rows);
  const float* gy = a.f32(3, rows * cols);
  float* gx = a.f32(4, rows * cols);
  float* gw = a.f32OrNull(5, cols);
  if (!w || !gw) {
    rowsParallel(rows, cols, [&](size_t r) {
      isa().rmsNormBackwardRow(x + r * cols, w, rstd[r], gy + r * cols, gx + r * cols, nullptr, cols, wOff);
    });
    return nullptr;
  }
  float* targets[1] = {gw};
  rowsWithAccumulators(rows, cols, targets, 1, [&](size_t r, float* acc) {
    isa().rmsNormBackwardRow(x + r * cols, w, rstd[r], gy + r * cols, gx + r * cols, acc, cols, wOff);
  });
  return nullptr;
}

/** layerNorm(x, w|null, b|null, out, mean, rstd, rows, cols, eps) */
napi_value layerNormEntry(Args& a) {
  const size_t rows = a.size(6), cols = a.size(7);
  const float eps = static_cast<float>(a.num(8));
  const float* x = a.f32(0, rows * cols);
  const float* w = a.f32OrNull(1, cols);
  const float* b = a.f32OrNull(2, cols);
  float* y = a.f32(3, rows * cols);
  float* mean = a.f32(4, rows);
  float* rstd = a.f32(5, rows);
  rowsParallel(rows, cols, [&](size_t r) { isa().layerNormRow(x + r * cols, w, b, y + r * cols, cols, eps, mean + r, rstd + r); });
  return nullptr;
}

/** layerNormBackward(x, w|null, mean, rstd, gy, gx, gw|null, gb|null, rows, cols) */
napi_value layerNormBackwardEntry(Args& a) {
  const size_t rows = a.size(8), cols = a.size(9);
  const float* x = a.f32(0, rows * cols);
  const float* w = a.f32OrNull(1, cols);
  const float* mean = a.f32(2, rows);
  const float* rstd = a.f32(3, rows);
  const float* gy = a.f32(4, rows * cols);
  float* gx = a.f32(5, rows * cols);
  float* gw = a.f32OrNull(6, cols);
  float* gb = a.f32OrNull(7, cols);
  if (!w) gw = nullptr;  // gw accumulates only when the layer has a weight (reference semantics)
  if (!gw && !gb) {
    rowsParallel(rows, cols, [&](size_t r) {
      isa().layerNormBackwardRow(x + r * cols, w, mean[r], rstd[r], gy + r * cols, gx + r * cols, nullptr, nullptr, cols);
    });
    return nullptr;
  }
  float* targets[2] = {gw, gb};
  rowsWithAccumulators(rows, cols, targets, 2, [&](size_t r, float* acc) {
    isa().layerNormBackwardRow(x + r * cols, w, mean[r], rstd[r], gy + r * cols, gx + r * cols, gw ? acc : nullptr, gb ? acc + cols : nullptr, cols);
  });
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(rmsNorm, chimera::rmsNormEntry);
CHIMERA_EXPORT(rmsNormBackward, chimera::rmsNormBackwardEntry);
CHIMERA_EXPORT(layerNorm, chimera::layerNormEntry);
CHIMERA_EXPORT(layerNormBackward, chimera::layerNormBackwardEntry);
