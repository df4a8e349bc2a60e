// Vectorised float math (included per ISA). Accuracy targets ~1e-7 relative (a few float
// ulp), checked against the double-precision reference in tests:
//  - exp: range reduction by ln2 (Cody–Waite hi/lo split), a degree-6 polynomial on
//    |r| ≤ ln2/2 (error 2e-8), exact scaling by 2^n (handles overflow and denormals);
//  - log: x = m·2^e with m in [√½, √2), log(m) = 2·atanh(s) with s = (m−1)/(m+1) as an odd series;
//  - tanh: odd Taylor series for |x| < 0.25, (1 − e^(−2|x|))/(1 + e^(−2|x|)) otherwise;
//  - erf-based GELU: the Numerical Recipes erfc fit used by the reference (|error| < 1.2e-7),
//    evaluated so that 1 + erf(x) never cancels (x < 0 uses erfc directly).
// NaN inputs give NaN wherever the reference does.
//
// The functions are templates over the vector type V: VF (one vector) or VN<K> (K vectors in
// lock-step). Their long dependency chains leave the out-of-order core idle when one vector is
// processed at a time; the elementwise maps interleave K independent vectors (8 with AVX-512's
// 32 registers, 4 with AVX2's 16), about 25% faster for GELU, tanh and other exp-based ops.
// Everything here is force-inlined: an out-of-line call on VN<K> passes K vectors through
// memory (plus a vzeroupper), which cost GELU about a third of its throughput.

#ifndef CHIMERA_INLINE
/** Forces inlining: out-of-line calls on VN<K> pass K vectors through memory (and vzeroupper). */
#define CHIMERA_INLINE inline __attribute__((always_inline))
#endif

/** K vectors in lock-step: each operation is applied to all K, one after the other. */
template <int K>
struct VN {
  VF v[K];
  VN() = default;
  VN(float c) {
    for (int i = 0; i < K; i++) v[i] = VF(c);
  }
};
template <int K>
struct MN {
  VM m[K];
};

#define CHIMERA_VN_BIN(OP)                                          \
  template <int K>                                                  \
  static CHIMERA_INLINE VN<K> operator OP(const VN<K>& x, const VN<K>& y) { \
    VN<K> r;                                                        \
    for (int i = 0; i < K; i++) r.v[i] = x.v[i] OP y.v[i];          \
    return r;                                                       \
  }
CHIMERA_VN_BIN(+)
CHIMERA_VN_BIN(-)
CHIMERA_VN_BIN(*)
CHIMERA_VN_BIN(/)
#undef CHIMERA_VN_BIN

template <int K>
static CHIMERA_INLINE VN<K> operator-(const VN<K>& x) {
  VN<K> r;
  for (int i = 0; i < K; i++) r.v[i] = -x.v[i];
  return r;
}

#define CHIMERA_VN_FN(NAME, RET, MEMBER, PARAMS, ARGS)     \
  template <int K>                                         \
  static CHIMERA_INLINE RET<K> NAME PARAMS {                       \
    RET<K> r;                                              \
    for (int i = 0; i < K; i++) r.MEMBER[i] = NAME ARGS;   \
    return r;                                              \
  }
CHIMERA_VN_FN(vfma, VN, v, (const VN<K>& a, const VN<K>& b, const VN<K>& c), (a.v[i], b.v[i], c.v[i]))
CHIMERA_VN_FN(vfnma, VN, v, (const VN<K>& a, const VN<K>& b, const VN<K>& c), (a.v[i], b.v[i], c.v[i]))
CHIMERA_VN_FN(vmin, VN, v, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vmax, VN, v, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vldexp, VN, v, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vabs, VN, v, (const VN<K>& a), (a.v[i]))
CHIMERA_VN_FN(vsqrt, VN, v, (const VN<K>& a), (a.v[i]))
CHIMERA_VN_FN(vrcpNR, VN, v, (const VN<K>& a), (a.v[i]))
CHIMERA_VN_FN(vlt, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vle, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vgt, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vge, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(veq, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(vneq, MN, m, (const VN<K>& a, const VN<K>& b), (a.v[i], b.v[i]))
CHIMERA_VN_FN(visnan, MN, m, (const VN<K>& a), (a.v[i]))
CHIMERA_VN_FN(mor, MN, m, (const MN<K>& a, const MN<K>& b), (a.m[i], b.m[i]))
CHIMERA_VN_FN(vone, VN, v, (const MN<K>& a), (a.m[i]))
CHIMERA_VN_FN(vselect, VN, v, (const MN<K>& m, const VN<K>& a, const VN<K>& b), (m.m[i], a.v[i], b.v[i]))
#undef CHIMERA_VN_FN

// ---- exp ----------------------------------------------------------------------------------------

/** e^x for x already known to lie in [−1e8, 89] or be NaN (no clamping). */
template <class V>
static CHIMERA_INLINE V vexpInRange(const V& xc) {
  // n = round(x·log2 e) by the 1.5·2^23 shifter (exact for |n| < 2^22; beyond, the result
  // underflows to 0 anyway), r = x − n·ln2 in two parts (Cody–Waite)
  const V shifter(12582912.0f);
  const V n = vfma(xc, V(1.44269504088896341f), shifter) - shifter;
  V r = vfnma(n, V(0.693359375f), xc);
  r = vfnma(n, V(-2.12194440e-4f), r);
  // e^r on |r| ≤ ln2/2: degree-6 near-minimax polynomial (relative error 2e-8 with these float
  // coefficients, fitted for this file), Horner form (the K-way interleaving supplies the ILP)
  V p(0.0013834366109222174f);
  p = vfma(p, r, V(0.008374803699553013f));
  p = vfma(p, r, V(0.04166826978325844f));
  p = vfma(p, r, V(0.16666419804096222f));
  p = vfma(p, r, V(0.49999991059303284f));
  p = vfma(p, r, V(1.0f));
  p = vfma(p, r, V(1.0f));
  return vldexp(p, n);
}

template <class V>
static CHIMERA_INLINE V vexp(const V& x) {
  // clamp with x as the second operand of max/min, so a NaN x passes through unchanged
  return vexpInRange(vmin(V(89.0f), vmax(V(-110.0f), x)));
}

// ---- log ----------------------------------------------------------------------------------------

static CHIMERA_INLINE VF vlog(VF x) {
  const VM den = vlt(x, vset1(1.17549435e-38f));
  const VF xs = vselect(den, x * vset1(8388608.0f), x);
  const VI bits = vbits(xs);
  VF e = vcvti(vsubi(vsrli(bits, 23), 127));
  e = e - vselect(den, vset1(23.0f), vzero());
  VF m = vfrombits(vori(vandi(bits, 0x007fffff), 0x3f800000));
  const VM big = vgt(m, vset1(1.41421356f));
  m = vselect(big, m * vset1(0.5f), m);
  e = vselect(big, e + vset1(1.0f), e);
  const VF f = m - vset1(1.0f);
  const VF s = f / (f + vset1(2.0f));
  const VF s2 = s * s;
  VF p = vset1(1.0f / 9.0f);
  p = vfma(p, s2, vset1(1.0f / 7.0f));
  p = vfma(p, s2, vset1(1.0f / 5.0f));
  p = vfma(p, s2, vset1(1.0f / 3.0f));
  p = vfma(p, s2, vset1(1.0f));
  const VF l1p = (s + s) * p;
  VF y = vfma(e, vset1(0.693359375f), vfma(e, vset1(-2.12194440e-4f), l1p));
  const float inf = __builtin_inff();
  y = vselect(veq(x, vzero()), vset1(-inf), y);
  y = vselect(veq(x, vset1(inf)), vset1(inf), y);
  y = vselect(mor(vlt(x, vzero()), visnan(x)), vset1(__builtin_nanf("")), y);
  return y;
}

template <int K>
static CHIMERA_INLINE VN<K> vlog(const VN<K>& x) {
  VN<K> r;
  for (int i = 0; i < K; i++) r.v[i] = vlog(x.v[i]);
  return r;
}

/** log(1 + e) for e ≥ 0 (Kahan's correction keeps small e exact). */
template <class V>
static CHIMERA_INLINE V vlog1p_pos(const V& e) {
  const V one(1.0f);
  const V u = e + one;
  const V corr = ((u - one) - e) / u;
  const V l = vlog(u) - corr;
  return vselect(veq(u, one), e, l);
}

// ---- tanh, sigmoid --------------------------------------------------------------------------------

template <class V>
static CHIMERA_INLINE V vtanh(const V& x) {
  const V one(1.0f);
  const V ax = vabs(x);
  const V t = vexp(V(-2.0f) * ax);
  V big = (one - t) / (one + t);
  big = vselect(vlt(x, V(0.0f)), -big, big);
  const V x2 = x * x;
  V p(-1382.0f / 155925.0f);
  p = vfma(p, x2, V(62.0f / 2835.0f));
  p = vfma(p, x2, V(-17.0f / 315.0f));
  p = vfma(p, x2, V(2.0f / 15.0f));
  p = vfma(p, x2, V(-1.0f / 3.0f));
  const V small = vfma(x * x2, p, x);
  return vselect(vlt(ax, V(0.25f)), small, big);
}

template <class V>
static CHIMERA_INLINE V vsigmoid(const V& x) {
  return V(1.0f) / (V(1.0f) + vexp(-x));
}

// ---- GELU -----------------------------------------------------------------------------------------

/**
 * Φ(x) = ½(1 + erf(x/√2)), without cancellation for negative x: with z = |x|/√2,
 * ½erfc(z) = t·exp(−z² + P(t) − ln 2), t = 1/(1 + z/2) (Numerical Recipes erfc fit, fractional
 * error < 1.2e-7; the ½ is folded into the constant term), Φ = 1 − ½erfc(z) for x ≥ 0.
 */
template <class V>
static CHIMERA_INLINE V vPhi(const V& x) {
  // clamp z (erfc underflows long before); min(c, z) keeps a NaN z
  const V z = vmin(V(1e4f), vabs(x) * V(0.70710678118654752f));
  const V t = vrcpNR(vfma(z, V(0.5f), V(1.0f)));
  V p(0.17087277f);
  p = vfma(p, t, V(-0.82215223f));
  p = vfma(p, t, V(1.48851587f));
  p = vfma(p, t, V(-1.13520398f));
  p = vfma(p, t, V(0.27886807f));
  p = vfma(p, t, V(-0.18628806f));
  p = vfma(p, t, V(0.09678418f));
  p = vfma(p, t, V(0.37409196f));
  p = vfma(p, t, V(1.00002368f));
  p = vfma(p, t, V(-1.26551223f - 0.69314718055994531f));
  const V h = t * vexpInRange(vfnma(z, z, p));  // ½erfc(z); exponent ∈ [−1e8, 0]
  return vselect(vge(x, V(0.0f)), V(1.0f) - h, h);
}

template <class V>
static CHIMERA_INLINE V vgelu(const V& x) {
  return x * vPhi(x);
}

template <class V>
static CHIMERA_INLINE V vgeluDeriv(const V& x) {
  const V pdf = vexp(V(-0.5f) * x * x) * V(0.39894228040143268f);
  return vfma(x, pdf, vPhi(x));
}

/** σ(2u) with u = √(2/π)(x + 0.044715x³): gelu_tanh(x) = x·σ(2u). */
template <class V>
static CHIMERA_INLINE V vgeluTanhGate(const V& x) {
  const V u2 = V(2.0f * 0.79788456080286536f) * vfma(V(0.044715f) * x, x * x, x);
  return vsigmoid(u2);
}
