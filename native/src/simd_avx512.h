// 16-lane float vector wrapper over AVX-512F/DQ. Included inside an ISA namespace by
// isa_avx512.cc under `#pragma GCC target`; the generic kernels (vmath.h, kernels_impl.h) are
// written against this interface and the 8-lane AVX2 twin in simd_avx2.h.
constexpr int W = 16;
/** One vector of W floats. Converts from a raw register and from a float (broadcast). */
struct VF {
  __m512 v;
  VF() = default;
  VF(__m512 x) : v(x) {}
  VF(float c) : v(_mm512_set1_ps(c)) {}
};
struct VI { __m512i v; };
using VM = __mmask16;

static inline VF vset1(float x) { return {_mm512_set1_ps(x)}; }
static inline VF vzero() { return {_mm512_setzero_ps()}; }
static inline VF vload(const float* p) { return {_mm512_loadu_ps(p)}; }
static inline void vstore(float* p, VF a) { _mm512_storeu_ps(p, a.v); }
static inline VM tailMask(size_t n) { return static_cast<VM>((1u << n) - 1u); }
/** Loads n < W elements (others 0). */
static inline VF vloadn(const float* p, size_t n) { return {_mm512_maskz_loadu_ps(tailMask(n), p)}; }
/** Loads n < W elements (others `fill`). */
static inline VF vloadnf(const float* p, size_t n, float fill) { return {_mm512_mask_loadu_ps(_mm512_set1_ps(fill), tailMask(n), p)}; }
static inline void vstoren(float* p, VF a, size_t n) { _mm512_mask_storeu_ps(p, tailMask(n), a.v); }
/** Non-temporal store (past the caches) to a 64-byte-aligned p. */
static inline void vstream(float* p, VF a) { _mm512_stream_ps(p, a.v); }
static inline VF vbroadcast(const float* p) { return {_mm512_set1_ps(*p)}; }

static inline VF operator+(VF a, VF b) { return {_mm512_add_ps(a.v, b.v)}; }
static inline VF operator-(VF a, VF b) { return {_mm512_sub_ps(a.v, b.v)}; }
static inline VF operator*(VF a, VF b) { return {_mm512_mul_ps(a.v, b.v)}; }
static inline VF operator/(VF a, VF b) { return {_mm512_div_ps(a.v, b.v)}; }
static inline VF operator-(VF a) { return {_mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f))}; }
/** a·b + c */
static inline VF vfma(VF a, VF b, VF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
/** c − a·b */
static inline VF vfnma(VF a, VF b, VF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
/** Hardware max/min: return b when either is NaN. */
static inline VF vmax(VF a, VF b) { return {_mm512_max_ps(a.v, b.v)}; }
static inline VF vmin(VF a, VF b) { return {_mm512_min_ps(a.v, b.v)}; }
static inline VF vabs(VF a) { return {_mm512_abs_ps(a.v)}; }
static inline VF vsqrt(VF a) { return {_mm512_sqrt_ps(a.v)}; }
static inline VF vround(VF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
/** 1/a to ~1e-7 (rcp14 + one Newton step). */
static inline VF vrcpNR(VF a) {
  __m512 r = _mm512_rcp14_ps(a.v);
  return {_mm512_mul_ps(r, _mm512_fnmadd_ps(a.v, r, _mm512_set1_ps(2.0f)))};
}

static inline VM vlt(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
static inline VM vle(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ); }
static inline VM vgt(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ); }
static inline VM vge(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ); }
static inline VM veq(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ); }
static inline VM vneq(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ); }
static inline VM visnan(VF a) { return _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q); }
static inline VM mor(VM a, VM b) { return static_cast<VM>(a | b); }
static inline VM mand(VM a, VM b) { return static_cast<VM>(a & b); }
static inline bool many(VM m) { return m != 0; }
/** m ? a : b */
static inline VF vselect(VM m, VF a, VF b) { return {_mm512_mask_blend_ps(m, b.v, a.v)}; }
static inline VF vone(VM m) { return {_mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0f))}; }

static inline float hsum(VF a) { return _mm512_reduce_add_ps(a.v); }
static inline float hmax(VF a) { return _mm512_reduce_max_ps(a.v); }
static inline float hmin(VF a) { return _mm512_reduce_min_ps(a.v); }

/** p·2^n for integral-valued n (handles overflow to inf and underflow to 0/denormal). */
static inline VF vldexp(VF p, VF n) { return {_mm512_scalef_ps(p.v, n.v)}; }
/** Raw bits. */
static inline VI vbits(VF a) { return {_mm512_castps_si512(a.v)}; }
static inline VF vfrombits(VI a) { return {_mm512_castsi512_ps(a.v)}; }
static inline VI vandi(VI a, int m) { return {_mm512_and_si512(a.v, _mm512_set1_epi32(m))}; }
static inline VI vori(VI a, int m) { return {_mm512_or_si512(a.v, _mm512_set1_epi32(m))}; }
static inline VI vsrli(VI a, int s) { return {_mm512_srli_epi32(a.v, s)}; }
static inline VI vsubi(VI a, int s) { return {_mm512_sub_epi32(a.v, _mm512_set1_epi32(s))}; }
static inline VF vcvti(VI a) { return {_mm512_cvtepi32_ps(a.v)}; }

/** Adds the 16 floats of a, widened to double, into two 8-lane double accumulators. */
struct VD { __m512d lo, hi; };
static inline VD vdzero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
static inline VD vdadd(VD acc, VF a) {
  return {_mm512_add_pd(acc.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(a.v))),
          _mm512_add_pd(acc.hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1))))};
}
/** acc += a² with a widened to double first (exact squares). */
static inline VD vdaddsq(VD acc, VF a) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a.v));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)));
  return {_mm512_fmadd_pd(lo, lo, acc.lo), _mm512_fmadd_pd(hi, hi, acc.hi)};
}
static inline double vdsum(VD a) { return _mm512_reduce_add_pd(_mm512_add_pd(a.lo, a.hi)); }

// ---- 32-bit unsigned lanes (Philox) ----
struct VU { __m512i v; };
static inline VU vuset1(uint32_t x) { return {_mm512_set1_epi32(static_cast<int>(x))}; }
static inline VU vuiota() { return {_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)}; }
static inline VU operator+(VU a, VU b) { return {_mm512_add_epi32(a.v, b.v)}; }
static inline VU operator^(VU a, VU b) { return {_mm512_xor_si512(a.v, b.v)}; }
/** hi/lo 32 bits of the 64-bit products a·m per lane. */
static inline void vumulhilo(VU a, VU m, VU& hi, VU& lo) {
  __m512i pe = _mm512_mul_epu32(a.v, m.v);
  __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a.v, 32), m.v);
  hi = {_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po)};
  lo = {_mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32))};
}
static inline void vustore(uint32_t* p, VU a) { _mm512_storeu_si512(p, a.v); }

// ---- W×W transpose (GEMM packing of a transposed operand) ----
/** In place: afterwards r[i][j] = old r[j][i]. */
static inline void vtranspose(VF r[W]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i].v, r[i + 1].v);
    t[i + 1] = _mm512_unpackhi_ps(r[i].v, r[i + 1].v);
  }
  __m512 u[16];
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // u[4g + c]: 128-bit lane L holds row-group g's column 4L + c; gather lanes across groups
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; i++) {
    r[i].v = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8].v = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4].v = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12].v = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}
