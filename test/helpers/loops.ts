/**
 * Plain float64 loops the layer tests build their references from (MLA, DSA): a linear map and a
 * RoPE rotation, written from the definitions, independent of the ops under test.
 */
import type { Tensor } from "../../src/tensor/tensor.js";

/** y = x Wᵀ for row-major x [rows, in], W [out, in]. */
export function lin(x: ArrayLike<number>, W: Tensor, rows: number): Float64Array {
  const [out, inF] = W.shape as [number, number];
  const w = W.dense();
  const y = new Float64Array(rows * out);
  for (let i = 0; i < rows; i++)
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let j = 0; j < inF; j++) s += x[i * inF + j]! * w[o * inF + j]!;
      y[i * out + o] = s;
    }
  return y;
}

/** In-place rotation of v[o … o+p) at position pos: interleaved pairs (2i, 2i+1) or rotate-half pairs (i, i+p/2). */
export function rotate(v: Float64Array, o: number, p: number, pos: number, inv: Float64Array | null, interleaved = true): void {
  if (!inv) return;
  for (let i = 0; i < p / 2; i++) {
    const a = pos * inv[i]!;
    const [ia, ib] = interleaved ? [o + 2 * i, o + 2 * i + 1] : [o + i, o + i + p / 2];
    const [x0, x1] = [v[ia]!, v[ib]!];
    v[ia] = x0 * Math.cos(a) - x1 * Math.sin(a);
    v[ib] = x1 * Math.cos(a) + x0 * Math.sin(a);
  }
}
