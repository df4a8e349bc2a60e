/**
 * Native gemm / gemmBatched ≡ reference: a sweep over m, n, k ∈ {1, 2, 7, 16, 33, 65, 130} with
 * every transpose combination, alpha/beta (beta = 0 ignoring NaN in C), padded leading
 * dimensions and array offsets; both the built-in kernel (AVX-512 and AVX2 tables) and OpenBLAS
 * when present; built-in vs OpenBLAS agreement; results identical with 1 and 2 threads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { setBlas, setThreads, getThreads, blasInfo } from "../../src/backend/index.js";
import { N, R, addon, rand, sameBits, skip, gemmCase, type GemmCase } from "./helpers.js";

const SIZES = [1, 2, 7, 16, 33, 65, 130];

type Case = GemmCase;

const runCase = (c: Case, seed: number, K = N) => gemmCase(c, seed, { K });

function sweep(label: string): void {
  let seed = 1;
  for (const m of SIZES)
    for (const n of SIZES)
      for (const k of SIZES)
        for (const tA of [false, true])
          for (const tB of [false, true]) {
            const ab = [[1, 0], [0.5, 1], [-1.5, 0.25]][seed % 3]!;
            const c = { tA, tB, m, n, k, alpha: ab[0]!, beta: ab[1]! };
            const { got, want } = runCase(c, seed++);
            assertClose(got, want, 2e-6, 2e-5 * Math.sqrt(k), `${label} gemm ${JSON.stringify(c)}`);
          }
}

test("gemm sweep: built-in kernel ≡ reference (all transposes, alpha/beta, padded ld, offsets)", { skip }, () => {
  setBlas("builtin");
  sweep("builtin");
});

test("gemm sweep: AVX2 kernel table ≡ reference", { skip }, () => {
  assert.ok(addon.setIsa("avx2"));
  try {
    setBlas("builtin");
    sweep("avx2");
  } finally {
    addon.setIsa(blasInfo().avx512 ? "avx512" : "avx2");
  }
});

test("gemm sweep: OpenBLAS ≡ reference", { skip: skip || (!blasInfo().openblasAvailable && "OpenBLAS not installed") }, () => {
  assert.ok(setBlas("openblas"));
  try {
    sweep("openblas");
  } finally {
    setBlas("builtin");
  }
});

test("gemm: degenerate sizes (k = 0 scales C by beta; alpha = 0; empty m or n)", { skip }, () => {
  for (const blas of ["builtin", "openblas"] as const) {
    if (!setBlas(blas)) continue;
    const C = Float32Array.from([1, 2, 3, 4]);
    N.gemm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 1, new Float32Array(0), 0, 2, 0.5, C, 0, 2);
    assert.deepEqual(Array.from(C), [0.5, 1, 1.5, 2]);
    const D = Float32Array.from([NaN, NaN]);
    N.gemm(false, false, 1, 2, 3, 0, rand(3, 1), 0, 3, rand(6, 2), 0, 2, 0, D, 0, 2);
    assert.deepEqual(Array.from(D), [0, 0]);
    N.gemm(false, false, 0, 5, 3, 1, new Float32Array(0), 0, 3, rand(15, 3), 0, 5, 0, new Float32Array(0), 0, 5);
  }
  setBlas("builtin");
});

test("gemm: large shapes, built-in ≡ OpenBLAS ≡ reference; NaN/inf propagate", { skip }, () => {
  const m = 150, n = 301, k = 517;
  const A = rand(m * k, 11), B = rand(k * n, 12);
  A[3 * k + 5] = NaN;
  B[7 * n + 9] = Infinity;
  const want = new Float32Array(m * n);
  R.gemm(false, false, m, n, k, 1, A, 0, k, B, 0, n, 0, want, 0, n);
  setBlas("builtin");
  const bi = new Float32Array(m * n);
  N.gemm(false, false, m, n, k, 1, A, 0, k, B, 0, n, 0, bi, 0, n);
  assertClose(bi, want, 1e-5, 1e-4, "builtin");
  if (setBlas("openblas")) {
    const ob = new Float32Array(m * n);
    N.gemm(false, false, m, n, k, 1, A, 0, k, B, 0, n, 0, ob, 0, n);
    assertClose(ob, want, 1e-5, 1e-4, "openblas");
    assertClose(ob, bi, 1e-5, 1e-4, "openblas vs builtin");
    setBlas("builtin");
  }
});

test("gemmBatched ≡ reference, including broadcast (stride 0) operands", { skip }, () => {
  for (const [batch, m, n, k] of [[3, 7, 9, 5], [5, 33, 17, 65], [2, 130, 65, 33], [4, 1, 63, 7]] as const) {
    for (const [sA, sB] of [[m * k, k * n], [0, k * n], [m * k, 0]]) {
      for (const tB of [false, true]) {
        const A = rand(2 + Math.max(1, batch * sA) + m * k, batch + m);
        const B = rand(1 + Math.max(1, batch * sB) + k * n, n + k);
        const got = rand(batch * m * n, 9), want = got.slice();
        const ldb = tB ? k : n;
        N.gemmBatched(batch, false, tB, m, n, k, 0.75, A, 2, sA, k, B, 1, sB, ldb, 0.5, got, 0, m * n, n);
        R.gemmBatched(batch, false, tB, m, n, k, 0.75, A, 2, sA, k, B, 1, sB, ldb, 0.5, want, 0, m * n, n);
        assertClose(got, want, 2e-6, 1e-4, `gemmBatched ${batch}x${m}x${n}x${k} sA=${sA} sB=${sB} tB=${tB}`);
      }
    }
  }
});

test("gemm results do not depend on the thread count", { skip }, () => {
  const before = getThreads();
  try {
    for (const [m, n, k] of [[300, 257, 130], [1, 4097, 300], [515, 1, 300], [64, 64, 64]]) {
      const A = rand(m * k, m), B = rand(k * n, n);
      const out: Float32Array[] = [];
      for (const th of [1, 2]) {
        setThreads(th);
        const C = new Float32Array(m * n);
        setBlas("builtin");
        N.gemm(false, true, m, n, k, 1, A, 0, k, B, 0, k, 0, C, 0, n);
        out.push(C);
      }
      sameBits(out[0]!, out[1]!, `gemm ${m}x${n}x${k} threads 1 vs 2`);
    }
    // batched: the parallel-over-batch path and the serial path agree bit for bit
    const A = rand(16 * 20 * 30, 1), B = rand(16 * 30 * 10, 2);
    const res: Float32Array[] = [];
    for (const th of [1, 2]) {
      setThreads(th);
      const C = new Float32Array(16 * 20 * 10);
      N.gemmBatched(16, false, false, 20, 10, 30, 1, A, 0, 600, 30, B, 0, 300, 10, 0, C, 0, 200, 10);
      res.push(C);
    }
    sameBits(res[0]!, res[1]!, "gemmBatched threads 1 vs 2");
  } finally {
    setThreads(before);
  }
});

test("gemm: deep k with more rows / columns than one packed panel holds (sampled check)", { skip }, () => {
  setBlas("builtin");
  // k = 4096 → 16 KC slices; packed operands are capped at 2^22 floats, so 1100 rows (or
  // columns) are processed in two panels
  for (const [m, n, k] of [[1100, 40, 4096], [40, 1100, 4096]] as const) {
    const A = rand(m * k, m), B = rand(k * n, n), C = rand(m * n, 3), C0 = C.slice();
    N.gemm(false, true, m, n, k, 0.5, A, 0, k, B, 0, k, 0.25, C, 0, n);
    for (let s = 0; s < 300; s++) {
      const i = (s * 7919) % m, j = (s * 104729) % n;
      let dot = 0;
      for (let p = 0; p < k; p++) dot += A[i * k + p]! * B[j * k + p]!;
      const want = 0.5 * dot + 0.25 * C0[i * n + j]!;
      assert.ok(Math.abs(C[i * n + j]! - want) <= 1e-4 * Math.sqrt(k), `C[${i},${j}] = ${C[i * n + j]} vs ${want} (${m}x${n}x${k})`);
    }
  }
});
