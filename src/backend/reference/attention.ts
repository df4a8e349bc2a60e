/** Reference fused attention (TODO(helper): implement). */
import type { Arr } from "../../tensor/dtype.js";
export function attention(
  _q: Arr, _k: Arr, _v: Arr, _sinks: Arr | null, _out: Arr, _lse: Arr,
  _B: number, _Tq: number, _Tk: number, _Hq: number, _Hkv: number, _D: number, _Dv: number,
  _scale: number, _causal: boolean, _window: number, _qStart: number,
): void {
  throw new Error("reference kernel 'attention' is not written yet");
}
export function attentionBackward(
  _q: Arr, _k: Arr, _v: Arr, _sinks: Arr | null, _out: Arr, _lse: Arr, _gOut: Arr,
  _gq: Arr, _gk: Arr, _gv: Arr, _gSinks: Arr | null,
  _B: number, _Tq: number, _Tk: number, _Hq: number, _Hkv: number, _D: number, _Dv: number,
  _scale: number, _causal: boolean, _window: number, _qStart: number,
): void {
  throw new Error("reference kernel 'attentionBackward' is not written yet");
}
