// N-API entry points for fused attention (forward and backward, float32): FlashAttention-2
// tiling with an online softmax, GQA, causal / sliding-window masks, sinks and a query offset.
// The kernels live in ops_attention_impl.h, compiled here once for AVX2 and once for AVX-512;
// the instantiation follows the addon's ISA choice (isa().name, so CHIMERA_ISA=avx2 applies).
//
// Parallel work: the forward runs one task per (b, h, query tile), the backward one task per
// (b, kv head) owning that group's gq rows and its gk, gv rows. Task boundaries depend only on
// the shapes and each task is sequential, so results do not depend on the thread count.
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "common.h"
#include "isa.h"
#include "pool.h"

namespace chimera {

/** Problem dimensions of one attention call (see the legend in ops_attention_impl.h). */
struct AttnDims {
  long B, Tq, Tk, Hq, Hkv, D, Dv;
  float scale;
  bool causal;
  long window, qStart;
};

}  // namespace chimera

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace chimera {
namespace attn_avx2 {
#include "simd_avx2.h"
#include "vmath.h"
#include "ops_attention_impl.h"
}  // namespace attn_avx2
}  // namespace chimera
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c")
namespace chimera {
namespace attn_avx512 {
#include "simd_avx512.h"
#include "vmath.h"
#include "ops_attention_impl.h"
}  // namespace attn_avx512
}  // namespace chimera
#pragma GCC pop_options

namespace chimera {
namespace {

bool useAvx512() { return std::strcmp(isa().name, "avx512") == 0; }

/** Reads B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart starting at argument i. */
AttnDims readDims(Args& a, size_t i, const char* op) {
  AttnDims d;
  d.B = static_cast<long>(a.size(i));
  d.Tq = static_cast<long>(a.size(i + 1));
  d.Tk = static_cast<long>(a.size(i + 2));
  d.Hq = static_cast<long>(a.size(i + 3));
  d.Hkv = static_cast<long>(a.size(i + 4));
  d.D = static_cast<long>(a.size(i + 5));
  d.Dv = static_cast<long>(a.size(i + 6));
  d.scale = static_cast<float>(a.num(i + 7));
  d.causal = a.flag(i + 8);
  d.window = static_cast<long>(a.i64(i + 9));
  d.qStart = static_cast<long>(a.i64(i + 10));
  if (d.Hkv < 1 || d.Hq % d.Hkv != 0) throw ArgError(std::string(op) + ": query heads must be a multiple of kv heads", true);
  return d;
}

/** attention(q, k, v, sinks|null, out, lse, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart) */
napi_value attentionEntry(Args& a) {
  const AttnDims d = readDims(a, 6, "attention");
  const float* q = a.f32(0, size_t(d.B) * d.Tq * d.Hq * d.D);
  const float* k = a.f32(1, size_t(d.B) * d.Tk * d.Hkv * d.D);
  const float* v = a.f32(2, size_t(d.B) * d.Tk * d.Hkv * d.Dv);
  const float* sinks = a.f32OrNull(3, d.Hq);
  float* out = a.f32(4, size_t(d.B) * d.Tq * d.Hq * d.Dv);
  float* lse = a.f32(5, size_t(d.B) * d.Hq * d.Tq);
  if (useAvx512()) attn_avx512::attentionForward(d, q, k, v, sinks, out, lse);
  else attn_avx2::attentionForward(d, q, k, v, sinks, out, lse);
  return nullptr;
}

/** attentionBackward(q, k, v, sinks|null, out, lse, gOut, gq, gk, gv, gSinks|null, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart) */
napi_value attentionBackwardEntry(Args& a) {
  const AttnDims d = readDims(a, 11, "attentionBackward");
  const size_t nq = size_t(d.B) * d.Tq * d.Hq * d.D, nk = size_t(d.B) * d.Tk * d.Hkv * d.D, nv = size_t(d.B) * d.Tk * d.Hkv * d.Dv;
  const size_t no = size_t(d.B) * d.Tq * d.Hq * d.Dv;
  const float* q = a.f32(0, nq);
  const float* k = a.f32(1, nk);
  const float* v = a.f32(2, nv);
  const float* sinks = a.f32OrNull(3, d.Hq);
  const float* out = a.f32(4, no);
  const float* lse = a.f32(5, size_t(d.B) * d.Hq * d.Tq);
  const float* gOut = a.f32(6, no);
  float* gq = a.f32(7, nq);
  float* gk = a.f32(8, nk);
  float* gv = a.f32(9, nv);
  float* gSinks = a.f32OrNull(10, d.Hq);
  if (useAvx512()) attn_avx512::attentionBackward(d, q, k, v, sinks, out, lse, gOut, gq, gk, gv, gSinks);
  else attn_avx2::attentionBackward(d, q, k, v, sinks, out, lse, gOut, gq, gk, gv, gSinks);
  return nullptr;
}

}  // namespace
}  // namespace chimera

CHIMERA_EXPORT(attention, chimera::attentionEntry);
CHIMERA_EXPORT(attentionBackward, chimera::attentionBackwardEntry);
