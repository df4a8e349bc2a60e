/**
 * Element types. float32 is the working type of every kernel; float64 exists for the
 * pure-TypeScript reference backend so gradient checks can run in double precision.
 * The `DType` union is where bf16/f16/int8 storage would be added (with their own array kinds).
 */
export type DType = "float32" | "float64";

/** Storage arrays the engine works on. */
export type Arr = Float32Array | Float64Array;

export function allocArray(dtype: DType, n: number): Arr {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
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
