/** Reference causal depthwise conv1d (TODO(helper): implement). */
import type { Arr } from "../../tensor/dtype.js";
export function causalConv1d(_x: Arr, _w: Arr, _bias: Arr | null, _state: Arr | null, _out: Arr, _B: number, _T: number, _C: number, _K: number): void {
  throw new Error("reference kernel 'causalConv1d' is not written yet");
}
export function causalConv1dBackward(_x: Arr, _w: Arr, _state: Arr | null, _gy: Arr, _gx: Arr, _gw: Arr, _gb: Arr | null, _gState: Arr | null, _B: number, _T: number, _C: number, _K: number): void {
  throw new Error("reference kernel 'causalConv1dBackward' is not written yet");
}
