// Vectorised float math on the VF interface (included per ISA). Accuracy targets ~1e-7
// relative (a few float ulp), checked against the double-precision reference in tests:
//  - exp: range reduction by ln2 (Cody–Waite hi/lo split), Taylor polynomial of degree 7 on
//    |r| ≤ ln2/2 (truncation < 6e-9), exact scaling by 2^n (handles overflow and denormals);
//  - log: x = m·2^e with m in [√½, √2), log(m) = 2·atanh(s) with s = (m−1)/(m+1) as an odd series;
//  - tanh: odd Taylor series for |x| < 0.25, (1 − e^(−2|x|))/(1 + e^(−2|x|)) otherwise;
//  - erf-based GELU: the Numerical Recipes erfc fit used by the reference (|error| < 1.2e-7),
//    evaluated so that 1 + erf(x) never cancels (x < 0 uses erfc directly).
// NaN inputs give NaN wherever the reference does.

static inline VF vexp(VF x) {
  const VF xc = vmin(vmax(x, vset1(-110.0f)), vset1(89.0f));
  const VF n = vround(xc * vset1(1.44269504088896341f));
  VF r = vfnma(n, vset1(0.693359375f), xc);
  r = vfnma(n, vset1(-2.12194440e-4f), r);
  VF p = vset1(1.0f / 5040.0f);
  p = vfma(p, r, vset1(1.0f / 720.0f));
  p = vfma(p, r, vset1(1.0f / 120.0f));
  p = vfma(p, r, vset1(1.0f / 24.0f));
  p = vfma(p, r, vset1(1.0f / 6.0f));
  p = vfma(p, r, vset1(0.5f));
  p = vfma(p, r, vset1(1.0f));
  p = vfma(p, r, vset1(1.0f));
  return vselect(visnan(x), x, vldexp(p, n));
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

/** 1 + erf(x/√2), without cancellation for negative x. */
static inline VF vonePlusErfHalf(VF x) {
  // clamp |z| (erfc underflows long before); min(c, z) keeps a NaN z
  const VF z = vmin(vset1(1e4f), vabs(x) * vset1(0.70710678118654752f));
  const VF t = vrcpNR(vfma(z, vset1(0.5f), vset1(1.0f)));
  VF p = vset1(0.17087277f);
  p = vfma(p, t, vset1(-0.82215223f));
  p = vfma(p, t, vset1(1.48851587f));
  p = vfma(p, t, vset1(-1.13520398f));
  p = vfma(p, t, vset1(0.27886807f));
  p = vfma(p, t, vset1(-0.18628806f));
  p = vfma(p, t, vset1(0.09678418f));
  p = vfma(p, t, vset1(0.37409196f));
  p = vfma(p, t, vset1(1.00002368f));
  p = vfma(p, t, vset1(-1.26551223f));
  const VF r = t * vexp(vfnma(z, z, p));  // erfc(z)
  return vselect(vge(x, vzero()), vset1(2.0f) - r, r);
}

static inline VF vgelu(VF x) { return vset1(0.5f) * x * vonePlusErfHalf(x); }
static inline VF vgeluDeriv(VF x) {
  const VF pdf = vexp(vset1(-0.5f) * x * x) * vset1(0.39894228040143268f);
  return vfma(x, pdf, vset1(0.5f) * vonePlusErfHalf(x));
}
/** σ(2u) with u = √(2/π)(x + 0.044715x³): gelu_tanh(x) = x·σ(2u). */
static inline VF vgeluTanhGate(VF x) {
  const VF u2 = vset1(2.0f * 0.79788456080286536f) * vfma(vset1(0.044715f) * x, x * x, x);
  return vsigmoid(u2);
}
