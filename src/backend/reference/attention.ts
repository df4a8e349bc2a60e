/**
 * Reference fused attention, FlashAttention-2 style (Dao 2023, arXiv 2307.08691): the forward
 * tiles queries (BQ rows) × keys (BK columns) with an online softmax and never allocates Tq×Tk;
 * the backward recomputes each tile's probabilities from the saved log-sum-exp. This is the
 * algorithm the native kernel ports; it is written for clarity, not speed.
 *
 * Shapes: q [B, Tq, Hq, D], k [B, Tk, Hkv, D], v [B, Tk, Hkv, Dv], out [B, Tq, Hq, Dv],
 * lse [B, Hq, Tq], sinks [Hq]. Query head h reads kv head ⌊h / (Hq/Hkv)⌋ (GQA; components.md §5).
 *
 * Visibility (query i at absolute position p = qStart + i, key j at position j): key j is visible
 * iff (!causal or j ≤ p) and (window ≤ 0 or p − j < window). For each query this is one
 * contiguous key range [lo(p), hi(p)), both ends non-decreasing in p, so a tile of queries
 * touches keys [lo(first), hi(last)).
 *
 * Sinks (gpt-oss, components.md §7): logit s_h joins the denominator only,
 *   p_ij = exp(l_ij − lse_i),  lse_i = log(exp(s_h) + Σ_j exp(l_ij)),  o_i = Σ_j p_ij v_j.
 * The online softmax starts from (m = s_h, l = 1) instead of (−∞, 0). Rows with no visible key
 * give o = 0 and lse = s_h (or −∞ without sinks).
 *
 * Backward (with l_ij = scale·q_i·k_j, Δ_i = Σ_d dO_id·O_id):
 *   dv_j += Σ_i p_ij dO_i;  dp_ij = dO_i·v_j;  ds_ij = p_ij (dp_ij − Δ_i);
 *   dq_i += scale Σ_j ds_ij k_j;  dk_j += scale Σ_i ds_ij q_i;
 *   ds_h = −Σ_i p_sink,i Δ_i  with p_sink,i = exp(s_h − lse_i)   (since ∂o_i/∂s_h = −p_sink,i o_i).
 */
import type { Arr } from "../../tensor/dtype.js";

/** Query rows per tile. */
export const ATTN_BQ = 16;
/** Key columns per tile. */
export const ATTN_BK = 32;

/** First visible key for absolute query position p. */
function keyLo(p: number, window: number): number {
  return window > 0 ? Math.max(0, p - window + 1) : 0;
}
/** One past the last visible key for absolute query position p. */
function keyHi(p: number, Tk: number, causal: boolean): number {
  return causal ? Math.max(0, Math.min(Tk, p + 1)) : Tk;
}

export function attention(
  q: Arr, k: Arr, v: Arr, sinks: Arr | null, out: Arr, lse: Arr,
  B: number, Tq: number, Tk: number, Hq: number, Hkv: number, D: number, Dv: number,
  scale: number, causal: boolean, window: number, qStart: number,
): void {
  const group = Hq / Hkv;
  const S = new Float64Array(ATTN_BQ * ATTN_BK); // scores of one tile
  const acc = new Float64Array(ATTN_BQ * Dv); // unnormalised outputs of the query tile
  const m = new Float64Array(ATTN_BQ); // running max
  const l = new Float64Array(ATTN_BQ); // running denominator (relative to m)
  const qs = Hq * D; // stride between tokens in q
  const ks = Hkv * D;
  const vs = Hkv * Dv;
  const os = Hq * Dv;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / group);
      const sink = sinks ? sinks[h]! : -Infinity;
      for (let i0 = 0; i0 < Tq; i0 += ATTN_BQ) {
        const nq = Math.min(ATTN_BQ, Tq - i0);
        m.fill(sink);
        l.fill(sinks ? 1 : 0);
        acc.fill(0);
        const kLo = keyLo(qStart + i0, window);
        const kHi = keyHi(qStart + i0 + nq - 1, Tk, causal);
        // key tiles aligned to multiples of BK (as a blocked native kernel would walk them)
        for (let j0 = Math.floor(kLo / ATTN_BK) * ATTN_BK; j0 < kHi; j0 += ATTN_BK) {
          const nk = Math.min(ATTN_BK, Tk - j0);
          for (let r = 0; r < nq; r++) {
            const i = i0 + r;
            const p = qStart + i;
            const lo = keyLo(p, window);
            const hi = keyHi(p, Tk, causal);
            const qo = (b * Tq + i) * qs + h * D;
            // 1. scores S = scale·q kᵀ for this row (−∞ where masked) and the tile's row max
            let mt = m[r]!;
            for (let c = 0; c < nk; c++) {
              const j = j0 + c;
              let s = -Infinity;
              if (j >= lo && j < hi) {
                const ko = (b * Tk + j) * ks + g * D;
                let dot = 0;
                for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
                s = dot * scale;
                if (s > mt) mt = s;
              }
              S[r * ATTN_BK + c] = s;
            }
            if (mt === -Infinity) continue; // nothing visible yet in this row
            // 2. rescale the running sums to the new max, then add this tile
            const alpha = Math.exp(m[r]! - mt);
            let lr = l[r]! * alpha;
            const ao = r * Dv;
            for (let d = 0; d < Dv; d++) acc[ao + d] = acc[ao + d]! * alpha;
            for (let c = 0; c < nk; c++) {
              const s = S[r * ATTN_BK + c]!;
              if (s === -Infinity) continue;
              const e = Math.exp(s - mt);
              lr += e;
              const vo = (b * Tk + j0 + c) * vs + g * Dv;
              for (let d = 0; d < Dv; d++) acc[ao + d] = acc[ao + d]! + e * v[vo + d]!;
            }
            l[r] = lr;
            m[r] = mt;
          }
        }
        // 3. normalise and write out / lse
        for (let r = 0; r < nq; r++) {
          const i = i0 + r;
          const oo = (b * Tq + i) * os + h * Dv;
          const lr = l[r]!;
          const inv = lr > 0 ? 1 / lr : 0;
          for (let d = 0; d < Dv; d++) out[oo + d] = acc[r * Dv + d]! * inv;
          lse[(b * Hq + h) * Tq + i] = lr > 0 ? m[r]! + Math.log(lr) : -Infinity;
        }
      }
    }
}

export function attentionBackward(
  q: Arr, k: Arr, v: Arr, sinks: Arr | null, out: Arr, lse: Arr, gOut: Arr,
  gq: Arr, gk: Arr, gv: Arr, gSinks: Arr | null,
  B: number, Tq: number, Tk: number, Hq: number, Hkv: number, D: number, Dv: number,
  scale: number, causal: boolean, window: number, qStart: number,
): void {
  const group = Hq / Hkv;
  const qs = Hq * D;
  const ks = Hkv * D;
  const vs = Hkv * Dv;
  const os = Hq * Dv;
  gq.fill(0, 0, B * Tq * qs);
  gk.fill(0, 0, B * Tk * ks);
  gv.fill(0, 0, B * Tk * vs);
  if (gSinks) gSinks.fill(0, 0, Hq);
  const P = new Float64Array(ATTN_BQ * ATTN_BK); // probabilities of one tile
  const delta = new Float64Array(Tq); // Δ_i = rowsum(dO ∘ O) for one (b, h)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / group);
      const lseo = (b * Hq + h) * Tq;
      let gs = 0;
      for (let i = 0; i < Tq; i++) {
        const oo = (b * Tq + i) * os + h * Dv;
        let s = 0;
        for (let d = 0; d < Dv; d++) s += gOut[oo + d]! * out[oo + d]!;
        delta[i] = s;
        const L = lse[lseo + i]!;
        if (sinks && L !== -Infinity) gs -= Math.exp(sinks[h]! - L) * s;
      }
      if (gSinks) gSinks[h] = gSinks[h]! + gs;
      // key tiles outer (dk, dv of a tile accumulate over all query tiles), query tiles inner
      for (let j0 = 0; j0 < Tk; j0 += ATTN_BK) {
        const nk = Math.min(ATTN_BK, Tk - j0);
        for (let i0 = 0; i0 < Tq; i0 += ATTN_BQ) {
          const nq = Math.min(ATTN_BQ, Tq - i0);
          if (keyLo(qStart + i0, window) >= j0 + nk || keyHi(qStart + i0 + nq - 1, Tk, causal) <= j0) continue;
          // 1. recompute P for the tile from the saved lse
          for (let r = 0; r < nq; r++) {
            const i = i0 + r;
            const p = qStart + i;
            const lo = keyLo(p, window);
            const hi = keyHi(p, Tk, causal);
            const L = lse[lseo + i]!;
            const qo = (b * Tq + i) * qs + h * D;
            for (let c = 0; c < nk; c++) {
              const j = j0 + c;
              let pr = 0;
              if (j >= lo && j < hi && L !== -Infinity) {
                const ko = (b * Tk + j) * ks + g * D;
                let dot = 0;
                for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
                pr = Math.exp(dot * scale - L);
              }
              P[r * ATTN_BK + c] = pr;
            }
          }
          // 2. dv_j += Σ_i p_ij dO_i ; ds = p (dp − Δ) ; dq += scale·ds k ; dk += scale·ds q
          for (let r = 0; r < nq; r++) {
            const i = i0 + r;
            const qo = (b * Tq + i) * qs + h * D;
            const oo = (b * Tq + i) * os + h * Dv;
            const di = delta[i]!;
            for (let c = 0; c < nk; c++) {
              const pr = P[r * ATTN_BK + c]!;
              if (pr === 0) continue;
              const j = j0 + c;
              const ko = (b * Tk + j) * ks + g * D;
              const vo = (b * Tk + j) * vs + g * Dv;
              let dp = 0;
              for (let d = 0; d < Dv; d++) {
                const go = gOut[oo + d]!;
                dp += go * v[vo + d]!;
                gv[vo + d] = gv[vo + d]! + pr * go;
              }
              const ds = pr * (dp - di) * scale;
              for (let d = 0; d < D; d++) {
                gq[qo + d] = gq[qo + d]! + ds * k[ko + d]!;
                gk[ko + d] = gk[ko + d]! + ds * q[qo + d]!;
              }
            }
          }
        }
      }
    }
}
