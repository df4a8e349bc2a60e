/**
 * The few-row gemm path (2 ≤ m ≤ 16, native/src/gemm_small.h) ≡ reference: m ∈ {2, 3, 4, 7, 8,
 * 15, 16} crossed with odd n and k, every transpose combination, alpha/beta variants (beta = 0
 * with NaN-filled C), padded leading dimensions and offsets; deep k (several k-blocks) and wide n
 * (several column tasks); NaN/inf propagation; AVX2 table; bitwise-equal results with 1 and 2
 * threads; with OpenBLAS selected, few-row products still take the built-in path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { setBlas, setThreads, getThreads, blasInfo } from "../../src/backend/index.js";
import { N, addon, rand, sameBits, skip, ODD, gemmCase, type GemmCase } from "./helpers.js";

const MS = [2, 3, 4, 7, 8, 15, 16];
const AB: readonly (readonly [number, number])[] = [[1, 0], [0.5, 1], [-1.5, 0.25], [2, -1]];

type Case = GemmCase;

/** Operands with padded leading dimensions and offsets; returns the native and reference C. */
const runCase = (c: Case, seed: number, edit?: (A: Float32Array, B: Float32Array) => void) =>
  gemmCase(c, seed, { layout: { padA: 5, padB: 3, padC: 2, aOff: 3, bOff: 1, cOff: 4 }, edit });

function check(c: Case, seed: number, label: string): void {
  const { got, want } = runCase(c, seed);
  assertClose(got, want, 2e-6, 2e-5 * Math.sqrt(c.k), `${label} ${JSON.stringify(c)}`);
}

function sweep(label: string, ms: readonly number[], sizes: readonly number[]): void {
  let seed = 1;
  for (const m of ms)
    for (const n of sizes)
      for (const k of sizes)
        for (const tA of [false, true])
          for (const tB of [false, true]) {
            const [alpha, beta] = AB[seed % AB.length]!;
            check({ tA, tB, m, n, k, alpha, beta }, seed++, label);
          }
}

test("few-row gemm ≡ reference: m ∈ {2…16} × odd n, k × transposes × alpha/beta, padded ld", { skip }, () => {
  setBlas("builtin");
  sweep("builtin", MS, ODD);
});

test("few-row gemm: deep k (several k-blocks) and wide n (several column tasks)", { skip }, () => {
  setBlas("builtin");
  let seed = 500;
  for (const [m, n, k] of [[16, 833, 1000], [9, 401, 1543], [5, 1100, 517], [2, 70, 4099]] as const)
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const [alpha, beta] = AB[seed % AB.length]!;
        check({ tA, tB, m, n, k, alpha, beta }, seed++, "deep");
      }
});

test("few-row gemm: NaN and inf propagate to the right elements only", { skip }, () => {
  setBlas("builtin");
  for (const tB of [false, true]) {
    const m = 6, n = 70, k = 130;
    const { got, want } = runCase({ tA: false, tB, m, n, k, alpha: 1, beta: 0 }, 77, (A, B) => {
      A[3 + 2 * (k + 5) + 17] = NaN; // row 2 of A
      // column 9 of op(B)
      if (tB) B[1 + 9 * (k + 3) + 40] = Infinity;
      else B[1 + 40 * (n + 3) + 9] = Infinity;
    });
    assertClose(got, want, 2e-6, 1e-4, `NaN/inf tB=${tB}`);
    let nan = 0; // over the m×n elements (offset and padding keep their NaN fill)
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) if (Number.isNaN(got[4 + i * (n + 2) + j]!)) nan++;
    // row 2 (n values) and column 9 of the other m − 1 rows (inf ± finite, or NaN from inf − inf
    // never arises with one inf per column)
    assert.equal(nan, n, `tB=${tB}: NaN count`);
  }
});

test("few-row gemm: AVX2 kernel table ≡ reference", { skip: skip || (!blasInfo().avx512 && "no AVX-512: the AVX2 table is already the default") }, () => {
  assert.ok(addon.setIsa("avx2"));
  try {
    setBlas("builtin");
    sweep("avx2", [2, 5, 8, 16], [1, 7, 65, 130]);
    for (const tB of [false, true]) check({ tA: false, tB, m: 13, n: 900, k: 1100, alpha: 0.5, beta: 0.5 }, 9, "avx2 deep");
  } finally {
    addon.setIsa("avx512");
  }
});

test("few-row gemm: results do not depend on the thread count", { skip }, () => {
  const before = getThreads();
  setBlas("builtin");
  try {
    for (const [m, n, k] of [[3, 1500, 700], [16, 1000, 900], [8, 2000, 64]] as const)
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const A = rand(m * k, m + k), B = rand(k * n, n);
          const out: Float32Array[] = [];
          for (const th of [1, 2]) {
            setThreads(th);
            const C = new Float32Array(m * n);
            N.gemm(tA, tB, m, n, k, 1, A, 0, tA ? m : k, B, 0, tB ? k : n, 0, C, 0, n);
            out.push(C);
          }
          sameBits(out[0]!, out[1]!, `gemm ${m}x${n}x${k} tA=${tA} tB=${tB} threads 1 vs 2`);
        }
  } finally {
    setThreads(before);
  }
});

test("few-row gemm: with OpenBLAS selected, 2 ≤ m ≤ 16 still runs the built-in path (bitwise equal)", { skip: skip || (!blasInfo().openblasAvailable && "OpenBLAS not installed") }, () => {
  for (const [m, tB] of [[2, true], [16, true], [4, false], [16, false]] as const) {
    const n = 300, k = 200;
    const A = rand(m * k, 1), B = rand(k * n, 2);
    const res: Float32Array[] = [];
    for (const blas of ["builtin", "openblas"] as const) {
      assert.ok(setBlas(blas));
      const C = new Float32Array(m * n);
      N.gemm(false, tB, m, n, k, 1, A, 0, k, B, 0, tB ? k : n, 0, C, 0, n);
      res.push(C);
    }
    sameBits(res[0]!, res[1]!, `m=${m} tB=${tB}: openblas routing`);
  }
  setBlas("builtin");
});
