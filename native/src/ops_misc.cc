// N-API entry points for embedding gather/scatter, Philox randomness (dropout, uniform, normal:
// same stream layout as src/tensor/rng.ts, bit-identical uniforms) and the fused AdamW step.
#include <algorithm>
#include <cmath>
#include <cstring>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {
namespace {

/** embedding(weight, ids, out, n, dim) */
napi_value embeddingEntry(Args& a) {
  const size_t n = a.size(3), dim = a.size(4);
  const size_t wlen = a.length(0);
  const float* w = a.f32(0);
  const int32_t* ids = a.i32(1, n);
  float* out = a.f32(2, n * dim);
  const size_t vocab = dim ? wlen / dim : 0;
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= vocab) throw ArgError("embedding: id out of range", true);
  parallelRanges(n, grainFor(n, dim), n * dim, [&](size_t i0, size_t i1, int) {
    for (size_t i = i0; i < i1; i++) std::memcpy(out + i * dim, w + static_cast<size_t>(ids[i]) * dim, dim * sizeof(float));
  });
  return nullptr;
}

/** embeddingBackward(gy, ids, gw, n, dim): split over columns so rows with equal ids never race. */
napi_value embeddingBackwardEntry(Args& a) {
  const size_t n = a.size(3), dim = a.size(4);
  const float* gy = a.f32(0, n * dim);
  const int32_t* ids = a.i32(1, n);
  const size_t wlen = a.length(2);
  float* gw = a.f32(2);
  const size_t vocab = dim ? wlen / dim : 0;
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= vocab) throw ArgError("embeddingBackward: id out of range", true);
  parallelRanges(dim, 256, n * dim, [&](size_t c0, size_t c1, int) {
    for (size_t i = 0; i < n; i++) isa().axpy(c1 - c0, 1.0f, gy + i * dim + c0, gw + static_cast<size_t>(ids[i]) * dim + c0);
  });
  return nullptr;
}

// ---- Philox ------------------------------------------------------------------------------------

constexpr size_t kRngChunk = 4096;  // elements per task (1024 blocks)
constexpr double kTwo32 = 4294967296.0;

struct Stream {
  uint32_t k0, k1;
  uint64_t offset;
};

Stream readStream(Args& a, size_t i) {
  const double k0 = a.num(i), k1 = a.num(i + 1), off = a.num(i + 2);
  if (!(off >= 0) || off > 9007199254740992.0) throw ArgError("philox: offset out of range", true);
  return {static_cast<uint32_t>(static_cast<int64_t>(k0)), static_cast<uint32_t>(static_cast<int64_t>(k1)), static_cast<uint64_t>(off)};
}

/** Calls f(i0, count, u32s) for chunks of the stream covering elements [0, n). */
template <class F>
void forStream(size_t n, const Stream& s, size_t cost, F f) {
  parallelRanges(n, kRngChunk, n * cost, [&](size_t b, size_t e, int) {
    alignas(64) uint32_t u[kRngChunk + 4];
    for (size_t c = b; c < e; c += kRngChunk) {
      const size_t cnt = std::min(kRngChunk, e - c);
      isa().philoxBlocks(s.offset + c / 4, (cnt + 3) / 4, s.k0, s.k1, u);
      f(c, cnt, u);
    }
  });
}

/** uniform(out, n, k0, k1, offset): (u + 1) / 2^32 in (0, 1]. */
napi_value uniformEntry(Args& a) {
  const size_t n = a.size(1);
  float* out = a.f32(0, n);
  const Stream s = readStream(a, 2);
  forStream(n, s, 4, [&](size_t c, size_t cnt, const uint32_t* u) {
    for (size_t j = 0; j < cnt; j++) out[c + j] = static_cast<float>((static_cast<double>(u[j]) + 1.0) / kTwo32);
  });
  return nullptr;
}

/** normal(out, n, k0, k1, offset): Box–Muller on lane pairs, in double like the reference. */
napi_value normalEntry(Args& a) {
  const size_t n = a.size(1);
  float* out = a.f32(0, n);
  const Stream s = readStream(a, 2);
  const double twoPi = 2.0 * M_PI;
  forStream(n, s, 16, [&](size_t c, size_t cnt, const uint32_t* u) {
    for (size_t j = 0; j < cnt; j += 2) {
      const double u1 = (static_cast<double>(u[j]) + 1.0) / kTwo32;
      const double u2 = (static_cast<double>(u[j + 1]) + 1.0) / kTwo32;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double th = twoPi * u2;
      out[c + j] = static_cast<float>(r * std::cos(th));
      if (j + 1 < cnt) out[c + j + 1] = static_cast<float>(r * std::sin(th));
    }
  });
  return nullptr;
}

/** dropout(x, out, n, p, k0, k1, offset): keep iff (u + 1)/2^32 > p, scaled by 1/(1 − p). */
napi_value dropoutEntry(Args& a) {
  const size_t n = a.size(2);
  const float* x = a.f32(0, n);
  float* out = a.f32(1, n);
  const double p = a.num(3);
  const Stream s = readStream(a, 4);
  const double scale = 1.0 / (1.0 - p);
  const double thr = p * kTwo32;  // (u + 1)/2^32 > p  ⇔  u + 1 > p·2^32 (exact in double)
  forStream(n, s, 4, [&](size_t c, size_t cnt, const uint32_t* u) {
    for (size_t j = 0; j < cnt; j++)
      out[c + j] = static_cast<double>(u[j]) + 1.0 > thr ? static_cast<float>(static_cast<double>(x[c + j]) * scale) : 0.0f;
  });
  return nullptr;
}

/** philoxU32(out Int32Array, nblocks, k0, k1, offset): raw stream words (tests). */
napi_value philoxU32Entry(Args& a) {
  const size_t nb = a.size(1);
  int32_t* out = a.i32(0, 4 * nb);
  const Stream s = readStream(a, 2);
  isa().philoxBlocks(s.offset, nb, s.k0, s.k1, reinterpret_cast<uint32_t*>(out));
  return nullptr;
}

/** adamw(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2) */
napi_value adamwEntry(Args& a) {
  const size_t n = a.size(4);
  float* p = a.f32(0, n);
  const float* g = a.f32(1, n);
  float* m = a.f32(2, n);
  float* v = a.f32(3, n);
  const double b1 = a.num(6), b2 = a.num(7);
  AdamCoefs k;
  k.lr = static_cast<float>(a.num(5));
  k.beta1 = static_cast<float>(b1);
  k.beta2 = static_cast<float>(b2);
  k.c1 = static_cast<float>(1.0 - b1);
  k.c2 = static_cast<float>(1.0 - b2);
  k.eps = static_cast<float>(a.num(8));
  k.wd = static_cast<float>(a.num(9));
  k.invBc1 = static_cast<float>(1.0 / a.num(10));
  k.invBc2 = static_cast<float>(1.0 / a.num(11));
  parallelRanges(n, 16384, n * 4, [&](size_t b, size_t e, int) { isa().adamw(p + b, g + b, m + b, v + b, e - b, k); });
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(embedding, chimera::embeddingEntry);
CHIMERA_EXPORT(embeddingBackward, chimera::embeddingBackwardEntry);
CHIMERA_EXPORT(uniform, chimera::uniformEntry);
CHIMERA_EXPORT(normal, chimera::normalEntry);
CHIMERA_EXPORT(dropout, chimera::dropoutEntry);
CHIMERA_EXPORT(philoxU32, chimera::philoxU32Entry);
CHIMERA_EXPORT(adamw, chimera::adamwEntry);
