// Fused attention kernels, written once against the VF vector interface (simd_avx2.h /
// simd_avx512.h + vmath.h) and compiled per ISA by ops_attention.cc. FlashAttention-2 (Dao 2023,
// arXiv 2307.08691): the forward walks key tiles with an online softmax and never holds a Tq×Tk
// matrix; the backward recomputes each tile's probabilities from the saved log-sum-exp.
// src/backend/reference/attention.ts is the definition (same visibility rules, sinks, GQA).
//
// Shape legend: B batch, Tq/Tk query/key tokens, Hq/Hkv heads, G = Hq/Hkv heads per kv head,
// D q/k head dim, Dv value head dim, BQ × BK one tile (queries × keys).
//   q [B, Tq, Hq, D]  k [B, Tk, Hkv, D]  v [B, Tk, Hkv, Dv]  out [B, Tq, Hq, Dv]  lse [B, Hq, Tq]
//
// Every tile product is a small matrix multiply (`tileMM`) with a TILE_IB-row × 2-vector register
// tile; strides let it read q, k, v rows in place (token stride Hq·D etc.) and transposed
// probability tiles without copies. Only key tiles are transposed (into Kᵀ [D, BK], Vᵀ [Dv, BK]).

constexpr int ATT_BQ = 64;  // query rows per tile
constexpr int ATT_BK = 64;  // key columns per tile

/** Lane indices 0, 1, …, W−1 as floats. */
static inline VF vcvtiota() {
  alignas(64) static const float io[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return vload(io);
}

/** Loads min(n, W) elements (n ≥ 0; the rest zero) / stores them. */
static inline VF loadPart(const float* p, int n) {
  if (n >= W) return vload(p);
  return vloadn(p, n > 0 ? static_cast<size_t>(n) : 0);
}
static inline void storePart(float* p, VF a, int n) {
  if (n >= W) vstore(p, a);
  else if (n > 0) vstoren(p, a, static_cast<size_t>(n));
}

/**
 * C[i, j] (= or +=) Σ_p A(i, p)·B[p·ldb + j] for i < m, j < n, p < k, with
 * A(i, p) = A[i·sai + p·sap]. One IB-row × 2W-column register tile at a time.
 */
template <int IB>
static inline void tileRows(int n, int k, const float* A, long sai, long sap, const float* B, long ldb, float* C, long ldc, bool acc) {
  for (int j0 = 0; j0 < n; j0 += 2 * W) {
    const int jb = n - j0 < 2 * W ? n - j0 : 2 * W;
    VF c0[IB], c1[IB];
    for (int r = 0; r < IB; r++) c0[r] = c1[r] = vzero();
    const float* bp = B + j0;
    if (jb == 2 * W) {
      for (int p = 0; p < k; p++, bp += ldb) {
        const VF b0 = vload(bp), b1 = vload(bp + W);
        const float* ap = A + p * sap;
#pragma GCC unroll 8
        for (int r = 0; r < IB; r++) {
          const VF a = vbroadcast(ap + r * sai);
          c0[r] = vfma(a, b0, c0[r]);
          c1[r] = vfma(a, b1, c1[r]);
        }
      }
    } else {
      const int n0 = jb < W ? jb : W, n1 = jb - n0;
      for (int p = 0; p < k; p++, bp += ldb) {
        const VF b0 = loadPart(bp, n0), b1 = loadPart(bp + W, n1);
        const float* ap = A + p * sap;
#pragma GCC unroll 8
        for (int r = 0; r < IB; r++) {
          const VF a = vbroadcast(ap + r * sai);
          c0[r] = vfma(a, b0, c0[r]);
          c1[r] = vfma(a, b1, c1[r]);
        }
      }
    }
    const int n0 = jb < W ? jb : W, n1 = jb - n0;
    for (int r = 0; r < IB; r++) {
      float* cp = C + r * ldc + j0;
      if (acc) {
        storePart(cp, loadPart(cp, n0) + c0[r], n0);
        storePart(cp + W, loadPart(cp + W, n1) + c1[r], n1);
      } else {
        storePart(cp, c0[r], n0);
        storePart(cp + W, c1[r], n1);
      }
    }
  }
}

// Rows per register tile: IB × 2 accumulators must fit the register file with the B vectors
// (AVX-512: 32 registers → 8 rows; AVX2: 16 registers → 6 rows).
constexpr int TILE_IB = W == 16 ? 8 : 6;

static void tileMM(int m, int n, int k, const float* A, long sai, long sap, const float* B, long ldb, float* C, long ldc, bool acc) {
  int i = 0;
  for (; i + TILE_IB <= m; i += TILE_IB) tileRows<TILE_IB>(n, k, A + i * sai, sai, sap, B, ldb, C + i * ldc, ldc, acc);
  const float* a = A + i * sai;
  float* c = C + i * ldc;
  switch (m - i) {
    case 7: tileRows<7>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 6: tileRows<6>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 5: tileRows<5>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 4: tileRows<4>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 3: tileRows<3>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 2: tileRows<2>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    case 1: tileRows<1>(n, k, a, sai, sap, B, ldb, c, ldc, acc); break;
    default: break;
  }
}

/** out[d·ldo + c] = in[c·ldi + d] for c < rows, d < cols (a key tile → its transpose). */
static inline void transposeTile(const float* in, long ldi, int rows, int cols, float* out, long ldo) {
  for (int c0 = 0; c0 < rows; c0 += 16) {
    const int cn = rows - c0 < 16 ? rows - c0 : 16;
    for (int d = 0; d < cols; d++) {
      float* o = out + d * ldo + c0;
      const float* src = in + c0 * ldi + d;
      for (int c = 0; c < cn; c++) o[c] = src[c * ldi];
    }
  }
}

static inline float dotRow(const float* a, const float* b, int n) {
  VF s0 = vzero(), s1 = vzero();
  int i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = vfma(vload(a + i), vload(b + i), s0);
    s1 = vfma(vload(a + i + W), vload(b + i + W), s1);
  }
  for (; i < n; i += W) {
    const int r = n - i < W ? n - i : W;
    s0 = vfma(loadPart(a + i, r), loadPart(b + i, r), s0);
  }
  return hsum(s0 + s1);
}

static inline void scaleRow(float* x, int n, float s) {
  const VF vs = vset1(s);
  for (int i = 0; i < n; i += W) {
    const int r = n - i < W ? n - i : W;
    storePart(x + i, loadPart(x + i, r) * vs, r);
  }
}

/** First visible key for absolute query position p, and one past the last. */
static inline long keyLo(long p, long window) { return window > 0 ? std::max<long>(0, p - window + 1) : 0; }
static inline long keyHi(long p, long Tk, bool causal) { return causal ? std::max<long>(0, std::min<long>(Tk, p + 1)) : Tk; }

/** Per-thread scratch, grown on demand. */
struct AttnScratch {
  std::vector<float> buf;
  float* get(size_t n) {
    if (buf.size() < n) buf.resize(n);
    return buf.data();
  }
};
static thread_local AttnScratch tlsScratch;

/**
 * Forward for one (b, h, query tile [i0, i0 + nq)). Writes the tile's out rows and lse entries.
 * kT is Kᵀ per (b, kv head): [B, Hkv, D, Tk].
 */
static void attnForwardTile(const AttnDims& a, const float* q, const float* kT, const float* v, const float* sinks, float* out, float* lse,
                            long b, long h, long i0) {
  const long Tq = a.Tq, Tk = a.Tk, Hq = a.Hq, Hkv = a.Hkv, D = a.D, Dv = a.Dv;
  const long g = h / (Hq / Hkv);
  const int nq = static_cast<int>(std::min<long>(ATT_BQ, Tq - i0));
  const long qs = Hq * D, vs = Hkv * Dv;
  float* mem = tlsScratch.get(size_t(ATT_BQ) * ATT_BK + size_t(ATT_BQ) * Dv + 2 * ATT_BQ);
  float* S = mem;                      // [BQ, BK] scores, then probabilities
  float* acc = S + ATT_BQ * ATT_BK;    // [BQ, Dv] unnormalised outputs
  float* m = acc + ATT_BQ * Dv;        // running max per row
  float* l = m + ATT_BQ;               // running denominator per row
  const float sink = sinks ? sinks[h] : -INFINITY;
  for (int r = 0; r < nq; r++) {
    m[r] = sink;
    l[r] = sinks ? 1.0f : 0.0f;
  }
  std::fill(acc, acc + size_t(nq) * Dv, 0.0f);
  const float scale = a.scale;
  const VF vscale = vset1(scale);
  const long p0 = a.qStart + i0;
  const long kLo = keyLo(p0, a.window), kHi = keyHi(p0 + nq - 1, Tk, a.causal);
  const float* qt = q + ((b * Tq + i0) * Hq + h) * D;  // row r at qt + r·qs
  const float* kTg = kT + (b * Hkv + g) * D * Tk;
  for (long j0 = kLo; j0 < kHi; j0 += ATT_BK) {
    const int nk = static_cast<int>(std::min<long>(ATT_BK, kHi - j0));
    const float* vt = v + ((b * Tk + j0) * Hkv + g) * Dv;
    tileMM(nq, nk, static_cast<int>(D), qt, qs, 1, kTg + j0, Tk, S, ATT_BK, false);
    // online softmax over this tile, row by row (masked entries become probability 0)
    int kUsed = 0;
    for (int r = 0; r < nq; r++) {
      const long p = p0 + r;
      const int cLo = static_cast<int>(std::max<long>(keyLo(p, a.window) - j0, 0));
      const int cHi = static_cast<int>(std::min<long>(keyHi(p, Tk, a.causal) - j0, nk));
      float* s = S + r * ATT_BK;
      if (cLo >= cHi) {
        std::fill(s, s + nk, 0.0f);
        continue;
      }
      if (cHi > kUsed) kUsed = cHi;
      VF vmx = vset1(-INFINITY);
      for (int c = cLo; c < cHi; c += W) {
        const int n = cHi - c < W ? cHi - c : W;
        VF x = loadPart(s + c, n) * vscale;
        if (n < W) x = vselect(vlt(vcvtiota(), vset1(static_cast<float>(n))), x, vset1(-INFINITY));
        vmx = vmax(vmx, x);
      }
      const float mt = std::max(m[r], hmax(vmx));
      const float alpha = std::exp(m[r] - mt);
      const VF vmt = vset1(mt);
      VF vsum = vzero();
      const bool full = cLo == 0 && cHi == nk;
      for (int c = 0; c < nk; c += W) {
        const int n = nk - c < W ? nk - c : W;
        VF e = vexp(vfma(loadPart(s + c, n), vscale, -vmt));
        if (!full) {
          const VF ci = vcvtiota() + vset1(static_cast<float>(c));
          e = vselect(mand(vge(ci, vset1(static_cast<float>(cLo))), vlt(ci, vset1(static_cast<float>(cHi)))), e, vzero());
        } else if (n < W) {
          e = vselect(vlt(vcvtiota(), vset1(static_cast<float>(n))), e, vzero());
        }
        vsum = vsum + e;
        storePart(s + c, e, n);
      }
      l[r] = l[r] * alpha + hsum(vsum);
      m[r] = mt;
      if (alpha != 1.0f) scaleRow(acc + r * Dv, static_cast<int>(Dv), alpha);
    }
    if (kUsed > 0) tileMM(nq, static_cast<int>(Dv), kUsed, S, ATT_BK, 1, vt, vs, acc, Dv, true);
  }
  for (int r = 0; r < nq; r++) {
    const long i = i0 + r;
    float* o = out + ((b * Tq + i) * Hq + h) * Dv;
    const float lr = l[r];
    const float inv = lr > 0 ? 1.0f / lr : 0.0f;
    const VF vi = vset1(inv);
    for (long d = 0; d < Dv; d += W) {
      const int n = Dv - d < W ? static_cast<int>(Dv - d) : W;
      storePart(o + d, loadPart(acc + r * Dv + d, n) * vi, n);
    }
    lse[(b * Hq + h) * Tq + i] = lr > 0 ? m[r] + std::log(lr) : -INFINITY;
  }
}

static void attentionForward(const AttnDims& a, const float* q, const float* k, const float* v, const float* sinks, float* out, float* lse) {
  const long nqt = (a.Tq + ATT_BQ - 1) / ATT_BQ;
  const size_t ntasks = size_t(a.B) * a.Hq * nqt;
  const double work = double(a.B) * a.Hq * a.Tq * std::min<long>(a.Tk, a.window > 0 ? a.window : a.Tk) * double(a.D + a.Dv);
  // below ~2^19 multiply-adds (e.g. a few query tokens over a short context) a pool hand-off
  // costs more than it saves
  const bool serial = work < 524288.0;
  // Kᵀ per (b, kv head), shared by every query tile and head of the group
  std::vector<float> kT(size_t(a.B) * a.Hkv * a.D * a.Tk);
  auto tr = [&](size_t t, int) {
    const long b = long(t) / a.Hkv, g = long(t) % a.Hkv;
    transposeTile(k + (b * a.Tk * a.Hkv + g) * a.D, a.Hkv * a.D, static_cast<int>(a.Tk), static_cast<int>(a.D), kT.data() + t * a.D * a.Tk,
                  static_cast<int>(a.Tk));
  };
  auto task = [&](size_t t, int) {
    const long qt = static_cast<long>(t % nqt);
    const long bh = static_cast<long>(t / nqt);
    attnForwardTile(a, q, kT.data(), v, sinks, out, lse, bh / a.Hq, bh % a.Hq, qt * ATT_BQ);
  };
  if (serial) {
    for (size_t t = 0; t < size_t(a.B) * a.Hkv; t++) tr(t, 0);
    for (size_t t = 0; t < ntasks; t++) task(t, 0);
    return;
  }
  parallelTasks(size_t(a.B) * a.Hkv, tr);
  parallelTasks(ntasks, task);
}

/**
 * Backward for one (b, kv head g): all G query heads of the group, all key tiles. The task owns
 * gq rows of heads g·G … g·G+G−1 and gk, gv rows of kv head g, so tasks never race; the per-batch
 * sink gradient goes to gsPart[b·Hq + h] (summed over b in order by the caller).
 */
static void attnBackwardGroup(const AttnDims& a, const float* q, const float* k, const float* v, const float* sinks, const float* out,
                              const float* lse, const float* gOut, float* gq, float* gk, float* gv, float* gsPart, long b, long g) {
  const long Tq = a.Tq, Tk = a.Tk, Hq = a.Hq, Hkv = a.Hkv, D = a.D, Dv = a.Dv;
  const long G = Hq / Hkv;
  const long qs = Hq * D, ks = Hkv * D, vs = Hkv * Dv, os = Hq * Dv;
  const size_t need = 2 * size_t(ATT_BQ) * ATT_BK + size_t(D + Dv) * ATT_BK * 2 + size_t(G) * Tq;
  float* mem = tlsScratch.get(need);
  float* P = mem;                        // [BQ, BK]
  float* dS = P + ATT_BQ * ATT_BK;       // [BQ, BK] dP, then dS
  float* Kt = dS + ATT_BQ * ATT_BK;      // [D, BK]
  float* Vt = Kt + D * ATT_BK;           // [Dv, BK]
  float* dK = Vt + Dv * ATT_BK;          // [BK, D]
  float* dV = dK + ATT_BK * D;           // [BK, Dv]
  float* delta = dV + ATT_BK * Dv;       // [G, Tq]
  const float scale = a.scale;
  // Δ_i = dO_i · O_i; zero this group's gq rows; the sink gradient −Σ_i exp(s_h − lse_i)·Δ_i
  for (long hh = 0; hh < G; hh++) {
    const long h = g * G + hh;
    double gs = 0;
    for (long i = 0; i < Tq; i++) {
      const size_t oo = size_t((b * Tq + i) * Hq + h) * Dv;
      const float di = dotRow(gOut + oo, out + oo, static_cast<int>(Dv));
      delta[hh * Tq + i] = di;
      const float L = lse[(b * Hq + h) * Tq + i];
      if (sinks && L != -INFINITY) gs -= std::exp(double(sinks[h]) - L) * di;
      std::fill(gq + ((b * Tq + i) * Hq + h) * D, gq + ((b * Tq + i) * Hq + h) * D + D, 0.0f);
    }
    if (gsPart) gsPart[b * Hq + h] = static_cast<float>(gs);
  }
  for (long j0 = 0; j0 < Tk; j0 += ATT_BK) {
    const int nk = static_cast<int>(std::min<long>(ATT_BK, Tk - j0));
    const float* kt = k + ((b * Tk + j0) * Hkv + g) * D;
    const float* vt = v + ((b * Tk + j0) * Hkv + g) * Dv;
    std::fill(dK, dK + size_t(nk) * D, 0.0f);
    std::fill(dV, dV + size_t(nk) * Dv, 0.0f);
    bool transposed = false;
    for (long hh = 0; hh < G; hh++) {
      const long h = g * G + hh;
      for (long i0 = 0; i0 < Tq; i0 += ATT_BQ) {
        const int nq = static_cast<int>(std::min<long>(ATT_BQ, Tq - i0));
        const long p0 = a.qStart + i0;
        if (keyLo(p0, a.window) >= j0 + nk || keyHi(p0 + nq - 1, Tk, a.causal) <= j0) continue;
        if (!transposed) {
          transposeTile(kt, ks, nk, static_cast<int>(D), Kt, ATT_BK);
          transposeTile(vt, vs, nk, static_cast<int>(Dv), Vt, ATT_BK);
          transposed = true;
        }
        const float* qt = q + ((b * Tq + i0) * Hq + h) * D;
        const float* ot = gOut + ((b * Tq + i0) * Hq + h) * Dv;
        float* gqt = gq + ((b * Tq + i0) * Hq + h) * D;
        const float* L = lse + (b * Hq + h) * Tq + i0;
        const float* dl = delta + hh * Tq + i0;
        // 1. P = exp(scale·Q Kᵀ − lse), 0 where masked
        tileMM(nq, nk, static_cast<int>(D), qt, qs, 1, Kt, ATT_BK, P, ATT_BK, false);
        for (int r = 0; r < nq; r++) {
          const long p = p0 + r;
          int cLo = static_cast<int>(std::max<long>(keyLo(p, a.window) - j0, 0));
          int cHi = static_cast<int>(std::min<long>(keyHi(p, Tk, a.causal) - j0, nk));
          float* pr = P + r * ATT_BK;
          if (L[r] == -INFINITY) cHi = cLo;  // no visible key at all
          const VF vscale = vset1(scale), vl = vset1(L[r]);
          for (int c = 0; c < nk; c += W) {
            const int n = nk - c < W ? nk - c : W;
            VF e = vexp(vfma(loadPart(pr + c, n), vscale, -vl));
            const VF ci = vcvtiota() + vset1(static_cast<float>(c));
            e = vselect(mand(vge(ci, vset1(static_cast<float>(cLo))), vlt(ci, vset1(static_cast<float>(cHi)))), e, vzero());
            storePart(pr + c, e, n);
          }
        }
        // 2. dV += Pᵀ dO
        tileMM(nk, static_cast<int>(Dv), nq, P, 1, ATT_BK, ot, os, dV, Dv, true);
        // 3. dP = dO Vᵀ; dS = P ⊙ (dP − Δ)·scale
        tileMM(nq, nk, static_cast<int>(Dv), ot, os, 1, Vt, ATT_BK, dS, ATT_BK, false);
        for (int r = 0; r < nq; r++) {
          float* ds = dS + r * ATT_BK;
          const float* pr = P + r * ATT_BK;
          const VF vd = vset1(dl[r]), vscale = vset1(scale);
          for (int c = 0; c < nk; c += W) {
            const int n = nk - c < W ? nk - c : W;
            storePart(ds + c, loadPart(pr + c, n) * (loadPart(ds + c, n) - vd) * vscale, n);
          }
        }
        // 4. dQ += dS K;  dK += dSᵀ Q
        tileMM(nq, static_cast<int>(D), nk, dS, ATT_BK, 1, kt, ks, gqt, qs, true);
        tileMM(nk, static_cast<int>(D), nq, dS, 1, ATT_BK, qt, qs, dK, D, true);
      }
    }
    for (int c = 0; c < nk; c++) {
      std::copy(dK + c * D, dK + c * D + D, gk + ((b * Tk + j0 + c) * Hkv + g) * D);
      std::copy(dV + c * Dv, dV + c * Dv + Dv, gv + ((b * Tk + j0 + c) * Hkv + g) * Dv);
    }
  }
}

static void attentionBackward(const AttnDims& a, const float* q, const float* k, const float* v, const float* sinks, const float* out,
                              const float* lse, const float* gOut, float* gq, float* gk, float* gv, float* gSinks) {
  std::vector<float> gsPart(gSinks ? size_t(a.B) * a.Hq : 0, 0.0f);
  float* gp = gSinks ? gsPart.data() : nullptr;
  const size_t ntasks = size_t(a.B) * a.Hkv;
  auto task = [&](size_t t, int) { attnBackwardGroup(a, q, k, v, sinks, out, lse, gOut, gq, gk, gv, gp, long(t) / a.Hkv, long(t) % a.Hkv); };
  const double work = double(a.B) * a.Hq * a.Tq * a.Tk * double(a.D + a.Dv);
  if (work < 65536.0) {
    for (size_t t = 0; t < ntasks; t++) task(t, 0);
  } else {
    parallelTasks(ntasks, task);
  }
  if (gSinks)
    for (long h = 0; h < a.Hq; h++) {
      float s = 0;
      for (long b = 0; b < a.B; b++) s += gsPart[b * a.Hq + h];
      gSinks[h] = s;
    }
}
