// Multi-head latent attention (src/layers/mla.ts): the layer ≡ a textbook loop implementation
// (interleaved RoPE, YaRN temperature applied once), parameter names/shapes/count ≡ the config's
// accounting, gradients by finite differences on both paths, native ≡ reference, the absorbed
// cached decode ≡ the full non-absorbed forward, the paged engine ≡ full recompute with a cache of
// r + p elements per token, and deepseek-tiny builds, trains and generates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MultiHeadLatentAttention, mlaSoftmaxScale } from "../../src/layers/mla.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { ContiguousKVCache } from "../../src/layers/kv_cache.js";
import { mla, mlaKind, type MlaSpec } from "../../src/config/components/mla.js";
import type { RopeParams } from "../../src/config/components/rope.js";
import { attnSub, ffnSub, model, pre } from "../../src/config/build.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { rope as ropeSpec } from "../../src/config/components/rope.js";
import { swiglu } from "../../src/config/components/swiglu.js";
import { pattern } from "../../src/config/pattern.js";
import { getPreset } from "../../src/config/presets/index.js";
import { toJson, validateConfig } from "../../src/config/index.js";
import { costOf } from "../../src/config/cost.js";
import { paramShapes } from "../../src/config/shapes.js";
import type { ModelConfig } from "../../src/config/types.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { InferenceEngine } from "../../src/inference/engine.js";
import { Scheduler } from "../../src/inference/scheduler.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { ropeFrequencies } from "../../src/ops/rope.js";
import { noGrad } from "../../src/autograd/node.js";
import { backward } from "../../src/autograd/backward.js";
import { nativeAvailable } from "../../src/backend/index.js";
import { manualSeed } from "../../src/tensor/rng.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, gradcheck, randn64, withParams, layerOnBothBackends } from "../helpers/gradcheck.js";
import { forwardInPieces } from "../helpers/pieces.js";
import { checkPagedAgainstFull } from "../helpers/paged_latent.js";
import { lin, rotate } from "../helpers/loops.js";
import { letterTokenizer } from "../inference/tiny.js";
import { nextTokenTargets, tokens } from "../models/tiny_configs.js";

const d = 16;
const SPEC = { numHeads: 3, qLoraRank: 12, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 5 };
const ROPE: RopeParams = { theta: 100, fraction: 1, scaling: null };
const YARN: RopeParams = { theta: 1e4, fraction: 1, scaling: { kind: "yarn", factor: 4, originalContext: 8, betaFast: 32, betaSlow: 1 } };

function layer(p: Partial<MlaSpec> = {}, rope: RopeParams | null = ROPE, seed = 1, dtype: "float32" | "float64" = "float64"): MultiHeadLatentAttention {
  return new MultiHeadLatentAttention(mla({ ...SPEC, ...p }), d, rope, makeInit(seed, 0.4, 1, dtype), 32);
}

/** Row-wise RMSNorm of the first `w` of every `stride` values, gain g. */
function rms(x: ArrayLike<number>, rows: number, stride: number, w: number, g: Tensor, eps: number): Float64Array {
  const gd = g.dense();
  const y = new Float64Array(rows * w);
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    for (let j = 0; j < w; j++) ss += x[i * stride + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / w + eps);
    for (let j = 0; j < w; j++) y[i * w + j] = x[i * stride + j]! * inv * gd[j]!;
  }
  return y;
}

/** Textbook MLA in plain loops for one sequence x [T, d] (non-absorbed; unit-magnitude rotation; explicit scale). */
function naiveMla(m: MultiHeadLatentAttention, x: ArrayLike<number>, T: number, rope: RopeParams | null, scale: number): Float64Array {
  const { numHeads: H, qLoraRank: rq, kvLoraRank: r, qkNopeHeadDim: n, qkRopeHeadDim: p, vHeadDim: v, normEps } = m.spec;
  const inv = rope ? ropeFrequencies(p, rope.theta, rope.scaling).invFreq : null;
  const q = rq > 0 ? lin(rms(lin(x, m.wq_a!.weight, T), T, rq, rq, m.q_norm!.weight, normEps), m.wq_b!.weight, T) : lin(x, m.wq!.weight, T);
  const kva = lin(x, m.wkv_a.weight, T); // [T, r+p]
  const c = rms(kva, T, r + p, r, m.kv_norm.weight, normEps);
  const kpe = new Float64Array(T * p);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < p; j++) kpe[t * p + j] = kva[t * (r + p) + r + j]!;
    rotate(kpe, t * p, p, t, inv);
    for (let h = 0; h < H; h++) rotate(q, (t * H + h) * (n + p) + n, p, t, inv);
  }
  const kv = lin(c, m.wkv_b.weight, T); // [T, H·(n+v)]
  const o = new Float64Array(T * H * v);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < T; i++) {
      const s: number[] = [];
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let a = 0; a < n; a++) dot += q[(i * H + h) * (n + p) + a]! * kv[(j * H + h) * (n + v) + a]!;
        for (let a = 0; a < p; a++) dot += q[(i * H + h) * (n + p) + n + a]! * kpe[j * p + a]!;
        s.push(dot * scale);
      }
      const mx = Math.max(...s);
      const e = s.map((z) => Math.exp(z - mx));
      const Z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) for (let a = 0; a < v; a++) o[(i * H + h) * v + a]! += (e[j]! / Z) * kv[(j * H + h) * (n + v) + n + a]!;
    }
  return lin(o, m.wo.weight, T);
}

test("MLA ≡ textbook loops: low-rank q, full-rank q, NoPE, YaRN (mscale² on the whole logit, once)", () => {
  const cases: [string, Partial<MlaSpec>, RopeParams | null, number][] = [
    ["q rank 12, RoPE", {}, ROPE, 1 / Math.sqrt(8)],
    ["full-rank wq, RoPE", { qLoraRank: 0 }, ROPE, 1 / Math.sqrt(8)],
    ["NoPE", {}, null, 1 / Math.sqrt(8)],
    ["YaRN ×4", { qkRopeHeadDim: 6 }, YARN, (0.1 * Math.log(4) + 1) ** 2 / Math.sqrt(10)],
  ];
  for (const [name, p, rope, scale] of cases) {
    const m = layer(p, rope);
    assert.ok(Math.abs(m.scale - scale) < 1e-15, `${name}: scale ${m.scale} vs ${scale}`);
    const T = 9;
    const x = randn64([2, T, d], 2);
    const y = noGrad(() => m.forward(x, layerContext(2, T), null));
    assert.deepEqual(y.shape, [2, T, d]);
    for (let b = 0; b < 2; b++)
      assertClose(y.dense().subarray(b * T * d, (b + 1) * T * d), naiveMla(m, x.dense().subarray(b * T * d, (b + 1) * T * d), T, rope, scale), 1e-12, 1e-13, `${name} row ${b}`);
  }
});

test("softmax scale of DeepSeek-V3 (qk 128+64, YaRN ×40): 192^-½ · mscale² = 0.135234 (components.md §4.2)", () => {
  const v3 = getPreset("deepseek-v3");
  const s = mlaSoftmaxScale({ qkNopeHeadDim: 128, qkRopeHeadDim: 64 }, v3.positional.kind === "rope" ? v3.positional : null);
  assert.ok(Math.abs(s - 0.135234) < 5e-7, `scale ${s}`);
  assert.equal(mlaSoftmaxScale({ qkNopeHeadDim: 128, qkRopeHeadDim: 64 }, ROPE), 1 / Math.sqrt(192));
});

test("parameter names, shapes and count ≡ mlaKind.shapes / params; deepseek-tiny ≡ its cost accounting", () => {
  for (const p of [{}, { qLoraRank: 0 }]) {
    const spec = mla({ ...SPEC, ...p });
    const m = new MultiHeadLatentAttention(spec, d, ROPE, makeInit(1, 0.02), 32);
    const got = m.namedParameters().map(([n, t]) => `${n} [${t.shape.join(", ")}]`);
    const want = mlaKind.shapes(spec, { dModel: d } as never).map((s) => `${s.name} [${s.shape.join(", ")}]`);
    assert.deepEqual(got, want);
    const counted = mlaKind.params(spec, { dModel: d } as never).reduce((s, e) => s + e.total, 0);
    assert.equal(m.numParameters(), counted);
  }
  const cfg = getPreset("deepseek-tiny");
  const mdl = buildModel(cfg, { seed: 1, randomInit: false });
  assert.equal(mdl.numParameters(), costOf(cfg).params.total);
  assert.deepEqual(
    mdl.namedParameters().map(([n, t]) => `${n} [${t.shape.join(", ")}]`),
    paramShapes(cfg).map((s) => `${s.name} [${s.shape.join(", ")}]`),
  );
  assert.ok(mdl.namedParameters().some(([n]) => n === "mtp.0.block.attn.wkv_b.weight"));
  // a partial-RoPE fraction (inherited from a GQA model) does not apply: all p rope dims rotate
  const x = randn64([1, 5, d], 3);
  const a = noGrad(() => layer({}, { theta: 100, fraction: 0.5, scaling: null }).forward(x, layerContext(1, 5), null)).dense();
  assertClose(a, noGrad(() => layer({}, ROPE).forward(x, layerContext(1, 5), null)).dense(), 0, 0, "fraction ignored");
  assert.throws(
    () => validateConfig({ ...toJson(getPreset("deepseek-tiny")), layers: [{ sublayers: [{ kind: "attention", name: "attn", norm: { placement: "none" }, attention: { kind: "mla", numHeads: 2, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 4, rope: { theta: 1e4, fraction: 0.5 } } }] }] }),
    /rope\.fraction.*must be 1/,
  );
});


test("gradients match finite differences for the input and every parameter (non-absorbed and absorbed paths)", () => {
  const m = new MultiHeadLatentAttention(
    mla({ numHeads: 2, qLoraRank: 6, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 3 }),
    8,
    YARN,
    makeInit(3, 0.5, 1, "float64"),
    16,
  );
  const T = 5;
  const x = randn64([2, T, 8], 5);
  const params = m.namedParameters().map(([, p]) => p.detach());
  for (const cached of [false, true])
    gradcheck(
      (xi, ...ps) => withParams(m, ps, () => m.forward(xi!, layerContext(2, T), cached ? m.newState(2, "float64") : null)),
      [x, ...params],
      { rtol: 1e-6 },
    );
  m.zeroGrad();
  backward([m.forward(x, layerContext(2, T), null)], [randn64([2, T, 8], 6)]);
  for (const [n, p] of m.namedParameters()) assert.ok(p.grad && p.grad.dense().some((v) => v !== 0), `${n} has no gradient`);
});

test("native ≡ reference (float32 forward and gradients)", { skip: nativeAvailable() ? false : "native addon not built" }, () => {
  const { a, b } = layerOnBothBackends(() => layer({}, YARN, 4, "float32"), 2, 11, d, 7);
  assertClose(a.y, b.y, 1e-5, 1e-6, "forward");
  assertClose(a.gx, b.gx, 1e-4, 1e-6, "input gradient");
  a.gw.forEach((g, i) => assertClose(g, b.gw[i]!, 1e-4, 1e-6, `parameter ${i} gradient`));
});

test("absorbed cached decode (prefill, single tokens, chunks) ≡ the full non-absorbed forward; the cache holds r + p per token", () => {
  for (const [name, p, rope] of [
    ["RoPE", {}, ROPE],
    ["YaRN, full-rank q", { qLoraRank: 0 }, YARN],
    ["NoPE", {}, null],
  ] as [string, Partial<MlaSpec>, RopeParams | null][]) {
    const m = layer(p, rope, 5);
    const B = 2;
    const T = 13;
    const x = randn64([B, T, d], 9);
    noGrad(() => {
      const full = m.forward(x, layerContext(B, T), null);
      const st = m.newState(B, "float64");
      const incremental = forwardInPieces(m, x, [4, 1, 1, 5, 1, 1], st);
      const cache = st.cache as ContiguousKVCache;
      assert.equal(cache.length, T);
      assert.equal(cache.elementsPerToken, B * (SPEC.kvLoraRank + (p.qkRopeHeadDim ?? SPEC.qkRopeHeadDim)), `${name}: latent + rope key only`);
      assert.deepEqual(cache.values().shape, [B, T, 1, SPEC.kvLoraRank]);
      assertClose(incremental, full.dense(), 1e-12, 1e-13, name);
    });
  }
});

/** A small MLA model (dense FFN) for engine tests. */
function tinyMlaModel(o: { vocab: number; layers?: number }): ModelConfig {
  const norm = rmsnorm(1e-6);
  const block = { sublayers: [attnSub(mla({ numHeads: 2, qLoraRank: 12, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 6 }), pre(norm)), ffnSub(swiglu(24), pre(norm))] };
  return model({
    name: "test-mla",
    description: "tiny MLA model for tests",
    source: "test",
    vocabSize: o.vocab,
    dModel: 16,
    contextLength: 64,
    positional: ropeSpec(10_000, 1, { kind: "yarn", factor: 2, originalContext: 32, betaFast: 32, betaSlow: 1 }),
    layers: pattern(block, o.layers ?? 2),
    finalNorm: norm,
    head: { tied: false, bias: false },
    init: { std: 0.2 },
  });
}


test("inference engine: paged latent cache ≡ full recompute (prefill, decode, 3-token step, chunk, ragged batch); r + p elements per token", () => {
  const V = 32;
  const m = buildModel(tinyMlaModel({ vocab: V }), { seed: 3, dtype: "float64" });
  const eng = new InferenceEngine(m, { blockSize: 4, numBlocks: 64 });
  assert.equal(eng.pool!.groupTokenBytes(0), 2 * (8 + 4) * 8, "2 layers × (kv rank 8 + rope 4) × 8 bytes");
  assert.ok(eng.pool!.v.every((a) => a.length === 0), "no separate value storage");
  const { seq, other, twin } = checkPagedAgainstFull(m, eng, V);
  for (const s of [seq, other, twin]) eng.free(s);
  assert.equal(eng.pool!.groups.reduce((s, g) => s + g.allocator.totalRefs(), 0), 0);
});

test("deepseek-tiny: builds, its loss falls in 30 AdamW steps, and greedy generation through the engine ≡ the model's cached decode", async () => {
  const cfg = getPreset("deepseek-tiny");
  const m = buildModel(cfg, { seed: 1 });
  manualSeed(0);
  const B = 2;
  const T = 24;
  const ids = tokens(B * T, 64, 42); // a few distinct tokens so one batch is learnable quickly
  const targets = nextTokenTargets(ids, B, T);
  const opt = new AdamW(m.namedParameters().map(([name, p]) => ({ name, p })), { lr: 3e-3, weightDecay: 0 });
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= 30; step++) {
    m.zeroGrad();
    const r = m.forward(ids, B, T, { targets });
    last = r.lossMain!.item();
    if (step === 1) first = last;
    backward([r.loss!]);
    opt.update();
  }
  assert.ok(first > 7.5, `initial loss ${first} should be near ln 4096 = 8.32`);
  assert.ok(last < first - 2, `loss ${first} → ${last} after 30 steps`);

  // generation: the scheduler over the paged engine ≡ CausalLM.generateGreedy over ContiguousKVCache (float64)
  const m64 = buildModel(cfg, { seed: 2, dtype: "float64", });
  const engine = new InferenceEngine(m64, { numBlocks: 32, blockSize: 8 });
  assert.equal(engine.drafter?.kind, "sequential", "the MLA + MoE MTP module drafts through its own caches");
  assert.equal(engine.mtpCaches!.pools[0]!.groupTokenBytes(0), (64 + 16) * 8, "the module's pages hold its latent rows");
  assert.equal(engine.pool!.groupTokenBytes(0), 4 * (64 + 16) * 8);
  const sched = new Scheduler(engine, letterTokenizer(cfg.vocabSize), { maxBatch: 2, prefillChunk: 16 });
  const prompt = Array.from(tokens(11, cfg.vocabSize - 1, 3));
  const ref = Array.from(m64.generateGreedy(Int32Array.from(prompt), 12));
  const res = await sched.submit(prompt, { maxTokens: 12, sampling: { temperature: 0 }, ignoreEos: true }).result;
  assert.deepEqual(res.choices[0]!.tokens, ref);
  const spec = await sched.submit(prompt, { maxTokens: 12, sampling: { temperature: 0 }, ignoreEos: true, speculative: true }).result;
  assert.deepEqual(spec.choices[0]!.tokens, ref, "greedy speculative ≡ greedy");
});
