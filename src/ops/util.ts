/** Helpers shared by ops: output allocation, contiguous data access, kernel lookup. */
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type Arr, type DType } from "../tensor/dtype.js";
import { numel, shapeStr, type Shape } from "../tensor/shape.js";
import { kernelsFor, type Kernels } from "../backend/index.js";
import { OpError } from "../errors.js";

export function empty(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocArray(dtype, numel(shape)), shape);
}

/** float32 outputs of at least this many elements skip the zero fill in `uninit`. */
const UNINIT_MIN = 1024;

/**
 * Like `empty`, but large float32 storage is not zero-filled (Buffer.allocUnsafeSlow: a fresh,
 * unshared ArrayBuffer). Only for outputs a kernel writes completely — never for accumulators
 * (+= kernels) or partially written results. Saves a memset of every activation and gradient
 * (hundreds of MB per training step). float64 (reference checks) and small tensors stay zeroed.
 */
export function uninit(shape: Shape, dtype: DType): Tensor {
  const n = numel(shape);
  if (dtype !== "float32" || n < UNINIT_MIN) return new Tensor(allocArray(dtype, n), shape);
  const buf = Buffer.allocUnsafeSlow(n * 4);
  return new Tensor(new Float32Array(buf.buffer, buf.byteOffset, n), shape);
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
