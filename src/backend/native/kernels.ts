/**
 * The native kernel table: addon functions adapted to the `Kernels` signatures (float32 only).
 *
 * Exports take the kernel's arguments (typed arrays are used in place). Thin wrappers translate
 * where the argument form differs (op names → small integer codes; shape/stride lists packed
 * into a reused Int32Array) and send tiny problems (≤ 16 elements) to the reference kernel:
 * V8 keeps typed arrays of ≤ 64 bytes inside the JS heap, and the first native access to such
 * an array moves its storage out of the heap (~1 µs), which would dominate a tiny op. Results
 * agree within the tests' tolerances either way (bit for bit for exact ops and the RNG).
 *
 * A Kernels key the addon does not export falls back to the reference kernel; other engineers
 * add a native kernel by exporting a function of the same name and signature from a new
 * native/src/*.cc file (it is used as it is).
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

/** Problems of at most this many elements run on the reference kernel (see above). */
let SMALL = 16;

/** Changes the tiny-problem threshold (tests set 0 to run every size natively); returns the old one. */
export function setNativeSmallThreshold(n: number): number {
  const old = SMALL;
  SMALL = n;
  return old;
}

export function makeNativeKernels(addon: NativeAddon, reference: Kernels): Kernels {
  const f32 = (a: Arr): Float32Array => a as Float32Array;

  const A = addon as unknown as Kernels; // exports with exactly the Kernels signature

  const wrappers: Partial<Kernels> = {
    gemm(tA, tB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) {
      if (m * n <= SMALL && m * n * k <= 4 * SMALL) return reference.gemm(tA, tB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
      A.gemm(tA, tB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    },
    unary(op, x, out, n) {
      const code = UNARY[op];
      if (code === undefined || n <= SMALL) return reference.unary(op, x, out, n);
      addon.unary(code, f32(x), f32(out), n);
    },
    unaryBackward(op, x, y, gy, gx, n) {
      const code = UNARY[op];
      if (code === undefined || n <= SMALL) return reference.unaryBackward(op, x, y, gy, gx, n);
      addon.unaryBackward(code, f32(x), f32(y), f32(gy), f32(gx), n);
    },
    binary(op, a, aStrides, b, bStrides, out, outShape) {
      const code = BINARY[op];
      if (code === undefined || out.length <= SMALL) return reference.binary(op, a, aStrides, b, bStrides, out, outShape);
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
    affine(x, out, n, alpha, s) {
      if (n <= SMALL) return reference.affine(x, out, n, alpha, s);
      A.affine(x, out, n, alpha, s);
    },
    axpy(n, alpha, x, y) {
      if (n <= SMALL) return reference.axpy(n, alpha, x, y);
      A.axpy(n, alpha, x, y);
    },
    where(cond, a, b, out, n) {
      if (n <= SMALL) return reference.where(cond, a, b, out, n);
      A.where(cond, a, b, out, n);
    },
    fill(out, n, value) {
      if (n <= SMALL) return reference.fill(out, n, value);
      A.fill(out, n, value);
    },
    copyStrided(src, offset, shape, strides, dst) {
      if (dst.length <= SMALL) return reference.copyStrided(src, offset, shape, strides, dst);
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
      if (code === undefined || outer * len * inner <= SMALL) return reference.reduce(op, x, out, outer, len, inner);
      addon.reduce(code, f32(x), f32(out), outer, len, inner);
    },
    argmax(x, out, outer, len, inner) {
      if (outer * len * inner <= SMALL) return reference.argmax(x, out, outer, len, inner);
      A.argmax(x, out, outer, len, inner);
    },
    sumSquares(x, n) {
      return n <= SMALL ? reference.sumSquares(x, n) : A.sumSquares(x, n);
    },
    softmax(x, out, rows, cols) {
      if (rows * cols <= SMALL) return reference.softmax(x, out, rows, cols);
      A.softmax(x, out, rows, cols);
    },
    logSoftmax(x, out, rows, cols) {
      if (rows * cols <= SMALL) return reference.logSoftmax(x, out, rows, cols);
      A.logSoftmax(x, out, rows, cols);
    },
    softmaxBackward(y, gy, gx, rows, cols) {
      if (rows * cols <= SMALL) return reference.softmaxBackward(y, gy, gx, rows, cols);
      A.softmaxBackward(y, gy, gx, rows, cols);
    },
    logSoftmaxBackward(y, gy, gx, rows, cols) {
      if (rows * cols <= SMALL) return reference.logSoftmaxBackward(y, gy, gx, rows, cols);
      A.logSoftmaxBackward(y, gy, gx, rows, cols);
    },
    crossEntropy(logits, targets, loss, lse, rows, cols, ignoreIndex) {
      if (rows * cols <= SMALL) return reference.crossEntropy(logits, targets, loss, lse, rows, cols, ignoreIndex);
      return A.crossEntropy(logits, targets, loss, lse, rows, cols, ignoreIndex);
    },
    crossEntropyBackward(logits, targets, lse, gLoss, gLogits, rows, cols, ignoreIndex) {
      if (rows * cols <= SMALL) return reference.crossEntropyBackward(logits, targets, lse, gLoss, gLogits, rows, cols, ignoreIndex);
      A.crossEntropyBackward(logits, targets, lse, gLoss, gLogits, rows, cols, ignoreIndex);
    },
    dropout(x, out, n, p, k0, k1, offset) {
      if (n <= SMALL) return reference.dropout(x, out, n, p, k0, k1, offset);
      A.dropout(x, out, n, p, k0, k1, offset);
    },
    uniform(out, n, k0, k1, offset) {
      if (n <= SMALL) return reference.uniform(out, n, k0, k1, offset);
      A.uniform(out, n, k0, k1, offset);
    },
    normal(out, n, k0, k1, offset) {
      if (n <= SMALL) return reference.normal(out, n, k0, k1, offset);
      A.normal(out, n, k0, k1, offset);
    },
    adamw(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2) {
      if (n <= SMALL) return reference.adamw(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2);
      A.adamw(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2);
    },
  };

  const table: Record<string, unknown> = { ...reference, name: "native" };
  for (const key of Object.keys(reference) as (keyof Kernels)[]) {
    if (key === "name") continue;
    if (typeof addon[key] !== "function" && !ADAPTED.has(key)) continue; // not native: reference
    table[key] = wrappers[key] ?? (addon[key] as AnyFn);
  }
  return table as unknown as Kernels;
}

/** Kernels whose addon export has a different name or argument form (see the wrappers). */
const ADAPTED = new Set<string>(["unary", "unaryBackward", "binary", "copyStrided", "reduce"]);

/** Kernel names the addon implements natively (the rest run on the reference). */
export function nativeKernelNames(addon: NativeAddon, reference: Kernels): string[] {
  return Object.keys(reference).filter((k) => k !== "name" && (ADAPTED.has(k) || typeof addon[k] === "function"));
}
