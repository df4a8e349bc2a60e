// GQA attention layer: MHA special case against a naive implementation, GQA ≡ MHA with repeated
// KV heads, KV-cached decode ≡ full forward for every option, gradients by finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GroupedQueryAttention } from "../../src/layers/attention.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { gqa, type GqaSpec } from "../../src/config/components/gqa.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import type { RopeParams } from "../../src/config/components/rope.js";
import { noGrad } from "../../src/autograd/node.js";
import { backward } from "../../src/autograd/backward.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, gradcheck, randn64 } from "../helpers/gradcheck.js";
import { forwardInPieces } from "../helpers/pieces.js";

const d = 16;
function layer(p: Partial<GqaSpec>, rope: RopeParams | null = null, seed = 1): GroupedQueryAttention {
  return new GroupedQueryAttention(gqa({ numHeads: 4, numKvHeads: 4, headDim: 4, ...p }), d, rope, makeInit(seed, 0.4, 1, "float64"), 32);
}

/** y = x Wᵀ for row-major x [n, in], W [out, in]. */
function lin(x: ArrayLike<number>, W: Tensor, n: number): Float64Array {
  const [out, inF] = W.shape as [number, number];
  const w = W.dense();
  const y = new Float64Array(n * out);
  for (let i = 0; i < n; i++) for (let o = 0; o < out; o++) {
    let s = 0;
    for (let j = 0; j < inF; j++) s += x[i * inF + j]! * w[o * inF + j]!;
    y[i * out + o] = s;
  }
  return y;
}

/** Textbook causal multi-head attention in plain loops (one sequence). */
function naiveMha(m: GroupedQueryAttention, x: ArrayLike<number>, T: number): Float64Array {
  const H = m.spec.numHeads;
  const h = m.spec.headDim;
  const q = lin(x, m.q_proj.weight, T);
  const k = lin(x, m.k_proj.weight, T);
  const v = lin(x, m.v_proj.weight, T);
  const o = new Float64Array(T * H * h);
  for (let hd = 0; hd < H; hd++)
    for (let i = 0; i < T; i++) {
      const s: number[] = [];
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = 0; c < h; c++) dot += q[i * H * h + hd * h + c]! * k[j * H * h + hd * h + c]!;
        s.push(dot / Math.sqrt(h));
      }
      const mx = Math.max(...s);
      const e = s.map((z) => Math.exp(z - mx));
      const Z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) for (let c = 0; c < h; c++) o[i * H * h + hd * h + c]! += (e[j]! / Z) * v[j * H * h + hd * h + c]!;
    }
  return lin(o, m.o_proj.weight, T);
}

test("GQA with KV heads = heads ≡ plain multi-head attention", () => {
  const m = layer({});
  const T = 9;
  const x = randn64([1, T, d], 2);
  const y = noGrad(() => m.forward(x, layerContext(1, T), null));
  assertClose(y.dense(), naiveMha(m, x.dense(), T), 1e-12, 1e-13, "MHA");
});

test("GQA with 2 KV heads ≡ MHA whose KV heads repeat them (query head h reads kv head ⌊h/2⌋)", () => {
  const g = layer({ numKvHeads: 2 }, { theta: 100, fraction: 0.5, scaling: null });
  const m = layer({}, { theta: 100, fraction: 0.5, scaling: null }, 7);
  // copy weights: q and o identical, kv rows of head ⌊h/2⌋
  m.q_proj.weight.data.set(g.q_proj.weight.dense());
  m.o_proj.weight.data.set(g.o_proj.weight.dense());
  const h = 4;
  for (const [src, dst] of [[g.k_proj.weight, m.k_proj.weight], [g.v_proj.weight, m.v_proj.weight]] as const)
    for (let head = 0; head < 4; head++) dst.data.set(src.dense().subarray(Math.floor(head / 2) * h * d, (Math.floor(head / 2) + 1) * h * d), head * h * d);
  const T = 11;
  const x = randn64([2, T, d], 3);
  const a = noGrad(() => g.forward(x, layerContext(2, T), null)).dense();
  const b = noGrad(() => m.forward(x, layerContext(2, T), null)).dense();
  assertClose(a, b, 1e-12, 1e-13, "GQA vs repeated MHA");
});

const OPTIONS: [string, Partial<GqaSpec>, RopeParams | null][] = [
  ["plain MHA, full RoPE", {}, { theta: 10_000, fraction: 1, scaling: null }],
  ["GQA, per-head QK-norm, partial RoPE", { numKvHeads: 2, qkNorm: { scope: "head", ...rmsnorm(1e-6) } }, { theta: 1e6, fraction: 0.5, scaling: null }],
  ["MQA, full-projection QK-norm (1+w), NoPE, biases", { numKvHeads: 1, qkNorm: { scope: "full", ...rmsnorm(1e-6, true) }, qkvBias: true, outBias: true }, null],
  ["sliding window 5, sinks, elementwise gate, YaRN", { numKvHeads: 2, slidingWindow: 5, sink: true, outputGate: "elementwise" }, { theta: 1e4, fraction: 1, scaling: { kind: "yarn", factor: 4, originalContext: 8, betaFast: 32, betaSlow: 1 } }],
  ["headwise gate, window 1", { outputGate: "headwise", slidingWindow: 1 }, { theta: 1e4, fraction: 1, scaling: null }],
];

for (const [name, spec, rope] of OPTIONS)
  test(`attention decode with KV cache ≡ full forward: ${name}`, () => {
    const m = layer(spec, rope);
    if (m.sinks) m.sinks.data.set([0.5, -1, 2, 0]);
    const B = 2;
    const T = 13;
    const x = randn64([B, T, d], 4);
    noGrad(() => {
      const full = m.forward(x, layerContext(B, T), null);
      const st = m.newState(B, "float64");
      const incremental = forwardInPieces(m, x, [4, 1, 1, 5, 1, 1], st);
      assert.equal(st.cache.length, T);
      assertClose(incremental, full.dense(), 1e-12, 1e-13, name);
    });
  });

test("attention layer gradients match finite differences (all options on)", () => {
  const m = layer(
    { numKvHeads: 2, qkNorm: { scope: "head", ...rmsnorm(1e-6) }, slidingWindow: 4, sink: true, outputGate: "elementwise", qkvBias: true },
    { theta: 100, fraction: 0.5, scaling: null },
  );
  const T = 6;
  gradcheck((x) => m.forward(x!, layerContext(2, T), null), [randn64([2, T, d], 5)], { rtol: 1e-6 });
  m.zeroGrad();
  const x = randn64([2, T, d], 5);
  const y = m.forward(x, layerContext(2, T), null);
  assert.ok(y.requiresGrad);
  // every parameter of the layer receives a gradient
  backward([y], [randn64([2, T, d], 6)]);
  for (const [n, p] of m.namedParameters()) assert.ok(p.grad && p.grad.dense().some((v) => v !== 0), `${n} has no gradient`);
});

