/**
 * Reference RMSNorm and LayerNorm over the last axis of x [R, C] (components.md §1.1–1.3).
 *
 * RMSNorm (Zhang & Sennrich 2019): y = x·rstd·g, rstd = 1/sqrt(mean(x²) + eps), g = wOffset + w
 * (wOffset 1 is the Gemma / Qwen3-Next "(1+w)" form; w null → g = 1).
 * LayerNorm (Ba et al. 2016): y = (x − mean)·rstd·w + b with the biased variance.
 * Row statistics are accumulated in float64 whatever the storage type.
 *
 * Backward, with x̂ = x·rstd (RMS) or (x − mean)·rstd (LN) and ĝ = gy·g:
 *   RMS: gx = rstd·(ĝ − x̂·mean(ĝ·x̂))
 *   LN:  gx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
 *   gw += Σ_rows gy·x̂, gb += Σ_rows gy.
 */
import type { Arr } from "../../tensor/dtype.js";

export function rmsNorm(x: Arr, w: Arr | null, out: Arr, rstd: Arr, rows: number, cols: number, eps: number, wOffset: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[o + j]! * x[o + j]!;
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    if (w) for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! * rs * (wOffset + w[j]!);
    else for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! * rs;
  }
}

export function rmsNormBackward(x: Arr, w: Arr | null, rstd: Arr, gy: Arr, gx: Arr, gw: Arr | null, rows: number, cols: number, wOffset: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rstd[r]!;
    // dot = mean(ĝ·x̂)
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += gy[o + j]! * (w ? wOffset + w[j]! : 1) * x[o + j]!;
    dot = (dot * rs) / cols;
    for (let j = 0; j < cols; j++) {
      const xh = x[o + j]! * rs;
      const gh = gy[o + j]! * (w ? wOffset + w[j]! : 1);
      gx[o + j] = rs * (gh - xh * dot);
    }
    if (w && gw) for (let j = 0; j < cols; j++) gw[j] = gw[j]! + gy[o + j]! * x[o + j]! * rs;
  }
}

export function layerNorm(x: Arr, w: Arr | null, b: Arr | null, out: Arr, mean: Arr, rstd: Arr, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[o + j]!;
    const mu = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) {
      const d = x[o + j]! - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      let y = (x[o + j]! - mu) * rs;
      if (w) y *= w[j]!;
      if (b) y += b[j]!;
      out[o + j] = y;
    }
  }
}

export function layerNormBackward(x: Arr, w: Arr | null, mean: Arr, rstd: Arr, gy: Arr, gx: Arr, gw: Arr | null, gb: Arr | null, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let sg = 0; // Σ ĝ
    let sgx = 0; // Σ ĝ·x̂
    for (let j = 0; j < cols; j++) {
      const gh = gy[o + j]! * (w ? w[j]! : 1);
      sg += gh;
      sgx += gh * (x[o + j]! - mu) * rs;
    }
    sg /= cols;
    sgx /= cols;
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j]! - mu) * rs;
      const gh = gy[o + j]! * (w ? w[j]! : 1);
      gx[o + j] = rs * (gh - sg - xh * sgx);
      if (w && gw) gw[j] = gw[j]! + gy[o + j]! * xh;
      if (gb) gb[j] = gb[j]! + gy[o + j]!;
    }
  }
}
