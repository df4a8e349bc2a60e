/** Reference rotary embedding (TODO(helper): implement). */
import type { Arr } from "../../tensor/dtype.js";
export function rope(_x: Arr, _out: Arr, _positions: Int32Array, _cos: Arr, _sin: Arr, _n: number, _heads: number, _headDim: number, _rotaryDim: number, _interleaved: boolean, _inverse: boolean): void {
  throw new Error("reference kernel 'rope' is not written yet");
}
