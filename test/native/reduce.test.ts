/**
 * Native reductions and the softmax family ≡ reference: reduce (sum/max/min/logsumexp over the
 * middle axis, rows long enough for the chunked path), argmax, sumSquares, softmax/logSoftmax
 * and backwards, fused cross-entropy (ignore index, −inf logits, NaN rows).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import type { ReduceOp } from "../../src/backend/kernels.js";
import { N, R, ODD, rand, sameBits, skip, withEdges } from "./helpers.js";

test("reduce ≡ reference over [outer, len, inner] layouts", { skip }, () => {
  const layouts: [number, number, number][] = [[1, 1, 1], [7, 63, 1], [3, 65, 1], [2, 130, 7], [5, 257, 3], [1, 7, 65], [4, 1, 130], [1, 200000, 1], [2, 3, 600]];
  for (const op of ["sum", "max", "min", "logsumexp"] as ReduceOp[]) {
    for (const [outer, len, inner] of layouts) {
      const x = rand(outer * len * inner, outer + len + inner, -5, 5);
      const got = new Float32Array(outer * inner), want = new Float32Array(outer * inner);
      N.reduce(op, x, got, outer, len, inner);
      R.reduce(op, x, want, outer, len, inner);
      const tol = op === "sum" ? 1e-6 : 1e-6;
      if (op === "max" || op === "min") sameBits(got, want, `${op} ${outer}x${len}x${inner}`);
      else assertClose(got, want, tol, 1e-5, `${op} ${outer}x${len}x${inner}`);
    }
  }
});

test("reduce: NaN and infinities behave as the reference", { skip }, () => {
  const rows = [
    [1, NaN, 3], [-Infinity, -Infinity, -Infinity], [Infinity, 1, 2], [NaN, NaN, NaN], [-Infinity, 0, -Infinity],
  ];
  const x = Float32Array.from(rows.flat());
  for (const op of ["sum", "max", "min", "logsumexp"] as ReduceOp[]) {
    for (const [outer, len, inner] of [[5, 3, 1], [1, 5, 3]] as const) {
      const got = new Float32Array(outer * inner), want = new Float32Array(outer * inner);
      N.reduce(op, x, got, outer, len, inner);
      R.reduce(op, x, want, outer, len, inner);
      assertClose(got, want, 1e-6, 1e-6, `${op} edge ${outer}x${len}x${inner}`);
    }
  }
});

test("argmax ≡ reference (first on ties, NaN never wins)", { skip }, () => {
  for (const [outer, len, inner] of [[7, 63, 1], [3, 65, 1], [2, 130, 7], [1, 257, 1], [4, 5000, 1], [3, 7, 5]] as const) {
    const x = rand(outer * len * inner, len, -3, 3);
    for (let i = 0; i < x.length; i += 17) x[i] = 2.5; // ties
    for (let i = 5; i < x.length; i += 23) x[i] = NaN;
    const got = new Int32Array(outer * inner), want = new Int32Array(outer * inner);
    N.argmax(x, got, outer, len, inner);
    R.argmax(x, want, outer, len, inner);
    assert.deepEqual(Array.from(got), Array.from(want), `argmax ${outer}x${len}x${inner}`);
  }
  const allNeg = Float32Array.from([-Infinity, NaN, -Infinity]);
  const o = new Int32Array(1);
  N.argmax(allNeg, o, 1, 3, 1);
  assert.equal(o[0], 0);
});

test("sumSquares ≡ reference (double accumulation)", { skip }, () => {
  for (const n of [...ODD, 200001]) {
    const x = rand(n, n, -2, 2);
    const got = N.sumSquares(x, n), want = R.sumSquares(x, n);
    assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, want), `sumSquares[${n}]: ${got} vs ${want}`);
  }
});

const SHAPES: [number, number][] = [[1, 1], [7, 63], [3, 65], [5, 130], [2, 257], [2, 5000]];

test("softmax / logSoftmax and their backwards ≡ reference", { skip }, () => {
  for (const [rows, cols] of SHAPES) {
    let x = rand(rows * cols, rows + cols, -20, 20);
    if (cols > 10) x = withEdges(x, [-Infinity, 80, -80, -Infinity]);
    const n = rows * cols;
    for (const [name, fwd, bwd] of [
      ["softmax", "softmax", "softmaxBackward"],
      ["logSoftmax", "logSoftmax", "logSoftmaxBackward"],
    ] as const) {
      const got = new Float32Array(n), want = new Float32Array(n);
      N[fwd](x, got, rows, cols);
      R[fwd](x, want, rows, cols);
      assertClose(got, want, 1e-6, 1e-7, `${name} ${rows}x${cols}`);
      const gy = rand(n, 3);
      const g1 = new Float32Array(n), g2 = new Float32Array(n);
      N[bwd](want, gy, g1, rows, cols);
      R[bwd](want, gy, g2, rows, cols);
      assertClose(g1, g2, 1e-5, 1e-6, `${name}' ${rows}x${cols}`);
    }
  }
  // a row that is all −inf gives NaN, as in the reference
  const x = Float32Array.from([-Infinity, -Infinity, 1, 2]);
  const got = new Float32Array(4), want = new Float32Array(4);
  N.softmax(x, got, 2, 2);
  R.softmax(x, want, 2, 2);
  assertClose(got, want, 1e-6, 1e-7, "softmax −inf row");
});

test("crossEntropy forward/backward ≡ reference (ignore index, −inf logits)", { skip }, () => {
  for (const [rows, cols] of SHAPES) {
    const x = withEdges(rand(rows * cols, cols, -10, 10), cols > 10 ? [-Infinity, 50] : []);
    const t = Int32Array.from({ length: rows }, (_, r) => (r % 3 === 2 ? -100 : (r * 7 + 3) % cols));
    if (cols > 10) t[0] = 1; // a real target next to a −inf logit
    const l1 = new Float32Array(rows), l2 = new Float32Array(rows), s1 = new Float32Array(rows), s2 = new Float32Array(rows);
    const c1 = N.crossEntropy(x, t, l1, s1, rows, cols, -100);
    const c2 = R.crossEntropy(x, t, l2, s2, rows, cols, -100);
    assert.equal(c1, c2);
    assertClose(l1, l2, 1e-6, 1e-5, `CE loss ${rows}x${cols}`);
    assertClose(s1, s2, 1e-6, 1e-6, `CE lse ${rows}x${cols}`);
    const gl = rand(rows, 5);
    const g1 = new Float32Array(rows * cols), g2 = new Float32Array(rows * cols);
    N.crossEntropyBackward(x, t, s2, gl, g1, rows, cols, -100);
    R.crossEntropyBackward(x, t, s2, gl, g2, rows, cols, -100);
    assertClose(g1, g2, 1e-6, 1e-7, `CE grad ${rows}x${cols}`);
  }
  assert.throws(() => N.crossEntropy(new Float32Array(4), Int32Array.from([5]), new Float32Array(1), new Float32Array(1), 1, 4, -100), /range/);
});
