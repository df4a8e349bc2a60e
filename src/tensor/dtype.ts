/**
 * Element types. float32 is the working type of every kernel; float64 exists for the
 * pure-TypeScript reference backend so gradient checks can run in double precision.
 * The `DType` union is where bf16/f16/int8 storage would be added (with their own array kinds).
 */
import { allocF32 } from "./pool.js";

export type DType = "float32" | "float64";

/** Storage arrays the engine works on. */
export type Arr = Float32Array | Float64Array;

/** A zero-filled array (large float32 ones come from the buffer pool, src/tensor/pool.ts). */
export function allocArray(dtype: DType, n: number): Arr {
  switch (dtype) {
    case "float32":
      return allocF32(n, true);
    case "float64":
      return new Float64Array(n);
  }
}

export function dtypeOf(a: Arr): DType {
  return a instanceof Float64Array ? "float64" : "float32";
}

export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}
