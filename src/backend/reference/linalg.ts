/** Reference gemm: straightforward loops with an i-k-j order (cache-friendly for row-major B). */
import type { Arr } from "../../tensor/dtype.js";

export function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Arr, aOff: number, lda: number, b: Arr, bOff: number, ldb: number,
  beta: number, c: Arr, cOff: number, ldc: number,
): void {
  // scale / clear C first
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) c[row + j] = 0;
    else if (beta !== 1) for (let j = 0; j < n; j++) c[row + j] = c[row + j]! * beta;
  }
  if (alpha === 0 || k === 0) return;
  for (let i = 0; i < m; i++) {
    const crow = cOff + i * ldc;
    for (let p = 0; p < k; p++) {
      const av = alpha * a[aOff + (transA ? p * lda + i : i * lda + p)]!;
      if (av === 0) continue;
      if (!transB) {
        const brow = bOff + p * ldb;
        for (let j = 0; j < n; j++) c[crow + j] = c[crow + j]! + av * b[brow + j]!;
      } else {
        const bcol = bOff + p;
        for (let j = 0; j < n; j++) c[crow + j] = c[crow + j]! + av * b[bcol + j * ldb]!;
      }
    }
  }
}

export function gemmBatched(
  batch: number, transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Arr, aOff: number, strideA: number, lda: number,
  b: Arr, bOff: number, strideB: number, ldb: number,
  beta: number, c: Arr, cOff: number, strideC: number, ldc: number,
): void {
  for (let i = 0; i < batch; i++)
    gemm(transA, transB, m, n, k, alpha, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb, beta, c, cOff + i * strideC, ldc);
}
