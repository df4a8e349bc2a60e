/**
 * The native kernel table: addon functions adapted to the `Kernels` signatures (float32 only).
 *
 * Most exports take exactly the kernel's arguments and are used as they are, so a call costs one
 * N-API transition and no JS wrapper. Wrappers exist only where the argument form differs:
 * op names become small integer codes, and shape/stride lists are packed into a reused
 * Int32Array. A Kernels key the addon does not export (or a value the wrapper does not handle)
 * falls back to the reference kernel, so other engineers can add a native kernel by exporting a
 * function of the same name and signature from a new native/src/*.cc file.
 */
import type { Arr } from "../../tensor/dtype.js";
import type { BinaryOp, Kernels, ReduceOp, UnaryOp } from "../kernels.js";
import type { NativeAddon } from "./addon.js";

// Codes: the order of the enums in native/src/isa.h.
const UNARY: Record<UnaryOp, number> = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, square: 6, recip: 7, tanh: 8, sigmoid: 9, relu: 10,
  silu: 11, gelu: 12, gelu_tanh: 13, softplus: 14, sin: 15, cos: 16,
};
const BINARY: Record<BinaryOp, number> = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6, gt: 7, lt: 8, ge: 9, le: 10, eq: 11,
};
const REDUCE: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2, logsumexp: 3 };

/** Scratch for shape/stride lists (grown on demand, never shrunk). */
let meta = new Int32Array(96);
function metaFor(len: number): Int32Array {
  if (meta.length < len) meta = new Int32Array(len * 2);
  return meta;
}

type AnyFn = (...args: unknown[]) => unknown;

export function makeNativeKernels(addon: NativeAddon, reference: Kernels): Kernels {
  const f32 = (a: Arr): Float32Array => a as Float32Array;

  const wrappers: Partial<Kernels> = {
    unary(op, x, out, n) {
      const code = UNARY[op];
      if (code === undefined) return reference.unary(op, x, out, n);
      addon.unary(code, f32(x), f32(out), n);
    },
    unaryBackward(op, x, y, gy, gx, n) {
      const code = UNARY[op];
      if (code === undefined) return reference.unaryBackward(op, x, y, gy, gx, n);
      addon.unaryBackward(code, f32(x), f32(y), f32(gy), f32(gx), n);
    },
    binary(op, a, aStrides, b, bStrides, out, outShape) {
      const code = BINARY[op];
      if (code === undefined) return reference.binary(op, a, aStrides, b, bStrides, out, outShape);
      const rank = outShape.length;
      // same contiguous layout for both operands → one flat loop
      let n = 1;
      let same = true;
      for (let d = rank - 1; d >= 0; d--) {
        const s = outShape[d]!;
        if (s !== 1 && (aStrides[d] !== n || bStrides[d] !== n)) same = false;
        n *= s;
      }
      if (same) {
        addon.binarySame(code, f32(a), f32(b), f32(out), n);
        return;
      }
      const m = metaFor(3 * rank);
      for (let d = 0; d < rank; d++) {
        m[d] = outShape[d]!;
        m[rank + d] = aStrides[d]!;
        m[2 * rank + d] = bStrides[d]!;
      }
      addon.binary(code, f32(a), f32(b), f32(out), m, rank);
    },
    copyStrided(src, offset, shape, strides, dst) {
      const rank = shape.length;
      const m = metaFor(2 * rank);
      for (let d = 0; d < rank; d++) {
        m[d] = shape[d]!;
        m[rank + d] = strides[d]!;
      }
      addon.copyStrided(f32(src), offset, m, rank, f32(dst));
    },
    reduce(op, x, out, outer, len, inner) {
      const code = REDUCE[op];
      if (code === undefined) return reference.reduce(op, x, out, outer, len, inner);
      addon.reduce(code, f32(x), f32(out), outer, len, inner);
    },
  };

  const table: Record<string, unknown> = { ...reference, name: "native" };
  for (const key of Object.keys(reference) as (keyof Kernels)[]) {
    if (key === "name") continue;
    const w = wrappers[key];
    if (w) table[key] = w;
    else if (typeof addon[key] === "function") table[key] = addon[key] as AnyFn;
  }
  return table as unknown as Kernels;
}

/** Kernel names the addon implements natively (the rest run on the reference). */
export function nativeKernelNames(addon: NativeAddon, reference: Kernels): string[] {
  const special = new Set(["unary", "unaryBackward", "binary", "copyStrided", "reduce"]);
  return Object.keys(reference).filter((k) => k !== "name" && (special.has(k) || typeof addon[k] === "function"));
}
