/** Reference softmax, log-softmax and fused cross-entropy over the last axis of x [R, C]. */
import type { Arr } from "../../tensor/dtype.js";

function rowMax(x: Arr, o: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) if (x[o + j]! > m) m = x[o + j]!;
  return m;
}

export function softmax(x: Arr, out: Arr, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const m = rowMax(x, o, cols);
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j]! - m);
      out[o + j] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let j = 0; j < cols; j++) out[o + j] = out[o + j]! * inv;
  }
}

export function softmaxBackward(y: Arr, gy: Arr, gx: Arr, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += gy[o + j]! * y[o + j]!;
    for (let j = 0; j < cols; j++) gx[o + j] = y[o + j]! * (gy[o + j]! - dot);
  }
}

export function logSoftmax(x: Arr, out: Arr, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const m = rowMax(x, o, cols);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j]! - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! - lse;
  }
}

export function logSoftmaxBackward(y: Arr, gy: Arr, gx: Arr, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += gy[o + j]!;
    for (let j = 0; j < cols; j++) gx[o + j] = gy[o + j]! - Math.exp(y[o + j]!) * s;
  }
}

export function crossEntropy(logits: Arr, targets: Int32Array, loss: Arr, lse: Arr, rows: number, cols: number, ignoreIndex: number): number {
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const m = rowMax(logits, o, cols);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(logits[o + j]! - m);
    const l = m + Math.log(s);
    lse[r] = l;
    const t = targets[r]!;
    if (t === ignoreIndex) loss[r] = 0;
    else {
      loss[r] = l - logits[o + t]!;
      count++;
    }
  }
  return count;
}

export function crossEntropyBackward(logits: Arr, targets: Int32Array, lse: Arr, gLoss: Arr, gLogits: Arr, rows: number, cols: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const t = targets[r]!;
    if (t === ignoreIndex) {
      for (let j = 0; j < cols; j++) gLogits[o + j] = 0;
      continue;
    }
    const g = gLoss[r]!;
    const l = lse[r]!;
    for (let j = 0; j < cols; j++) gLogits[o + j] = g * Math.exp(logits[o + j]! - l);
    gLogits[o + t] = gLogits[o + t]! - g;
  }
}
