/** Reference embedding gather and its scatter-add backward. */
import type { Arr } from "../../tensor/dtype.js";

export function embedding(weight: Arr, ids: Int32Array, out: Arr, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const src = ids[i]! * dim;
    const dst = i * dim;
    for (let j = 0; j < dim; j++) out[dst + j] = weight[src + j]!;
  }
}

export function embeddingBackward(gy: Arr, ids: Int32Array, gw: Arr, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const dst = ids[i]! * dim;
    const src = i * dim;
    for (let j = 0; j < dim; j++) gw[dst + j] = gw[dst + j]! + gy[src + j]!;
  }
}
