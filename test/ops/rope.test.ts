import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, skipNative } from "./util.js";

/** Naive RoPE straight from components.md §4.1, angles from the formula (no tables). */
function naiveRope(x: ArrayLike<number>, pos: ArrayLike<number>, N: number, H: number, D: number, R: number, theta: number, interleaved: boolean): Float64Array {
  const out = Float64Array.from(x);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < R / 2; i++) {
        const ang = pos[n]! * Math.pow(theta, (-2 * i) / R);
        const o = (n * H + h) * D;
        const a = interleaved ? o + 2 * i : o + i;
        const b = interleaved ? a + 1 : a + R / 2;
        out[a] = x[a]! * Math.cos(ang) - x[b]! * Math.sin(ang);
        out[b] = x[b]! * Math.cos(ang) + x[a]! * Math.sin(ang);
      }
  return out;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

test("ropeTables: θ_i = theta^(−2i/R), cos/sin [P, R/2], float32 or float64", () => {
  const t = ops.ropeTables(17, 8, 10_000, { dtype: "float64" });
  assert.deepEqual(t.cos.shape, [17, 4]);
  assert.equal(t.cos.dtype, "float64");
  for (const [p, i] of [[0, 0], [5, 1], [16, 3]] as const) {
    assertClose([t.cos.at(p, i), t.sin.at(p, i)], [Math.cos(p * 10_000 ** (-i / 4)), Math.sin(p * 10_000 ** (-i / 4))], 1e-14, 1e-15, "table");
  }
  assert.equal(ops.ropeTables(4, 8, 1e4).cos.dtype, "float32");
  assert.throws(() => ops.ropeTables(4, 7, 1e4), /ropeTables: rotaryDim must be a positive even integer, got 7/);
});

test("rope matches the naive formula: rotate-half and interleaved, [B,T,H,D] and [N,H,D], partial rotary", () => {
  for (const interleaved of [false, true])
    for (const [B, T, H, D, R] of [[2, 7, 3, 8, 8], [1, 65, 2, 10, 4], [3, 1, 1, 6, 2], [1, 5, 4, 16, 8]] as const) {
      const tables = ops.ropeTables(200, R, 10_000, { dtype: "float64" });
      const x = randn64([B, T, H, D], B * T + D);
      const posT = Int32Array.from({ length: T }, (_, i) => 3 + i * 2);
      const posBT = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 200);
      const expT = naiveRope(x.dense(), Int32Array.from({ length: B * T }, (_, n) => posT[n % T]!), B * T, H, D, R, 10_000, interleaved);
      assertClose(ops.rope(x, posT, tables, { interleaved }).dense(), expT, 1e-12, 1e-12, `rope T-broadcast ${interleaved}`);
      assertClose(ops.rope(x, posBT, tables, { interleaved }).dense(), naiveRope(x.dense(), posBT, B * T, H, D, R, 10_000, interleaved), 1e-12, 1e-12, "rope B·T");
      const x3 = ops.reshape(x, [B * T, H, D]);
      assertClose(ops.rope(x3, posBT, tables, { interleaved }).dense(), naiveRope(x.dense(), posBT, B * T, H, D, R, 10_000, interleaved), 1e-12, 1e-12, "rope [N,H,D]");
      const t32 = ops.ropeTables(200, R, 10_000);
      assertClose(ops.rope(to32(x), posT, t32, { interleaved }).dense(), expT, 1e-5, 1e-5, "rope f32");
      // partial rotary: the channels past R pass through bit for bit
      const y = ops.rope(x, posT, tables, { interleaved });
      for (let n = 0; n < B * T * H; n++)
        for (let d = R; d < D; d++) assert.equal(y.data[n * D + d], x.data[n * D + d]);
    }
});

test("rope preserves norms, inverse∘forward = identity, and position 0 is the identity", () => {
  const tables = ops.ropeTables(64, 16, 1e4, { dtype: "float64" });
  for (const interleaved of [false, true]) {
    const x = randn64([2, 9, 3, 16], 5).requiresGrad_();
    const pos = Int32Array.from({ length: 9 }, (_, i) => 60 - i * 6);
    const y = ops.rope(x, pos, tables, { interleaved });
    for (let v = 0; v < 2 * 9 * 3; v++) {
      const xs = x.data.subarray(v * 16, v * 16 + 16);
      const ys = y.data.subarray(v * 16, v * 16 + 16);
      assert.ok(Math.abs(dot(xs, xs) - dot(ys, ys)) < 1e-10 * dot(xs, xs), "norm preserved");
    }
    // backward is the inverse rotation: the VJP of rope at y gives x back
    backward([y], [y.detach()]);
    assertClose(x.grad!.dense(), x.dense(), 1e-12, 1e-13, "inverse∘forward");
    const y0 = ops.rope(x.detach(), new Int32Array(9), tables, { interleaved });
    assertClose(y0.dense(), x.dense(), 0, 0, "position 0");
  }
});

test("rope relative-position property: ⟨rope(q, m), rope(k, n)⟩ depends only on m − n", () => {
  const tables = ops.ropeTables(300, 32, 10_000, { dtype: "float64" });
  const q = randn64([1, 1, 32], 1);
  const k = randn64([1, 1, 32], 2);
  for (const interleaved of [false, true])
    for (const [m, n] of [[5, 2], [40, 7], [0, 0], [3, 9]] as const) {
      const base = dot(ops.rope(q, [m], tables, { interleaved }).dense(), ops.rope(k, [n], tables, { interleaved }).dense());
      for (const shift of [1, 17, 250]) {
        const s = dot(ops.rope(q, [m + shift], tables, { interleaved }).dense(), ops.rope(k, [n + shift], tables, { interleaved }).dense());
        assert.ok(Math.abs(s - base) < 1e-10, `m=${m} n=${n} shift=${shift}: ${s} vs ${base}`);
      }
    }
});

test("rope gradients (gradcheck): both pairings, partial rotary, YaRN-scaled tables", () => {
  const tables = ops.ropeTables(40, 6, 100, { dtype: "float64" });
  gradcheck((x) => ops.rope(x!, [1, 7, 39], tables), [randn64([1, 3, 2, 10], 1)]);
  gradcheck((x) => ops.rope(x!, [1, 7, 39, 0, 2, 3], tables, { interleaved: true }), [randn64([2, 3, 2, 6], 2)]);
  const yarn = ops.ropeTables(40, 8, 1e4, { dtype: "float64", scaling: { kind: "yarn", factor: 4, originalContext: 16, betaFast: 32, betaSlow: 1 } });
  assert.ok(yarn.attentionFactor > 1, `attention factor ${yarn.attentionFactor}`);
  gradcheck((x) => ops.rope(x!, [0, 5, 39], yarn), [randn64([3, 2, 8], 3)]);
});

test("YaRN frequencies: components.md §4.2 worked numbers (DeepSeek-V3, gpt-oss)", () => {
  const theta0 = (i: number, d: number, b: number): number => Math.pow(b, (-2 * i) / d);
  // DeepSeek-V3: d_r=64, b=1e4, L0=4096, s=40 → low=10, high=23 (truncated), mscale 1.36889
  const ds = ops.ropeFrequencies(64, 1e4, { kind: "yarn", factor: 40, originalContext: 4096, betaFast: 32, betaSlow: 1 });
  assert.ok(Math.abs(ds.attentionFactor - 1.36889) < 1e-5, `DeepSeek mscale ${ds.attentionFactor}`);
  for (let i = 0; i <= 10; i++) assert.ok(Math.abs(ds.invFreq[i]! / theta0(i, 64, 1e4) - 1) < 1e-12, `dim ${i} kept`);
  for (let i = 23; i < 32; i++) assert.ok(Math.abs(ds.invFreq[i]! / theta0(i, 64, 1e4) - 1 / 40) < 1e-12, `dim ${i} interpolated`);
  const r16 = (16 - 10) / 13; // ramp at i = 16
  assert.ok(Math.abs(ds.invFreq[16]! / theta0(16, 64, 1e4) - (r16 / 40 + (1 - r16))) < 1e-12, "DeepSeek ramp at dim 16");
  // gpt-oss: b=150000, s=32, truncate=false → low=8.0928, high=17.3980, mscale 1.34657
  const go = ops.ropeFrequencies(64, 150_000, { kind: "yarn", factor: 32, originalContext: 4096, betaFast: 32, betaSlow: 1, truncate: false });
  assert.ok(Math.abs(go.attentionFactor - 1.34657) < 1e-5, `gpt-oss mscale ${go.attentionFactor}`);
  const ramp = (i: number): number => Math.min(1, Math.max(0, (i - 8.0928) / (17.398 - 8.0928)));
  for (const i of [8, 9, 12, 17, 18]) {
    const want = ramp(i) / 32 + (1 - ramp(i));
    assert.ok(Math.abs(go.invFreq[i]! / theta0(i, 64, 150_000) - want) < 2e-4, `gpt-oss dim ${i}`);
  }
  // the factor is baked into the tables
  const t = ops.ropeTables(3, 64, 1e4, { scaling: { kind: "yarn", factor: 40, originalContext: 4096, betaFast: 32, betaSlow: 1 }, dtype: "float64" });
  assert.ok(Math.abs(t.cos.at(0, 0) - 1.36889) < 1e-5, `cos[0,0] ${t.cos.at(0, 0)}`);
});

test("linear and llama3 scaling", () => {
  // linear: position s·p under factor s equals position p unscaled
  const lin = ops.ropeTables(100, 8, 1e4, { scaling: { kind: "linear", factor: 4 }, dtype: "float64" });
  const plain = ops.ropeTables(100, 8, 1e4, { dtype: "float64" });
  const x = randn64([1, 2, 8], 1);
  assertClose(ops.rope(x, [48], lin).dense(), ops.rope(x, [12], plain).dense(), 1e-12, 1e-12, "linear");
  // llama3: high-frequency dims unchanged, low-frequency dims divided by the factor, smooth between
  const f = ops.ropeFrequencies(128, 500_000, { kind: "llama3", factor: 8, originalContext: 8192, lowFreqFactor: 1, highFreqFactor: 4 });
  const base = ops.ropeFrequencies(128, 500_000).invFreq;
  assert.equal(f.attentionFactor, 1);
  let sawMid = false;
  for (let i = 0; i < 64; i++) {
    const wave = (2 * Math.PI) / base[i]!;
    const ratio = f.invFreq[i]! / base[i]!;
    if (wave < 8192 / 4) assert.equal(ratio, 1);
    else if (wave > 8192) assert.ok(Math.abs(ratio - 1 / 8) < 1e-12, `low-frequency dim ${i}: ratio ${ratio}`);
    else {
      sawMid = true;
      assert.ok(ratio > 1 / 8 - 1e-12 && ratio < 1 + 1e-12, `mid ratio ${ratio}`);
    }
    if (i > 0) assert.ok(f.invFreq[i]! < f.invFreq[i - 1]!, "frequencies stay decreasing");
  }
  assert.ok(sawMid, "some dims fall in the smoothed band");
});

test("rope validates positions, shapes and dtypes (errors name op, value and index)", () => {
  const tables = ops.ropeTables(10, 4, 1e4);
  const x = new Tensor(new Float32Array(2 * 3 * 2 * 8), [2, 3, 2, 8]);
  assert.throws(() => ops.rope(x, [0, 1, 10], tables), (e: Error) => e instanceof OpError && /rope: position 10 at index 2 is outside the tables \[0, 10\)/.test(e.message) && /\[2, 3, 2, 8\]/.test(e.message));
  assert.throws(() => ops.rope(x, [0, -1, 2], tables), /rope: position -1 at index 1/);
  assert.throws(() => ops.rope(x, [0, 1], tables), /rope: 2 positions for x \[2, 3, 2, 8\] \(need 6 or 3\)/);
  assert.throws(() => ops.rope(x, [0, 1, 2], ops.ropeTables(10, 10, 1e4)), /rope: rotaryDim 10 exceeds/);
  assert.throws(() => ops.rope(x, [0, 1, 2], tables, { rotaryDim: 8 }), /rope: rotaryDim 8 does not match the tables/);
  assert.throws(() => ops.rope(x, [0, 1, 2], ops.ropeTables(10, 4, 1e4, { dtype: "float64" })), /rope: dtype mismatch/);
  assert.throws(() => ops.rope(new Tensor(new Float32Array(8), [8]), [0], tables), /rope: x must be/);
});

test("native ≡ reference: rope", { skip: skipNative }, () => {
  const tables = ops.ropeTables(300, 32, 1e4);
  const pos = Int32Array.from({ length: 65 }, (_, i) => i * 4);
  nativeMatchesReference((x) => ops.rope(x!, pos, tables), [randn64([2, 65, 3, 48], 1)]);
  nativeMatchesReference((x) => ops.rope(x!, pos, tables, { interleaved: true }), [randn64([2, 65, 3, 32], 2)]);
});
