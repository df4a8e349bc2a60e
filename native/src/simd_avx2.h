// 8-lane float vector wrapper over AVX2+FMA; same interface as simd_avx512.h.
constexpr int W = 8;
/** One vector of W floats. Converts from a raw register and from a float (broadcast). */
struct VF {
  __m256 v;
  VF() = default;
  VF(__m256 x) : v(x) {}
  VF(float c) : v(_mm256_set1_ps(c)) {}
};
struct VI { __m256i v; };
struct VM { __m256 v; };

static inline VF vset1(float x) { return {_mm256_set1_ps(x)}; }
static inline VF vzero() { return {_mm256_setzero_ps()}; }
static inline VF vload(const float* p) { return {_mm256_loadu_ps(p)}; }
static inline void vstore(float* p, VF a) { _mm256_storeu_ps(p, a.v); }
static inline __m256i tailMaskI(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline VF vloadn(const float* p, size_t n) { return {_mm256_maskload_ps(p, tailMaskI(n))}; }
static inline VF vloadnf(const float* p, size_t n, float fill) {
  __m256i m = tailMaskI(n);
  return {_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m))};
}
static inline void vstoren(float* p, VF a, size_t n) { _mm256_maskstore_ps(p, tailMaskI(n), a.v); }
/** Non-temporal store (past the caches) to a 32-byte-aligned p. */
static inline void vstream(float* p, VF a) { _mm256_stream_ps(p, a.v); }
static inline VF vbroadcast(const float* p) { return {_mm256_broadcast_ss(p)}; }

static inline VF operator+(VF a, VF b) { return {_mm256_add_ps(a.v, b.v)}; }
static inline VF operator-(VF a, VF b) { return {_mm256_sub_ps(a.v, b.v)}; }
static inline VF operator*(VF a, VF b) { return {_mm256_mul_ps(a.v, b.v)}; }
static inline VF operator/(VF a, VF b) { return {_mm256_div_ps(a.v, b.v)}; }
static inline VF operator-(VF a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
static inline VF vfma(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
static inline VF vfnma(VF a, VF b, VF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
static inline VF vmax(VF a, VF b) { return {_mm256_max_ps(a.v, b.v)}; }
static inline VF vmin(VF a, VF b) { return {_mm256_min_ps(a.v, b.v)}; }
static inline VF vabs(VF a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
static inline VF vsqrt(VF a) { return {_mm256_sqrt_ps(a.v)}; }
static inline VF vround(VF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
static inline VF vrcpNR(VF a) {
  __m256 r = _mm256_rcp_ps(a.v);
  r = _mm256_mul_ps(r, _mm256_fnmadd_ps(a.v, r, _mm256_set1_ps(2.0f)));
  return {_mm256_mul_ps(r, _mm256_fnmadd_ps(a.v, r, _mm256_set1_ps(2.0f)))};
}

static inline VM vlt(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
static inline VM vle(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
static inline VM vgt(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
static inline VM vge(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
static inline VM veq(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
static inline VM vneq(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
static inline VM visnan(VF a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
static inline VM mor(VM a, VM b) { return {_mm256_or_ps(a.v, b.v)}; }
static inline VM mand(VM a, VM b) { return {_mm256_and_ps(a.v, b.v)}; }
static inline bool many(VM m) { return _mm256_movemask_ps(m.v) != 0; }
static inline VF vselect(VM m, VF a, VF b) { return {_mm256_blendv_ps(b.v, a.v, m.v)}; }
static inline VF vone(VM m) { return {_mm256_and_ps(m.v, _mm256_set1_ps(1.0f))}; }

static inline float hsum(VF a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float hmax(VF a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float hmin(VF a) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/** p·2^n for integral-valued n in [-252, 254] (two-step scaling keeps the result exact). */
static inline VF vldexp(VF p, VF n) {
  __m256 nc = _mm256_min_ps(_mm256_max_ps(n.v, _mm256_set1_ps(-252.0f)), _mm256_set1_ps(254.0f));
  __m256i ni = _mm256_cvtps_epi32(nc);
  __m256i h = _mm256_srai_epi32(ni, 1);
  __m256i l = _mm256_sub_epi32(ni, h);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(l, _mm256_set1_epi32(127)), 23));
  return {_mm256_mul_ps(_mm256_mul_ps(p.v, s1), s2)};
}
static inline VI vbits(VF a) { return {_mm256_castps_si256(a.v)}; }
static inline VF vfrombits(VI a) { return {_mm256_castsi256_ps(a.v)}; }
static inline VI vandi(VI a, int m) { return {_mm256_and_si256(a.v, _mm256_set1_epi32(m))}; }
static inline VI vori(VI a, int m) { return {_mm256_or_si256(a.v, _mm256_set1_epi32(m))}; }
static inline VI vsrli(VI a, int s) { return {_mm256_srli_epi32(a.v, s)}; }
static inline VI vsubi(VI a, int s) { return {_mm256_sub_epi32(a.v, _mm256_set1_epi32(s))}; }
static inline VF vcvti(VI a) { return {_mm256_cvtepi32_ps(a.v)}; }

struct VD { __m256d lo, hi; };
static inline VD vdzero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
static inline VD vdadd(VD acc, VF a) {
  return {_mm256_add_pd(acc.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(a.v))),
          _mm256_add_pd(acc.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1)))};
}
static inline VD vdaddsq(VD acc, VF a) {
  __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(a.v));
  __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1));
  return {_mm256_fmadd_pd(lo, lo, acc.lo), _mm256_fmadd_pd(hi, hi, acc.hi)};
}
static inline double vdsum(VD a) {
  __m256d s = _mm256_add_pd(a.lo, a.hi);
  __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  t = _mm_add_sd(t, _mm_unpackhi_pd(t, t));
  return _mm_cvtsd_f64(t);
}

// ---- 32-bit unsigned lanes (Philox) ----
struct VU { __m256i v; };
static inline VU vuset1(uint32_t x) { return {_mm256_set1_epi32(static_cast<int>(x))}; }
static inline VU vuiota() { return {_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)}; }
static inline VU operator+(VU a, VU b) { return {_mm256_add_epi32(a.v, b.v)}; }
static inline VU operator^(VU a, VU b) { return {_mm256_xor_si256(a.v, b.v)}; }
static inline void vumulhilo(VU a, VU m, VU& hi, VU& lo) {
  __m256i pe = _mm256_mul_epu32(a.v, m.v);
  __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a.v, 32), m.v);
  hi = {_mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA)};
  lo = {_mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA)};
}
static inline void vustore(uint32_t* p, VU a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.v); }

// ---- W×W transpose (GEMM packing of a transposed operand) ----
/** In place: afterwards r[i][j] = old r[j][i]. */
static inline void vtranspose(VF r[W]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i].v, r[i + 1].v);
    t[i + 1] = _mm256_unpackhi_ps(r[i].v, r[i + 1].v);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 4; i++) {
    r[i].v = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4].v = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}
