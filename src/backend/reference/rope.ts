/**
 * Reference rotary position embedding (RoFormer, Su et al. 2021; components.md §4.1).
 *
 * x [N, H, D] → out [N, H, D]. Token n at position p = positions[n] rotates pair i (i < R/2,
 * R = rotaryDim) by the angle whose cos/sin are the table entries [p, i] (tables [P, R/2]):
 *   rotate-half pairs (i, i + R/2)   (HF / Llama / Qwen / Gemma / gpt-oss)
 *   interleaved pairs (2i, 2i + 1)   (GPT-J, Meta Llama and DeepSeek reference code)
 *   y_a = x_a·cos − x_b·sin,  y_b = x_b·cos + x_a·sin.
 * Channels R..D−1 are copied. `inverse` applies the transpose (sin → −sin): the exact backward
 * even when the tables carry an attention factor (YaRN), since then it is the transpose of a
 * scaled rotation rather than its inverse.
 */
import type { Arr } from "../../tensor/dtype.js";

export function rope(x: Arr, out: Arr, positions: Int32Array, cos: Arr, sin: Arr, n: number, heads: number, headDim: number, rotaryDim: number, interleaved: boolean, inverse: boolean): void {
  const half = rotaryDim >> 1;
  const sgn = inverse ? -1 : 1;
  for (let t = 0; t < n; t++) {
    const tab = positions[t]! * half;
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[tab + i]!;
        const s = sgn * sin[tab + i]!;
        const a = o + (interleaved ? 2 * i : i);
        const b = interleaved ? a + 1 : a + half;
        const xa = x[a]!;
        const xb = x[b]!;
        out[a] = xa * c - xb * s;
        out[b] = xb * c + xa * s;
      }
      for (let j = rotaryDim; j < headDim; j++) out[o + j] = x[o + j]!;
    }
  }
}
