// N-API entry points for the elementwise kernels: unary (+ backward), broadcasting binary,
// affine, axpy, where, copyStrided, fill. Large arrays are split over the pool in fixed-size
// ranges (results are elementwise, so independent of the split).
#include <algorithm>
#include <cstring>
#include <vector>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {
namespace {

constexpr size_t kGrain = 16384;  // elements per task (multiple of every vector width)

/**
 * Outputs of at least this many floats (16 MiB) are written with non-temporal stores: they
 * cannot stay in the caches anyway, and streaming skips reading each output line first.
 */
constexpr size_t kStreamFloats = size_t(1) << 22;

/** Relative cost of a unary op (1 = a load and a store). */
size_t unaryCost(int op) {
  switch (op) {
    case U_NEG: case U_ABS: case U_SQUARE: case U_RELU: return 1;
    case U_SQRT: case U_RSQRT: case U_RECIP: return 2;
    case U_SIN: case U_COS: return 16;
    default: return 6;
  }
}

int unaryCode(Args& a, size_t i) {
  const int64_t op = a.i64(i);
  if (op < 0 || op >= U_COUNT) throw ArgError("unknown unary op code");
  return static_cast<int>(op);
}

napi_value unaryEntry(Args& a) {
  const int op = unaryCode(a, 0);
  const size_t n = a.size(3);
  const float* x = a.f32(1, n);
  float* y = a.f32(2, n);
  const bool stream = n >= kStreamFloats;
  parallelRanges(n, kGrain, n * unaryCost(op), [&](size_t b, size_t e, int) { isa().unary(op, x + b, y + b, e - b, stream); });
  return nullptr;
}

napi_value unaryBackwardEntry(Args& a) {
  const int op = unaryCode(a, 0);
  const size_t n = a.size(5);
  const float* x = a.f32(1, n);
  const float* y = a.f32(2, n);
  const float* gy = a.f32(3, n);
  float* gx = a.f32(4, n);
  const bool stream = n >= kStreamFloats;
  parallelRanges(n, kGrain, n * unaryCost(op), [&](size_t b, size_t e, int) { isa().unaryBackward(op, x + b, y + b, gy + b, gx + b, e - b, stream); });
  return nullptr;
}

int binaryCode(Args& a, size_t i) {
  const int64_t op = a.i64(i);
  if (op < 0 || op >= B_COUNT) throw ArgError("unknown binary op code");
  return static_cast<int>(op);
}

/** binarySame(op, a, b, out, n): all three contiguous with n elements. */
napi_value binarySameEntry(Args& a) {
  const int op = binaryCode(a, 0);
  const size_t n = a.size(4);
  const float* x = a.f32(1, n);
  const float* y = a.f32(2, n);
  float* o = a.f32(3, n);
  parallelRanges(n, kGrain, n * (op == B_POW ? 16 : 1), [&](size_t b, size_t e, int) { isa().binaryRow(op, x + b, 1, y + b, 1, o + b, e - b); });
  return nullptr;
}

struct Dim {
  int64_t size, sa, sb;
};

constexpr size_t kMaxRank = 32;

/** A fixed-capacity list (no heap allocation on the dispatch path). */
template <class T>
struct SmallVec {
  T items[kMaxRank];
  size_t count = 0;
  void push_back(const T& t) {
    if (count == kMaxRank) throw ArgError("rank above 32 is not supported", true);
    items[count++] = t;
  }
  bool empty() const { return count == 0; }
  size_t size() const { return count; }
  T& back() { return items[count - 1]; }
  T& operator[](size_t i) { return items[i]; }
  const T& operator[](size_t i) const { return items[i]; }
  const T* begin() const { return items; }
  const T* end() const { return items + count; }
};

/**
 * binary(op, a, b, out, meta, rank): meta (Int32Array) = [outShape(rank), aStrides(rank),
 * bStrides(rank)]; strides index a and b from element 0 (0 on broadcast dims).
 */
napi_value binaryEntry(Args& a) {
  const int op = binaryCode(a, 0);
  const size_t rank = a.size(5);
  const int32_t* meta = a.i32(4, 3 * rank);
  // collect non-trivial dims, then merge neighbours that are contiguous for both operands
  SmallVec<Dim> dims;
  size_t n = 1;
  int64_t maxA = 0, maxB = 0;
  for (size_t d = 0; d < rank; d++) {
    const int64_t s = meta[d], sa = meta[rank + d], sb = meta[2 * rank + d];
    if (s < 0 || sa < 0 || sb < 0) throw ArgError("binary: negative shape or stride", true);
    n *= static_cast<size_t>(s);
    if (s == 0) continue;
    maxA += (s - 1) * sa;
    maxB += (s - 1) * sb;
    if (s == 1) continue;
    dims.push_back({s, sa, sb});
  }
  const float* x = a.f32(1, n ? static_cast<size_t>(maxA) + 1 : 0);
  const float* y = a.f32(2, n ? static_cast<size_t>(maxB) + 1 : 0);
  float* o = a.f32(3, n);
  if (n == 0) return nullptr;
  SmallVec<Dim> merged;
  for (const Dim& d : dims) {
    if (!merged.empty()) {
      Dim& p = merged.back();
      if (p.sa == d.sa * d.size && p.sb == d.sb * d.size) {
        p.size *= d.size;
        p.sa = d.sa;
        p.sb = d.sb;
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back({1, 0, 0});
  const Dim inner = merged.back();
  const size_t L = static_cast<size_t>(inner.size);
  const size_t rows = n / L;
  const size_t outerRank = merged.size() - 1;
  const bool unit = (inner.sa == 0 || inner.sa == 1) && (inner.sb == 0 || inner.sb == 1);
  auto rowRange = [&](size_t r0, size_t r1, int) {
    // position of row r0 in the outer dims
    int64_t idx[kMaxRank] = {0};
    int64_t pa = 0, pb = 0;
    size_t rem = r0;
    for (size_t d = outerRank; d-- > 0;) {
      idx[d] = static_cast<int64_t>(rem % static_cast<size_t>(merged[d].size));
      rem /= static_cast<size_t>(merged[d].size);
      pa += idx[d] * merged[d].sa;
      pb += idx[d] * merged[d].sb;
    }
    for (size_t r = r0; r < r1; r++) {
      float* out = o + r * L;
      if (unit) isa().binaryRow(op, x + pa, static_cast<int>(inner.sa), y + pb, static_cast<int>(inner.sb), out, L);
      else
        for (size_t j = 0; j < L; j++) isa().binaryRow(op, x + pa + j * inner.sa, 0, y + pb + j * inner.sb, 0, out + j, 1);
      for (size_t d = outerRank; d-- > 0;) {
        idx[d]++;
        pa += merged[d].sa;
        pb += merged[d].sb;
        if (idx[d] < merged[d].size) break;
        pa -= idx[d] * merged[d].sa;
        pb -= idx[d] * merged[d].sb;
        idx[d] = 0;
      }
    }
  };
  const size_t rowsPerTask = std::max<size_t>(1, kGrain / L);
  parallelRanges(rows, rowsPerTask, n * (op == B_POW ? 16 : 1), rowRange);
  return nullptr;
}

napi_value affineEntry(Args& a) {
  const size_t n = a.size(2);
  const float* x = a.f32(0, n);
  float* y = a.f32(1, n);
  const float alpha = static_cast<float>(a.num(3)), s = static_cast<float>(a.num(4));
  parallelRanges(n, kGrain, n, [&](size_t b, size_t e, int) { isa().affine(x + b, y + b, e - b, alpha, s); });
  return nullptr;
}

napi_value axpyEntry(Args& a) {
  const size_t n = a.size(0);
  const float alpha = static_cast<float>(a.num(1));
  const float* x = a.f32(2, n);
  float* y = a.f32(3, n);
  parallelRanges(n, kGrain, n, [&](size_t b, size_t e, int) { isa().axpy(e - b, alpha, x + b, y + b); });
  return nullptr;
}

napi_value whereEntry(Args& a) {
  const size_t n = a.size(4);
  const float* c = a.f32(0, n);
  const float* x = a.f32(1, n);
  const float* y = a.f32(2, n);
  float* o = a.f32(3, n);
  parallelRanges(n, kGrain, n, [&](size_t b, size_t e, int) { isa().where(c + b, x + b, y + b, o + b, e - b); });
  return nullptr;
}

napi_value fillEntry(Args& a) {
  const size_t n = a.size(1);
  float* o = a.f32(0, n);
  const float v = static_cast<float>(a.num(2));
  parallelRanges(n, kGrain * 4, n, [&](size_t b, size_t e, int) { std::fill(o + b, o + e, v); });
  return nullptr;
}

/** copyStrided(src, offset, meta, rank, dst): meta = [shape(rank), strides(rank)]. */
napi_value copyStridedEntry(Args& a) {
  const int64_t offset = a.i64(1);
  const size_t rank = a.size(3);
  const int32_t* meta = a.i32(2, 2 * rank);
  struct D {
    int64_t size, stride;
  };
  SmallVec<D> dims;
  size_t n = 1;
  int64_t lo = offset, hi = offset;
  for (size_t d = 0; d < rank; d++) {
    const int64_t s = meta[d], st = meta[rank + d];
    if (s < 0) throw ArgError("copyStrided: negative shape", true);
    n *= static_cast<size_t>(s);
    if (s == 0) continue;
    if (st >= 0) hi += (s - 1) * st;
    else lo += (s - 1) * st;
    if (s == 1) continue;
    if (!dims.empty() && dims.back().stride == st * s) {
      dims.back().size *= s;
      dims.back().stride = st;
    } else {
      dims.push_back({s, st});
    }
  }
  if (n != 0 && lo < 0) throw ArgError("copyStrided: view reaches before the array", true);
  const float* src = a.f32(0, n ? static_cast<size_t>(hi) + 1 : 0);
  float* dst = a.f32(4, n);
  if (n == 0) return nullptr;
  if (dims.empty()) dims.push_back({1, 1});
  const D inner = dims.back();
  const size_t L = static_cast<size_t>(inner.size);
  const size_t rows = n / L;
  const size_t outerRank = dims.size() - 1;
  auto rowRange = [&](size_t r0, size_t r1, int) {
    int64_t idx[kMaxRank] = {0};
    int64_t p = offset;
    size_t rem = r0;
    for (size_t d = outerRank; d-- > 0;) {
      idx[d] = static_cast<int64_t>(rem % static_cast<size_t>(dims[d].size));
      rem /= static_cast<size_t>(dims[d].size);
      p += idx[d] * dims[d].stride;
    }
    for (size_t r = r0; r < r1; r++) {
      float* out = dst + r * L;
      const float* in = src + p;
      if (inner.stride == 1) std::memcpy(out, in, L * sizeof(float));
      else
        for (size_t j = 0; j < L; j++) out[j] = in[static_cast<int64_t>(j) * inner.stride];
      for (size_t d = outerRank; d-- > 0;) {
        idx[d]++;
        p += dims[d].stride;
        if (idx[d] < dims[d].size) break;
        p -= idx[d] * dims[d].stride;
        idx[d] = 0;
      }
    }
  };
  parallelRanges(rows, std::max<size_t>(1, kGrain / L), n, rowRange);
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(unary, chimera::unaryEntry);
CHIMERA_EXPORT(unaryBackward, chimera::unaryBackwardEntry);
CHIMERA_EXPORT(binarySame, chimera::binarySameEntry);
CHIMERA_EXPORT(binary, chimera::binaryEntry);
CHIMERA_EXPORT(affine, chimera::affineEntry);
CHIMERA_EXPORT(axpy, chimera::axpyEntry);
CHIMERA_EXPORT(where, chimera::whereEntry);
CHIMERA_EXPORT(fill, chimera::fillEntry);
CHIMERA_EXPORT(copyStrided, chimera::copyStridedEntry);
