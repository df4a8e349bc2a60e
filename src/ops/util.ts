/** Helpers shared by ops: output allocation, contiguous data access, kernel lookup. */
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type Arr, type DType } from "../tensor/dtype.js";
import { allocF32 } from "../tensor/pool.js";
import { numel, shapeStr, type Shape } from "../tensor/shape.js";
import { kernelsFor, type Kernels } from "../backend/index.js";
import { OpError } from "../errors.js";

export function empty(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocArray(dtype, numel(shape)), shape);
}

/**
 * Like `empty`, but large float32 storage is not zero-filled (from the buffer pool, or a fresh
 * Buffer.allocUnsafeSlow). Only for outputs a kernel writes completely — never for accumulators
 * (+= kernels) or partially written results. Saves a memset of every activation and gradient
 * (hundreds of MB per training step). float64 (reference checks) and small tensors stay zeroed.
 */
export function uninit(shape: Shape, dtype: DType): Tensor {
  const n = numel(shape);
  if (dtype !== "float32") return new Tensor(allocArray(dtype, n), shape);
  return new Tensor(allocF32(n, false), shape);
}

/** The raw-array form of `uninit`: every element must be written by the caller. */
export function uninitArray(dtype: DType, n: number): Arr {
  return dtype === "float32" ? allocF32(n, false) : allocArray(dtype, n);
}

/** A fresh contiguous copy of t (pooled storage, no zero fill first). */
export function copyOf(t: Tensor): Tensor {
  const out = uninit(t.shape, t.dtype);
  out.data.set(t.dense());
  return out;
}

/** The tensor's elements as a dense array (zero-copy when already contiguous). */
export function dense(t: Tensor): Arr {
  return t.dense();
}

export function K(t: Tensor): Kernels {
  return kernelsFor(t.dtype);
}

/** Checks liveness and that all tensors share a dtype; returns that dtype. */
export function checkInputs(op: string, ...ts: Tensor[]): DType {
  const dt = ts[0]!.dtype;
  for (const t of ts) {
    t.check(op);
    if (t.dtype !== dt) throw new OpError(op, `dtype mismatch: ${ts.map((x) => `${x.dtype}${shapeStr(x.shape)}`).join(" vs ")}`);
  }
  return dt;
}

export function describe(...ts: Tensor[]): string {
  return ts.map((t) => shapeStr(t.shape)).join(", ");
}
