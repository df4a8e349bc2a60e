import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { tensor, zeros } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, skipNative } from "./util.js";

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const siluN = (x: number): number => x * sig(x);

/** Naive RMSNorm over rows of length cols, gain (offset + w). */
function naiveRms(x: ArrayLike<number>, w: ArrayLike<number> | null, cols: number, eps: number, offset = 0): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[r * cols + j]! ** 2;
    const rs = 1 / Math.sqrt(ss / cols + eps);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j]! * rs * (w ? offset + w[j]! : 1);
  }
  return out;
}

function naiveLn(x: ArrayLike<number>, w: ArrayLike<number> | null, b: ArrayLike<number> | null, cols: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let mu = 0;
    for (let j = 0; j < cols; j++) mu += x[r * cols + j]! / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[r * cols + j]! - mu) ** 2 / cols;
    for (let j = 0; j < cols; j++) out[r * cols + j] = ((x[r * cols + j]! - mu) / Math.sqrt(v + eps)) * (w ? w[j]! : 1) + (b ? b[j]! : 0);
  }
  return out;
}

test("rmsNorm: components.md §1.2 test vector, naive reference on odd shapes, (1+w) form", () => {
  assertClose(ops.rmsNorm(tensor([1, 2, 3, 4]), null).toArray(), [0.365148, 0.730297, 1.095445, 1.460593], 1e-6, 1e-6, "rms test vector");
  for (const [rows, cols] of [[1, 1], [7, 63], [3, 65], [2, 130]] as const) {
    const x = randn64([rows, cols], cols, 2);
    const w = randn64([cols], cols + 1);
    assertClose(ops.rmsNorm(x, w).dense(), naiveRms(x.dense(), w.dense(), cols, 1e-6), 1e-12, 1e-12, "rms f64");
    assertClose(ops.rmsNorm(to32(x), to32(w), 1e-5).dense(), naiveRms(x.dense(), w.dense(), cols, 1e-5), 1e-5, 1e-6, "rms f32");
    assertClose(ops.rmsNorm(x, w, 1e-6, { offset: 1 }).dense(), naiveRms(x.dense(), w.dense(), cols, 1e-6, 1), 1e-12, 1e-12, "rms (1+w)");
  }
  // (1+w) with w = 0 equals plain with w = 1
  const x = randn64([3, 8], 4);
  assertClose(ops.rmsNorm(x, zeros([8], { dtype: "float64" }), 1e-6, { offset: 1 }).dense(), ops.rmsNorm(x, null).dense(), 1e-14, 1e-15, "(1+0) ≡ 1");
});

test("rmsNorm gradients (x and w, with and without weight, (1+w) form, rank 3)", () => {
  gradcheck((x, w) => ops.rmsNorm(x!, w!), [randn64([5, 7], 1), randn64([7], 2)]);
  gradcheck((x, w) => ops.rmsNorm(x!, w!, 1e-6, { offset: 1 }), [randn64([2, 3, 7], 3), randn64([7], 4, 0.1)]);
  gradcheck((x) => ops.rmsNorm(x!, null), [randn64([4, 65], 5)], { maxProbe: 80 });
  gradcheck((x, w) => ops.rmsNorm(x!, w!), [randn64([3, 1], 6), randn64([1], 7)]);
});

test("layerNorm: components.md §1.1 test vector, naive reference, gradients", () => {
  assertClose(ops.layerNorm(tensor([1, 2, 3, 4]), null, null).toArray(), [-1.341635, -0.447212, 0.447212, 1.341635], 1e-6, 1e-6, "LN test vector");
  for (const [rows, cols] of [[1, 2], [7, 63], [3, 65], [2, 130]] as const) {
    const x = randn64([rows, cols], cols, 2);
    const w = randn64([cols], cols + 1);
    const b = randn64([cols], cols + 2);
    assertClose(ops.layerNorm(x, w, b).dense(), naiveLn(x.dense(), w.dense(), b.dense(), cols, 1e-5), 1e-12, 1e-12, "LN f64");
    assertClose(ops.layerNorm(to32(x), to32(w), null, 1e-6).dense(), naiveLn(x.dense(), w.dense(), null, cols, 1e-6), 1e-5, 1e-5, "LN f32");
  }
  gradcheck((x, w, b) => ops.layerNorm(x!, w!, b!), [randn64([5, 7], 1), randn64([7], 2), randn64([7], 3)]);
  gradcheck((x) => ops.layerNorm(x!, null, null), [randn64([2, 3, 6], 4)]);
  gradcheck((x, b) => ops.layerNorm(x!, null, b!), [randn64([4, 9], 5), randn64([9], 6)]);
  gradcheck((x, w) => ops.layerNorm(x!, w!, null), [randn64([3, 130], 7), randn64([130], 8)], { maxProbe: 60 });
});

test("l2Normalize: eps added to the sum inside rsqrt (components.md §1.5), any axis, gradients", () => {
  const x = randn64([3, 5, 4], 1);
  const d = x.dense();
  const ref = new Float64Array(d.length);
  for (let r = 0; r < 15; r++) {
    let ss = 0;
    for (let j = 0; j < 4; j++) ss += d[r * 4 + j]! ** 2;
    for (let j = 0; j < 4; j++) ref[r * 4 + j] = d[r * 4 + j]! / Math.sqrt(ss + 1e-6);
  }
  assertClose(ops.l2Normalize(x).dense(), ref, 1e-12, 1e-14, "l2 last axis");
  // eps matters for tiny vectors: [3e-4, 4e-4] has Σx² = 2.5e-7, so the result is 5e-4/sqrt(1.25e-6)
  assertClose(ops.l2Normalize(tensor([3e-4, 4e-4], [1, 2], { dtype: "float64" })).toArray(), [3e-4 / Math.sqrt(1.25e-6), 4e-4 / Math.sqrt(1.25e-6)], 1e-12, 1e-14, "l2 eps");
  const n1 = ops.l2Normalize(x, 1);
  const s = ops.sum(ops.square(n1), 1).dense();
  for (const v of s) assert.ok(Math.abs(v - 1) < 1e-5, `unit norm along axis 1: ${v}`);
  gradcheck((t) => ops.l2Normalize(t!), [randn64([4, 7], 2)]);
  gradcheck((t) => ops.l2Normalize(t!, 0), [randn64([5, 3], 3)]);
});

test("rmsNormGated: norm-then-gate (Qwen3-Next) with silu/sigmoid, gate-then-norm (Mamba-2) with groups", () => {
  const cols = 10;
  const x = randn64([2, 3, cols], 1);
  const z = randn64([2, 3, cols], 2, 2);
  const w = randn64([cols], 3);
  const n = naiveRms(x.dense(), w.dense(), cols, 1e-6);
  const zd = z.dense();
  assertClose(ops.rmsNormGated(x, z, w).dense(), n.map((v, i) => v * siluN(zd[i]!)), 1e-12, 1e-12, "norm·silu(z)");
  assertClose(ops.rmsNormGated(x, z, w, 1e-5, { activation: "sigmoid" }).dense(),
    naiveRms(x.dense(), w.dense(), cols, 1e-5).map((v, i) => v * sig(zd[i]!)), 1e-12, 1e-12, "norm·σ(z)");
  assertClose(ops.rmsNormGated(x, z, w, 1e-6, { offset: 1 }).dense(),
    naiveRms(x.dense(), w.dense(), cols, 1e-6, 1).map((v, i) => v * siluN(zd[i]!)), 1e-12, 1e-12, "(1+w) gated");
  // gate first, then norm per group of cols/groups, then the weight
  const xd = x.dense();
  const gated = xd.map((v, i) => v * siluN(zd[i]!));
  const wd = w.dense();
  assertClose(ops.rmsNormGated(x, z, w, 1e-6, { order: "gate_norm" }).dense(), naiveRms(gated, wd, cols, 1e-6), 1e-12, 1e-12, "gate_norm");
  const grouped = naiveRms(gated, null, cols / 2, 1e-6).map((v, i) => v * wd[i % cols]!);
  assertClose(ops.rmsNormGated(x, z, w, 1e-6, { order: "gate_norm", groups: 2 }).dense(), grouped, 1e-12, 1e-12, "gate_norm groups");
  // the orders differ (components.md §1.4: not interchangeable)
  const a = ops.rmsNormGated(x, z, w).dense();
  const b = ops.rmsNormGated(x, z, w, 1e-6, { order: "gate_norm" }).dense();
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-3), "norm_gate and gate_norm must differ");
  gradcheck((x1, z1, w1) => ops.rmsNormGated(x1!, z1!, w1!), [x, z, w]);
  gradcheck((x1, z1, w1) => ops.rmsNormGated(x1!, z1!, w1!, 1e-5, { activation: "sigmoid", offset: 1 }), [x, z, w]);
  gradcheck((x1, z1) => ops.rmsNormGated(x1!, z1!, null), [x, z]);
  gradcheck((x1, z1, w1) => ops.rmsNormGated(x1!, z1!, w1!, 1e-6, { order: "gate_norm", groups: 5 }), [x, z, w]);
});

test("norm ops name themselves and the shapes in errors", () => {
  const x = randn64([3, 4], 1);
  assert.throws(() => ops.rmsNorm(x, randn64([5], 2)), (e: Error) => e instanceof OpError && /rmsNorm: weight \[5\]/.test(e.message) && /\[3, 4\]/.test(e.message));
  assert.throws(() => ops.layerNorm(x, null, randn64([3], 2)), /layerNorm: bias \[3\] does not match .* \[3, 4\]/);
  assert.throws(() => ops.rmsNorm(x, new Tensor(new Float32Array(4), [4])), /rmsNorm: dtype mismatch/);
  assert.throws(() => ops.rmsNormGated(x, randn64([3, 5], 2), null), /rmsNormGated: gate z \[3, 5\]/);
  assert.throws(() => ops.rmsNormGated(x, x, null, 1e-6, { order: "gate_norm", groups: 3 }), /rmsNormGated: groups 3/);
  assert.throws(() => ops.rmsNorm(x, null, -1), /rmsNorm: eps/);
});

test("native ≡ reference: rmsNorm, layerNorm, rmsNormGated", { skip: skipNative }, () => {
  const x = randn64([13, 130], 3, 3);
  const w = randn64([130], 4);
  const b = randn64([130], 5);
  nativeMatchesReference((t, u) => ops.rmsNorm(t!, u!), [x, w]);
  nativeMatchesReference((t, u) => ops.rmsNorm(t!, u!, 1e-6, { offset: 1 }), [x, w]);
  nativeMatchesReference((t, u, c) => ops.layerNorm(t!, u!, c!), [x, w, b]);
  nativeMatchesReference((t, u, c) => ops.rmsNormGated(t!, c!, u!), [x, w, randn64([13, 130], 6)]);
});
