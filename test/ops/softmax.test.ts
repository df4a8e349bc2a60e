import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, skipNative } from "./util.js";

/** Naive softmax / log-softmax over the last axis of a [rows, cols] array, in float64. */
function naiveLogSoftmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]!);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j]! - m - Math.log(s);
  }
  return out;
}
const naiveSoftmax = (x: ArrayLike<number>, rows: number, cols: number): Float64Array => naiveLogSoftmax(x, rows, cols).map(Math.exp);

/** Naive (optionally label-smoothed) cross-entropy per row; 0 for ignored rows. */
function naiveCE(x: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number, ignore: number, eps = 0): Float64Array {
  const ls = naiveLogSoftmax(x, rows, cols);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    if (t[r] === ignore) continue;
    let l = -(1 - eps) * ls[r * cols + t[r]!]!;
    for (let j = 0; j < cols; j++) l -= (eps / cols) * ls[r * cols + j]!;
    out[r] = l;
  }
  return out;
}

function targetsFor(rows: number, cols: number, seed: number): Int32Array {
  const t = new Int32Array(rows);
  let s = seed;
  for (let r = 0; r < rows; r++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t[r] = s % cols;
  }
  return t;
}

test("softmax / logSoftmax over the last axis match a naive reference (odd shapes, f32 and f64)", () => {
  for (const [rows, cols] of [[1, 1], [7, 63], [3, 65], [2, 130], [5, 1]] as const) {
    const x = randn64([rows, cols], rows * 100 + cols, 3);
    const ref = naiveSoftmax(x.dense(), rows, cols);
    const refLog = naiveLogSoftmax(x.dense(), rows, cols);
    assertClose(ops.softmax(x).dense(), ref, 1e-12, 1e-14, "softmax f64");
    assertClose(ops.logSoftmax(x).dense(), refLog, 1e-12, 1e-12, "logSoftmax f64");
    assertClose(ops.softmax(to32(x)).dense(), ref, 1e-5, 1e-7, "softmax f32");
    assertClose(ops.logSoftmax(to32(x)).dense(), refLog, 1e-5, 1e-5, "logSoftmax f32");
  }
});

test("softmax along a non-last axis equals moving the axis last (and is contiguous)", () => {
  const x = randn64([3, 5, 4], 11);
  for (const axis of [0, 1, -2]) {
    const a = axis < 0 ? axis + 3 : axis;
    const perm = [0, 1, 2].filter((i) => i !== a).concat([a]);
    const inv: number[] = [];
    perm.forEach((p, i) => (inv[p] = i));
    const moved = ops.contiguous(ops.permute(x, perm));
    const cols = x.shape[a]!;
    const ref = new Tensor(naiveSoftmax(moved.dense(), moved.size / cols, cols), moved.shape);
    const expect = ops.contiguous(ops.permute(ref, inv)).dense();
    const y = ops.softmax(x, axis);
    assert.ok(y.isContiguous(), "softmax output is contiguous");
    assert.deepEqual(y.shape, x.shape);
    assertClose(y.dense(), expect, 1e-12, 1e-14, `softmax axis ${axis}`);
    assertClose(ops.logSoftmax(x, axis).dense(), expect.map(Math.log), 1e-12, 1e-12, `logSoftmax axis ${axis}`);
  }
});

test("softmax / logSoftmax gradients (gradcheck, several axes)", () => {
  gradcheck((x) => ops.softmax(x!), [randn64([4, 7], 1)]);
  gradcheck((x) => ops.logSoftmax(x!), [randn64([4, 7], 2)]);
  gradcheck((x) => ops.softmax(x!, 0), [randn64([5, 3, 2], 3)]);
  gradcheck((x) => ops.logSoftmax(x!, 1), [randn64([2, 6, 3], 4)]);
  gradcheck((x) => ops.softmax(x!), [randn64([3, 130], 5)], { maxProbe: 60 });
});

test("softmax is stable for logits of ±1e4 and -Infinity entries", () => {
  const x = new Tensor(Float32Array.from([1e4, -1e4, 0, 1e4 - 1, -Infinity, 1e4, 1e4, -1e4]), [2, 4]);
  const y = ops.softmax(x).toArray();
  for (const v of y) assert.ok(Number.isFinite(v), `softmax gave ${v}`);
  assertClose(y, [1 / (1 + Math.exp(-1)), 0, 0, Math.exp(-1) / (1 + Math.exp(-1)), 0, 0.5, 0.5, 0], 1e-6, 1e-7, "softmax ±1e4");
  const ly = ops.logSoftmax(x).toArray();
  assert.equal(ly[4], -Infinity);
  assertClose([ly[0]!, ly[1]!, ly[5]!], [-Math.log1p(Math.exp(-1)), -2e4 - Math.log1p(Math.exp(-1)), -Math.LN2], 1e-6, 1e-3, "logSoftmax ±1e4");
});

test("crossEntropy forward matches naive: reductions, ignoreIndex, label smoothing, [..., V] logits", () => {
  for (const [rows, cols] of [[1, 2], [7, 63], [13, 65], [4, 130]] as const) {
    const x = randn64([rows, cols], rows + cols, 2);
    const t = targetsFor(rows, cols, rows);
    t[0] = -100;
    const ref = naiveCE(x.dense(), t, rows, cols, -100);
    const kept = rows - 1;
    const sumRef = ref.reduce((a, b) => a + b, 0);
    assertClose(ops.crossEntropy(x, t, { reduction: "none" }).dense(), ref, 1e-12, 1e-12, "CE none");
    assertClose([ops.crossEntropy(x, t, { reduction: "sum" }).item()], [sumRef], 1e-12, 1e-12, "CE sum");
    assertClose([ops.crossEntropy(x, t).item()], [kept > 0 ? sumRef / kept : 0], 1e-12, 1e-12, "CE mean");
    assertClose([ops.crossEntropy(to32(x), t).item()], [kept > 0 ? sumRef / kept : 0], 1e-5, 1e-6, "CE mean f32");
    const refS = naiveCE(x.dense(), t, rows, cols, -100, 0.1);
    assertClose(ops.crossEntropy(x, t, { reduction: "none", labelSmoothing: 0.1 }).dense(), refS, 1e-12, 1e-12, "CE smoothed");
  }
  // [B, T, V] logits with targets over B·T, custom ignore index
  const x = randn64([2, 3, 5], 9);
  const t = Int32Array.from([0, 4, 7, 2, 7, 1]);
  const out = ops.crossEntropy(x, t, { ignoreIndex: 7, reduction: "none" });
  assert.deepEqual(out.shape, [2, 3]);
  assertClose(out.dense(), naiveCE(x.dense(), t, 6, 5, 7), 1e-12, 1e-12, "CE rank 3");
  assert.deepEqual(ops.crossEntropy(x, t, { ignoreIndex: 7 }).shape, []);
});

test("crossEntropy gradients (gradcheck) with ignored rows, each reduction and label smoothing", () => {
  const x = randn64([6, 9], 21);
  const t = Int32Array.from([3, -100, 0, 8, 8, -100]);
  for (const reduction of ["mean", "sum", "none"] as const) gradcheck((l) => ops.crossEntropy(l!, t, { reduction }), [x]);
  gradcheck((l) => ops.crossEntropy(l!, t, { labelSmoothing: 0.2 }), [x]);
  gradcheck((l) => ops.crossEntropy(l!, targetsFor(5, 130, 2)), [randn64([5, 130], 22)], { maxProbe: 80 });
  // ignored rows get exactly zero gradient
  const xl = x.detach().requiresGrad_();
  backward([ops.crossEntropy(xl, t)]);
  const g = xl.grad!.dense();
  for (let j = 0; j < 9; j++) assert.equal(g[9 + j], 0);
});

test("crossEntropy edge values: ±1e4 logits stay finite; all rows ignored gives mean 0 and zero grads", () => {
  const x = new Tensor(Float32Array.from([1e4, -1e4, 0, -1e4, 1e4, 1e4]), [2, 3]).requiresGrad_();
  const loss = ops.crossEntropy(x, Int32Array.from([1, 0]), { reduction: "none" });
  assertClose(loss.toArray(), [2e4, 2e4 + Math.LN2], 1e-6, 1e-2, "CE ±1e4");
  const mean = ops.crossEntropy(x, Int32Array.from([0, 2]));
  assertClose([mean.item()], [Math.LN2 / 2], 1e-5, 1e-6, "CE ±1e4 mean");
  backward([mean]);
  for (const v of x.grad!.toArray()) assert.ok(Number.isFinite(v), `CE grad ${v}`);
  // every row ignored → mean over zero rows is defined as 0, gradient 0 (not NaN)
  const y = randn64([3, 4], 5).requiresGrad_();
  const l0 = ops.crossEntropy(y, Int32Array.from([-100, -100, -100]));
  assert.equal(l0.item(), 0);
  backward([l0]);
  assert.deepEqual(y.grad!.toArray(), new Array(12).fill(0));
});

test("crossEntropy validates targets: the error names the op, the bad target and its position", () => {
  const x = randn64([4, 10], 1);
  assert.throws(() => ops.crossEntropy(x, Int32Array.from([1, 2, 10, 3])), (e: Error) => e instanceof OpError && /crossEntropy/.test(e.message) && /target 10 at position 2/.test(e.message) && /\[4, 10\]/.test(e.message));
  assert.throws(() => ops.crossEntropy(x, [1, -1, 2, 3]), /crossEntropy: target -1 at position 1/);
  assert.throws(() => ops.crossEntropy(x, [1, 1.5, 2, 3]), /crossEntropy: target 1.5 at position 1/);
  assert.throws(() => ops.crossEntropy(x, Int32Array.from([1, 2])), /crossEntropy: 2 targets for logits \[4, 10\]/);
  assert.throws(() => ops.crossEntropy(x, Int32Array.from([1, 2, 3, 4]), { labelSmoothing: 1 }), /crossEntropy: labelSmoothing/);
  assert.throws(() => ops.softmax(x, 2), /softmax: axis 2 out of range/);
});

test("native ≡ reference: softmax, logSoftmax, crossEntropy", { skip: skipNative }, () => {
  const x = randn64([13, 130], 3, 3);
  nativeMatchesReference((t) => ops.softmax(t!), [x]);
  nativeMatchesReference((t) => ops.logSoftmax(t!), [x]);
  const tg = targetsFor(13, 130, 5);
  tg[3] = -100;
  nativeMatchesReference((t) => ops.crossEntropy(t!, tg), [x]);
  nativeMatchesReference((t) => ops.crossEntropy(t!, tg, { reduction: "none" }), [x]);
});
