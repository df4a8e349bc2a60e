/** Reference reductions over the middle axis of an [outer, len, inner] layout. */
import type { Arr } from "../../tensor/dtype.js";
import type { ReduceOp } from "../kernels.js";

export function reduce(op: ReduceOp, x: Arr, out: Arr, outer: number, len: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let i = 0; i < inner; i++) {
      const p0 = base + i;
      let acc: number;
      switch (op) {
        case "sum": {
          acc = 0;
          for (let l = 0; l < len; l++) acc += x[p0 + l * inner]!;
          break;
        }
        case "max": {
          acc = -Infinity;
          for (let l = 0; l < len; l++) {
            const v = x[p0 + l * inner]!;
            if (v > acc || v !== v) acc = v;
            if (acc !== acc) break;
          }
          break;
        }
        case "min": {
          acc = Infinity;
          for (let l = 0; l < len; l++) {
            const v = x[p0 + l * inner]!;
            if (v < acc || v !== v) acc = v;
            if (acc !== acc) break;
          }
          break;
        }
        case "logsumexp": {
          let m = -Infinity;
          for (let l = 0; l < len; l++) m = Math.max(m, x[p0 + l * inner]!);
          if (m === -Infinity || m !== m) {
            acc = m;
            break;
          }
          let s = 0;
          for (let l = 0; l < len; l++) s += Math.exp(x[p0 + l * inner]! - m);
          acc = m + Math.log(s);
          break;
        }
      }
      out[o * inner + i] = acc;
    }
  }
}

export function argmax(x: Arr, out: Int32Array, outer: number, len: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let bi = 0;
      for (let l = 0; l < len; l++) {
        const v = x[base + l * inner + i]!;
        if (v > best) {
          best = v;
          bi = l;
        }
      }
      out[o * inner + i] = bi;
    }
  }
}

export function sumSquares(x: Arr, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
  return s;
}
