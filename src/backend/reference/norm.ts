/** Reference RMSNorm and LayerNorm over the last axis (TODO(helper): implement). */
import type { Arr } from "../../tensor/dtype.js";

const todo = (k: string): never => {
  throw new Error(`reference kernel '${k}' is not written yet`);
};
export function rmsNorm(_x: Arr, _w: Arr | null, _out: Arr, _rstd: Arr, _rows: number, _cols: number, _eps: number, _wOffset: number): void {
  todo("rmsNorm");
}
export function rmsNormBackward(_x: Arr, _w: Arr | null, _rstd: Arr, _gy: Arr, _gx: Arr, _gw: Arr | null, _rows: number, _cols: number, _wOffset: number): void {
  todo("rmsNormBackward");
}
export function layerNorm(_x: Arr, _w: Arr | null, _b: Arr | null, _out: Arr, _mean: Arr, _rstd: Arr, _rows: number, _cols: number, _eps: number): void {
  todo("layerNorm");
}
export function layerNormBackward(_x: Arr, _w: Arr | null, _mean: Arr, _rstd: Arr, _gy: Arr, _gx: Arr, _gw: Arr | null, _gb: Arr | null, _rows: number, _cols: number): void {
  todo("layerNormBackward");
}
