/**
 * Reference causal depthwise conv1d (the short convolution of Mamba / Gated DeltaNet / KDA
 * layers; components.md §11.1).
 *
 * x [B, T, C], w [C, K], bias [C] | null, state [B, K−1, C] | null (the K−1 inputs before t = 0;
 * null means zeros). With x̃ = concat(state, x) along time (x̃[s] for s = 0..T+K−2, x at s ≥ K−1):
 *   out[b, t, c] = bias[c] + Σ_j w[c, j]·x̃[b, t + j, c]          (j = 0..K−1; w[c, K−1] hits x[t])
 * Backward: gx̃[t + j] += w[c, j]·gy[t];  gw[c, j] += Σ_{b,t} gy[b,t,c]·x̃[b, t + j, c];  gb[c] += Σ gy.
 */
import type { Arr } from "../../tensor/dtype.js";

/** x̃[b, s, c] for s in padded time (s < K−1 reads state, or 0 without one). */
function xt(x: Arr, state: Arr | null, b: number, s: number, c: number, T: number, C: number, K: number): number {
  const p = s - (K - 1);
  if (p >= 0) return x[(b * T + p) * C + c]!;
  return state ? state[(b * (K - 1) + s) * C + c]! : 0;
}

export function causalConv1d(x: Arr, w: Arr, bias: Arr | null, state: Arr | null, out: Arr, B: number, T: number, C: number, K: number): void {
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        let acc = bias ? bias[c]! : 0;
        const wo = c * K;
        if (t >= K - 1) {
          // fast path: the whole window lies in x
          let p = (b * T + t - K + 1) * C + c;
          for (let j = 0; j < K; j++, p += C) acc += w[wo + j]! * x[p]!;
        } else for (let j = 0; j < K; j++) acc += w[wo + j]! * xt(x, state, b, t + j, c, T, C, K);
        out[o + c] = acc;
      }
    }
}

export function causalConv1dBackward(x: Arr, w: Arr, state: Arr | null, gy: Arr, gx: Arr, gw: Arr, gb: Arr | null, gState: Arr | null, B: number, T: number, C: number, K: number): void {
  gx.fill(0, 0, B * T * C);
  if (gState) gState.fill(0, 0, B * (K - 1) * C);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        const g = gy[o + c]!;
        if (gb) gb[c] = gb[c]! + g;
        const wo = c * K;
        for (let j = 0; j < K; j++) {
          const s = t + j; // padded time
          const p = s - (K - 1);
          gw[wo + j] = gw[wo + j]! + g * xt(x, state, b, s, c, T, C, K);
          if (p >= 0) gx[(b * T + p) * C + c] = gx[(b * T + p) * C + c]! + g * w[wo + j]!;
          else if (gState) gState[(b * (K - 1) + s) * C + c] = gState[(b * (K - 1) + s) * C + c]! + g * w[wo + j]!;
        }
      }
    }
}
