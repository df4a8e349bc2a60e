/** Reference random kernels over the Philox stream (layout in tensor/rng.ts). */
import type { Arr } from "../../tensor/dtype.js";
import { philoxBlock, philoxNormal, philoxUniform, u32ToUniform } from "../../tensor/rng.js";

export function uniform(out: Arr, n: number, k0: number, k1: number, offset: number): void {
  philoxUniform(n === out.length ? out : out.subarray(0, n), k0, k1, offset);
}

export function normal(out: Arr, n: number, k0: number, k1: number, offset: number): void {
  philoxNormal(n === out.length ? out : out.subarray(0, n), k0, k1, offset);
}

export function dropout(x: Arr, out: Arr, n: number, p: number, k0: number, k1: number, offset: number): void {
  const blk = new Uint32Array(4);
  const scale = 1 / (1 - p);
  for (let i = 0; i < n; i += 4) {
    const ctr = offset + i / 4;
    philoxBlock(ctr >>> 0, Math.floor(ctr / 4294967296) >>> 0, 0, 0, k0, k1, blk);
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = u32ToUniform(blk[j]!) > p ? x[i + j]! * scale : 0;
  }
}
