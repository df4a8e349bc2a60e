// Vectorised float math on the VF interface (included per ISA). Accuracy targets ~1e-7
// relative (a few float ulp), checked against the double-precision reference in tests:
//  - exp: range reduction by ln2 (Cody–Waite hi/lo split), a degree-6 polynomial on
//    |r| ≤ ln2/2 (error 2e-8), exact scaling by 2^n (handles overflow and denormals);
//  - log: x = m·2^e with m in [√½, √2), log(m) = 2·atanh(s) with s = (m−1)/(m+1) as an odd series;
//  - tanh: odd Taylor series for |x| < 0.25, (1 − e^(−2|x|))/(1 + e^(−2|x|)) otherwise;
//  - erf-based GELU: the Numerical Recipes erfc fit used by the reference (|error| < 1.2e-7),
//    evaluated so that 1 + erf(x) never cancels (x < 0 uses erfc directly).
// NaN inputs give NaN wherever the reference does.

/** e^x for x already known to lie in [-1e8, 89] or be NaN (no clamping). */
static inline VF vexpInRange(VF xc) {
  // n = round(x·log2 e) by the 1.5·2^23 shifter (exact for |n| < 2^22; beyond, the result
  // underflows to 0 anyway), r = x − n·ln2 in two parts (Cody–Waite)
  const VF shifter = vset1(12582912.0f);
  const VF n = vfma(xc, vset1(1.44269504088896341f), shifter) - shifter;
  VF r = vfnma(n, vset1(0.693359375f), xc);
  r = vfnma(n, vset1(-2.12194440e-4f), r);
  // e^r on |r| ≤ ln2/2: degree-6 near-minimax polynomial (relative error 2e-8 with these float
  // coefficients, fitted for this file), evaluated by Estrin's scheme (short dependency chains)
  const VF r2 = r * r, r4 = r2 * r2;
  const VF p01 = vfma(r, vset1(1.0f), vset1(1.0f));
  const VF p23 = vfma(r, vset1(0.16666419804096222f), vset1(0.49999991059303284f));
  const VF p45 = vfma(r, vset1(0.008374803699553013f), vset1(0.04166826978325844f));
  const VF p = vfma(vfma(vset1(0.0013834366109222174f), r2, p45), r4, vfma(p23, r2, p01));
  return vldexp(p, n);
}

static inline VF vexp(VF x) {
  // clamp with x as the second operand of max/min, so a NaN x passes through unchanged
  return vexpInRange(vmin(vset1(89.0f), vmax(vset1(-110.0f), x)));
}

static inline VF vlog(VF x) {
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

/** log(1 + e) for e ≥ 0 (Kahan's correction keeps small e exact). */
static inline VF vlog1p_pos(VF e) {
  const VF u = e + vset1(1.0f);
  const VF corr = ((u - vset1(1.0f)) - e) / u;
  const VF l = vlog(u) - corr;
  return vselect(veq(u, vset1(1.0f)), e, l);
}

static inline VF vtanh(VF x) {
  const VF ax = vabs(x);
  const VF t = vexp(vset1(-2.0f) * ax);
  VF big = (vset1(1.0f) - t) / (vset1(1.0f) + t);
  big = vselect(vlt(x, vzero()), -big, big);
  const VF x2 = x * x;
  VF p = vset1(-1382.0f / 155925.0f);
  p = vfma(p, x2, vset1(62.0f / 2835.0f));
  p = vfma(p, x2, vset1(-17.0f / 315.0f));
  p = vfma(p, x2, vset1(2.0f / 15.0f));
  p = vfma(p, x2, vset1(-1.0f / 3.0f));
  const VF small = vfma(x * x2, p, x);
  return vselect(vlt(ax, vset1(0.25f)), small, big);
}

static inline VF vsigmoid(VF x) { return vset1(1.0f) / (vset1(1.0f) + vexp(-x)); }

/**
 * Φ(x) = ½(1 + erf(x/√2)), without cancellation for negative x: with z = |x|/√2,
 * ½erfc(z) = t·exp(−z² + P(t) − ln 2), t = 1/(1 + z/2) (Numerical Recipes erfc fit, fractional
 * error < 1.2e-7; the ½ is folded into the constant term), Φ = 1 − ½erfc(z) for x ≥ 0.
 */
static inline VF vPhi(VF x) {
  // clamp z (erfc underflows long before); min(c, z) keeps a NaN z
  const VF z = vmin(vset1(1e4f), vabs(x) * vset1(0.70710678118654752f));
  const VF t = vrcpNR(vfma(z, vset1(0.5f), vset1(1.0f)));
  const VF t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  const VF q01 = vfma(t, vset1(1.00002368f), vset1(-1.26551223f - 0.69314718055994531f));
  const VF q23 = vfma(t, vset1(0.09678418f), vset1(0.37409196f));
  const VF q45 = vfma(t, vset1(0.27886807f), vset1(-0.18628806f));
  const VF q67 = vfma(t, vset1(1.48851587f), vset1(-1.13520398f));
  const VF q89 = vfma(t, vset1(0.17087277f), vset1(-0.82215223f));
  const VF p = vfma(q89, t8, vfma(vfma(q67, t2, q45), t4, vfma(q23, t2, q01)));
  const VF h = t * vexpInRange(vfnma(z, z, p));  // ½erfc(z); exponent ∈ [−1e8, 0]
  return vselect(vge(x, vzero()), vset1(1.0f) - h, h);
}

static inline VF vgelu(VF x) { return x * vPhi(x); }
static inline VF vgeluDeriv(VF x) {
  const VF pdf = vexp(vset1(-0.5f) * x * x) * vset1(0.39894228040143268f);
  return vfma(x, pdf, vPhi(x));
}
/** σ(2u) with u = √(2/π)(x + 0.044715x³): gelu_tanh(x) = x·σ(2u). */
static inline VF vgeluTanhGate(VF x) {
  const VF u2 = vset1(2.0f * 0.79788456080286536f) * vfma(vset1(0.044715f) * x, x * x, x);
  return vsigmoid(u2);
}
