// N-API entry points for the softmax family over the last axis of x [R, C]: softmax,
// logSoftmax and their backwards, fused cross-entropy forward/backward. One row per thread.
#include <algorithm>
#include <cmath>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {
namespace {

template <class F>
void rowsParallel(size_t rows, size_t cols, size_t costPerElem, F f) {
  parallelRanges(rows, grainFor(rows, cols * costPerElem), rows * cols * costPerElem, [&](size_t r0, size_t r1, int) {
    for (size_t r = r0; r < r1; r++) f(r);
  });
}

napi_value softmaxEntry(Args& a) {
  const size_t rows = a.size(2), cols = a.size(3);
  const float* x = a.f32(0, rows * cols);
  float* y = a.f32(1, rows * cols);
  rowsParallel(rows, cols, 4, [&](size_t r) { isa().softmaxRow(x + r * cols, y + r * cols, cols); });
  return nullptr;
}

napi_value logSoftmaxEntry(Args& a) {
  const size_t rows = a.size(2), cols = a.size(3);
  const float* x = a.f32(0, rows * cols);
  float* y = a.f32(1, rows * cols);
  rowsParallel(rows, cols, 4, [&](size_t r) { isa().logSoftmaxRow(x + r * cols, y + r * cols, cols); });
  return nullptr;
}

napi_value softmaxBackwardEntry(Args& a) {
  const size_t rows = a.size(3), cols = a.size(4);
  const float* y = a.f32(0, rows * cols);
  const float* gy = a.f32(1, rows * cols);
  float* gx = a.f32(2, rows * cols);
  rowsParallel(rows, cols, 2, [&](size_t r) { isa().softmaxBackwardRow(y + r * cols, gy + r * cols, gx + r * cols, cols); });
  return nullptr;
}

napi_value logSoftmaxBackwardEntry(Args& a) {
  const size_t rows = a.size(3), cols = a.size(4);
  const float* y = a.f32(0, rows * cols);
  const float* gy = a.f32(1, rows * cols);
  float* gx = a.f32(2, rows * cols);
  rowsParallel(rows, cols, 4, [&](size_t r) { isa().logSoftmaxBackwardRow(y + r * cols, gy + r * cols, gx + r * cols, cols); });
  return nullptr;
}

/** crossEntropy(logits, targets, loss, lse, rows, cols, ignoreIndex) → rows not ignored. */
napi_value crossEntropyEntry(Args& a) {
  const size_t rows = a.size(4), cols = a.size(5);
  const int64_t ignore = a.i64(6);
  const float* logits = a.f32(0, rows * cols);
  const int32_t* t = a.i32(1, rows);
  float* loss = a.f32(2, rows);
  float* lse = a.f32(3, rows);
  for (size_t r = 0; r < rows; r++)
    if (t[r] != ignore && (t[r] < 0 || static_cast<size_t>(t[r]) >= cols)) throw ArgError("crossEntropy: target out of range", true);
  rowsParallel(rows, cols, 3, [&](size_t r) {
    const float* x = logits + r * cols;
    const float l = static_cast<float>(isa().logSumExpRow(x, cols));
    lse[r] = l;
    loss[r] = t[r] == ignore ? 0.0f : l - x[t[r]];
  });
  double count = 0;
  for (size_t r = 0; r < rows; r++) count += t[r] != ignore;
  return numberValue(a.env(), count);
}

/** crossEntropyBackward(logits, targets, lse, gLoss, gLogits, rows, cols, ignoreIndex). */
napi_value crossEntropyBackwardEntry(Args& a) {
  const size_t rows = a.size(5), cols = a.size(6);
  const int64_t ignore = a.i64(7);
  const float* logits = a.f32(0, rows * cols);
  const int32_t* t = a.i32(1, rows);
  const float* lse = a.f32(2, rows);
  const float* gLoss = a.f32(3, rows);
  float* g = a.f32(4, rows * cols);
  for (size_t r = 0; r < rows; r++)
    if (t[r] != ignore && (t[r] < 0 || static_cast<size_t>(t[r]) >= cols)) throw ArgError("crossEntropyBackward: target out of range", true);
  rowsParallel(rows, cols, 3, [&](size_t r) {
    float* o = g + r * cols;
    if (t[r] == ignore) {
      std::fill(o, o + cols, 0.0f);
      return;
    }
    isa().scaledExpRow(logits + r * cols, lse[r], gLoss[r], o, cols);
    o[t[r]] -= gLoss[r];
  });
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(softmax, chimera::softmaxEntry);
CHIMERA_EXPORT(logSoftmax, chimera::logSoftmaxEntry);
CHIMERA_EXPORT(softmaxBackward, chimera::softmaxBackwardEntry);
CHIMERA_EXPORT(logSoftmaxBackward, chimera::logSoftmaxBackwardEntry);
CHIMERA_EXPORT(crossEntropy, chimera::crossEntropyEntry);
CHIMERA_EXPORT(crossEntropyBackward, chimera::crossEntropyBackwardEntry);
