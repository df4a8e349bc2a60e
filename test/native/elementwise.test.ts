/**
 * Native elementwise kernels ≡ reference on odd sizes (1, 7, 63, 65, 130, 257) with edge values
 * (large ±, ±0, tiny, ±inf, NaN): unary and unaryBackward (vectorised exp/log/tanh/erf
 * approximations within ~1e-6), broadcasting binary ops (same shape, scalar operand, row and
 * column broadcast, general), affine, axpy, where, fill, copyStrided.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import type { BinaryOp, UnaryOp } from "../../src/backend/kernels.js";
import { contiguousStrides, broadcastStrides, broadcastShapes } from "../../src/tensor/shape.js";
import { blasInfo } from "../../src/backend/index.js";
import { N, R, ODD, EDGES, addon, rand, sameBits, skip, withEdges } from "./helpers.js";

const UNARY: UnaryOp[] = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "recip", "tanh", "sigmoid", "relu", "silu", "gelu", "gelu_tanh", "softplus", "sin", "cos"];
const BINARY: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min", "gt", "lt", "ge", "le", "eq"];
const EXACT = new Set<UnaryOp>(["neg", "abs", "sqrt", "square", "recip", "relu", "sin", "cos"]);

test("unary ≡ reference on odd sizes and edge values", { skip }, () => {
  for (const op of UNARY) {
    for (const n of ODD) {
      const domain = op === "log" || op === "sqrt" || op === "rsqrt" ? rand(n, n, 0, 50) : rand(n, n, -12, 12);
      const x = withEdges(domain, n >= EDGES.length ? EDGES : EDGES.slice(0, n));
      const got = new Float32Array(n), want = new Float32Array(n);
      N.unary(op, x, got, n);
      R.unary(op, x, want, n);
      if (EXACT.has(op)) sameBits(got, want, `${op}[${n}]`);
      // the reference's 1 + erf(x/√2) and 1 + tanh(u) cancel for x ≲ −5 (values below ~1e-14 carry its rounding)
      else assertClose(got, want, 1e-6, op === "gelu" || op === "gelu_tanh" ? 1e-14 : 1e-20, `${op}[${n}]`);
    }
  }
});

test("unaryBackward ≡ reference", { skip }, () => {
  for (const op of UNARY) {
    for (const n of ODD) {
      const x = op === "log" || op === "sqrt" || op === "rsqrt" || op === "recip" ? rand(n, n + 1, 0.05, 20) : rand(n, n + 1, -9, 9);
      const y = new Float32Array(n);
      R.unary(op, x, y, n);
      const gy = rand(n, n + 2);
      const got = new Float32Array(n), want = new Float32Array(n);
      N.unaryBackward(op, x, y, gy, got, n);
      R.unaryBackward(op, x, y, gy, want, n);
      assertClose(got, want, 1e-6, 1e-6, `${op}' [${n}]`);
    }
  }
});

/** Runs binary through both tables for shapes a, b (NumPy broadcasting). */
function binaryCase(op: BinaryOp, sa: number[], sb: number[], seed: number, edges = false): void {
  const shape = broadcastShapes(op, sa, sb);
  const na = sa.reduce((p, d) => p * d, 1), nb = sb.reduce((p, d) => p * d, 1), n = shape.reduce((p, d) => p * d, 1);
  let a = rand(na, seed, -3, 3), b = rand(nb, seed + 1, -3, 3);
  if (op === "pow") a = rand(na, seed, 0.1, 3);
  if (edges) {
    a = withEdges(a, [NaN, 0, -Infinity, 5, 1e30]);
    b = withEdges(b, [1, NaN, -Infinity, 5, -0]);
  }
  const st1 = broadcastStrides(sa, contiguousStrides(sa), shape), st2 = broadcastStrides(sb, contiguousStrides(sb), shape);
  const got = new Float32Array(n), want = new Float32Array(n);
  N.binary(op, a, st1, b, st2, got, shape);
  R.binary(op, a, st1, b, st2, want, shape);
  const what = `${op} [${sa}] ⊙ [${sb}]`;
  if (op === "pow") assertClose(got, want, 1e-6, 0, what);
  else sameBits(got, want, what);
}

test("binary ≡ reference: same shape, scalar, row/column broadcast, general broadcast", { skip }, () => {
  let seed = 1;
  for (const op of BINARY) {
    for (const n of ODD) {
      binaryCase(op, [n], [n], seed++, n >= 7);
      binaryCase(op, [3, n], [], seed++);
      binaryCase(op, [], [n, 2], seed++);
      binaryCase(op, [5, n], [n], seed++);
      binaryCase(op, [n], [4, n], seed++);
      binaryCase(op, [n, 3], [n, 1], seed++);
      binaryCase(op, [2, 1, n], [3, 1], seed++);
      binaryCase(op, [2, 3, 1, n], [1, 3, 4, 1], seed++);
    }
  }
  binaryCase("add", [1], [1], 99);
  binaryCase("mul", [], [], 98);
});

test("binary: max/min propagate NaN; comparisons write 1/0", { skip }, () => {
  const a = Float32Array.from([NaN, 1, 2, -0, Infinity]);
  const b = Float32Array.from([1, NaN, 2, 0, -Infinity]);
  const out = new Float32Array(5);
  N.binary("max", a, [1], b, [1], out, [5]);
  assert.deepEqual(Array.from(out), [NaN, NaN, 2, -0, Infinity]);
  N.binary("min", a, [1], b, [1], out, [5]);
  assert.deepEqual(Array.from(out), [NaN, NaN, 2, -0, -Infinity]);
  N.binary("ge", a, [1], b, [1], out, [5]);
  assert.deepEqual(Array.from(out), [0, 0, 1, 1, 1]);
});

test("affine, axpy, where, fill ≡ reference", { skip }, () => {
  for (const n of ODD) {
    const x = withEdges(rand(n, n), n >= 5 ? [NaN, Infinity, -0, 1e30, -1e30] : []);
    const y = rand(n, n + 1);
    const g1 = new Float32Array(n), w1 = new Float32Array(n);
    N.affine(x, g1, n, 1.5, -0.25);
    R.affine(x, w1, n, 1.5, -0.25);
    assertClose(g1, w1, 2e-7, 0, `affine[${n}]`); // fused multiply-add: at most one ulp from double-then-round
    const g2 = y.slice(), w2 = y.slice();
    N.axpy(n, -0.75, x, g2);
    R.axpy(n, -0.75, x, w2);
    assertClose(g2, w2, 2e-7, 0, `axpy[${n}]`);
    const c = rand(n, n + 2).map((v) => (v > 0 ? 1 : v < -0.5 ? NaN : 0));
    const g3 = new Float32Array(n), w3 = new Float32Array(n);
    N.where(c, x, y, g3, n);
    R.where(c, x, y, w3, n);
    sameBits(g3, w3, `where[${n}]`);
    const g4 = rand(n + 3, 1), w4 = g4.slice();
    N.fill(g4, n, -2.5);
    R.fill(w4, n, -2.5);
    sameBits(g4, w4, `fill[${n}]`);
  }
});

test("copyStrided ≡ reference: transposes, slices with offsets, broadcasts, scalars", { skip }, () => {
  const src = rand(4000, 3);
  const cases: [number, number[], number[]][] = [
    [0, [], []],
    [17, [1], [1]],
    [5, [7, 63], [1, 7]], // transposed
    [3, [2, 65, 7], [500, 7, 1]], // slice
    [11, [3, 4, 5], [0, 5, 1]], // broadcast dim
    [2, [130, 3], [3, 1]],
    [9, [5, 6, 7], [1, 5, 30]], // reversed order
    [0, [257], [2]],
    [4, [2, 3, 1, 4], [100, 20, 999, 3]],
    [0, [0, 5], [5, 1]],
  ];
  for (const [off, shape, strides] of cases) {
    const n = shape.reduce((p, d) => p * d, 1);
    const got = new Float32Array(n), want = new Float32Array(n);
    N.copyStrided(src, off, shape, strides, got);
    R.copyStrided(src, off, shape, strides, want);
    sameBits(got, want, `copyStrided off=${off} shape=[${shape}] strides=[${strides}]`);
  }
  assert.throws(() => N.copyStrided(src, 3990, [20], [1], new Float32Array(20)), /needs|array/);
});

test("AVX2 kernel table (used on CPUs without AVX-512) ≡ reference", { skip }, () => {
  const { avx512 } = blasInfo();
  assert.ok(addon.setIsa("avx2"));
  try {
    for (const n of [7, 65, 257]) {
      for (const op of UNARY) {
        const x = op === "log" || op === "sqrt" || op === "rsqrt" ? rand(n, n, 0.01, 50) : withEdges(rand(n, n, -12, 12), [NaN, Infinity, -Infinity, 0]);
        const got = new Float32Array(n), want = new Float32Array(n);
        N.unary(op, x, got, n);
        R.unary(op, x, want, n);
        assertClose(got, want, 1e-6, op === "gelu" || op === "gelu_tanh" ? 1e-14 : 1e-20, `avx2 ${op}[${n}]`);
        const gy = rand(n, 2), g1 = new Float32Array(n), g2 = new Float32Array(n);
        N.unaryBackward(op, x, want, gy, g1, n);
        R.unaryBackward(op, x, want, gy, g2, n);
        assertClose(g1, g2, 1e-5, 1e-6, `avx2 ${op}'[${n}]`);
      }
      const rows = 3, x = rand(rows * n, n, -5, 5), s1 = new Float32Array(rows * n), s2 = new Float32Array(rows * n);
      N.softmax(x, s1, rows, n);
      R.softmax(x, s2, rows, n);
      assertClose(s1, s2, 1e-6, 1e-7, `avx2 softmax ${rows}x${n}`);
      const r1 = new Float32Array(rows), r2 = new Float32Array(rows);
      N.rmsNorm(x, null, s1, r1, rows, n, 1e-6, 0);
      R.rmsNorm(x, null, s2, r2, rows, n, 1e-6, 0);
      assertClose(s1, s2, 1e-6, 1e-6, `avx2 rmsNorm ${rows}x${n}`);
      const u1 = new Float32Array(n), u2 = new Float32Array(n);
      N.uniform(u1, n, 5, 6, 2 ** 32 - 3);
      R.uniform(u2, n, 5, 6, 2 ** 32 - 3);
      sameBits(u1, u2, `avx2 uniform[${n}]`);
    }
  } finally {
    addon.setIsa(avx512 ? "avx512" : "avx2");
  }
});
