// DeepSeek Sparse Attention (src/layers/dsa_indexer.ts, the indexer path of src/layers/mla.ts;
// components.md §10): the lightning indexer's scores ≡ a float64 loop (rotate-half RoPE on its
// first dims, LayerNorm key, H_I^-½·d_I^-½ weights); T ≤ topK ≡ plain MLA bit for bit; the sparse
// layer ≡ a loop that keeps each query's top-k keys; ties go to the earlier position; gradients of
// the indexer loss and of the sparse layer by finite differences; the detaching (LM loss never
// reaches the indexer, the indexer loss reaches only the indexer); cached decode (contiguous and
// paged, ragged batches) ≡ the full forward; config parsing and cost accounting; and
// deepseek-v3.2-tiny builds, trains at 128 sparse tokens and generates through the engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MultiHeadLatentAttention } from "../../src/layers/mla.js";
import { indexScores, selectTopK } from "../../src/layers/dsa_indexer.js";
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
import { averageKeys } from "../../src/config/components/kind.js";
import { costOf } from "../../src/config/cost.js";
import { paramShapes } from "../../src/config/shapes.js";
import type { ModelConfig } from "../../src/config/types.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { InferenceEngine } from "../../src/inference/engine.js";
import { Scheduler } from "../../src/inference/scheduler.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { ropeFrequencies } from "../../src/ops/rope.js";
import { slice } from "../../src/ops/view.js";
import { noGrad } from "../../src/autograd/node.js";
import { backward } from "../../src/autograd/backward.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, gradcheck, randn64, withParams } from "../helpers/gradcheck.js";
import { forwardInPieces } from "../helpers/pieces.js";
import { checkPagedAgainstFull, fullLast } from "../helpers/paged_latent.js";
import { lin, rotate } from "../helpers/loops.js";
import { letterTokenizer } from "../inference/tiny.js";
import { nextTokenTargets, tokens } from "../models/tiny_configs.js";

const d = 16;
const SPEC = { numHeads: 3, qLoraRank: 12, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 5 };
const IX = { heads: 3, headDim: 6, topK: 4 }; // rope dims default to qkRopeHeadDim = 4: [pe 4 | nope 2]
const ROPE: RopeParams = { theta: 100, fraction: 1, scaling: null };
const YARN: RopeParams = { theta: 1e4, fraction: 1, scaling: { kind: "yarn", factor: 4, originalContext: 8, betaFast: 32, betaSlow: 1 } };

function dsaLayer(ix: Partial<NonNullable<MlaSpec["indexer"]>> = {}, rope: RopeParams | null = ROPE, seed = 1): MultiHeadLatentAttention {
  const m = new MultiHeadLatentAttention(mla({ ...SPEC, indexer: { ...IX, ...ix } }), d, rope, makeInit(seed, 0.4, 1, "float64"), 32);
  // non-trivial LayerNorm gain and bias, so the test sees both
  const kn = m.indexer!.k_norm;
  kn.weight.data.set(randn64([kn.weight.size], seed + 100, 0.3).dense().map((v) => 1 + v));
  kn.bias!.data.set(randn64([kn.bias!.size], seed + 101, 0.3).dense());
  return m;
}

// ---- float64 loop references ----

/** Row-wise RMSNorm (gain g) or LayerNorm (gain g, bias b) of x [rows, w]. */
function norm(x: ArrayLike<number>, rows: number, w: number, g: Tensor, eps: number, bias: Tensor | null = null): Float64Array {
  const gd = g.dense();
  const bd = bias?.dense();
  const y = new Float64Array(rows * w);
  for (let i = 0; i < rows; i++) {
    let mu = 0;
    if (bd) for (let j = 0; j < w; j++) mu += x[i * w + j]! / w;
    let ss = 0;
    for (let j = 0; j < w; j++) ss += (x[i * w + j]! - mu) ** 2;
    const inv = 1 / Math.sqrt(ss / w + eps);
    for (let j = 0; j < w; j++) y[i * w + j] = (x[i * w + j]! - mu) * inv * gd[j]! + (bd ? bd[j]! : 0);
  }
  return y;
}

/** Index scores I [T, T] of one sequence x [T, d] (−∞ above the diagonal), by the definition. */
function naiveScores(m: MultiHeadLatentAttention, x: ArrayLike<number>, T: number, rope: RopeParams | null, interleaved = false): Float64Array {
  const ix = m.indexer!;
  const { heads: HI, headDim: dI, ropeDims: rho } = ix.spec;
  const inv = rope ? ropeFrequencies(rho, rope.theta, rope.scaling).invFreq : null;
  const cq = norm(lin(x, m.wq_a!.weight, T), T, SPEC.qLoraRank, m.q_norm!.weight, m.spec.normEps);
  const q = lin(cq, ix.wq_b.weight, T); // [T, H_I·d_I]
  const k = norm(lin(x, ix.wk.weight, T), T, dI, ix.k_norm.weight, ix.spec.normEps, ix.k_norm.bias); // [T, d_I]
  const w = lin(x, ix.weights_proj.weight, T); // [T, H_I]
  for (let t = 0; t < T; t++) {
    rotate(k, t * dI, rho, t, inv, interleaved);
    for (let j = 0; j < HI; j++) rotate(q, (t * HI + j) * dI, rho, t, inv, interleaved);
  }
  const I = new Float64Array(T * T).fill(-Infinity);
  for (let t = 0; t < T; t++)
    for (let s = 0; s <= t; s++) {
      let acc = 0;
      for (let j = 0; j < HI; j++) {
        let dot = 0;
        for (let a = 0; a < dI; a++) dot += q[(t * HI + j) * dI + a]! * k[s * dI + a]!;
        acc += (w[t * HI + j]! / Math.sqrt(HI * dI)) * Math.max(0, dot);
      }
      I[t * T + s] = acc;
    }
  return I;
}

/** keep[t][s]: the min(topK, t+1) best causal keys by score, ties to the earlier position (sorted independently of the layer). */
function naiveSelect(I: Float64Array, T: number, topK: number): boolean[][] {
  const keep: boolean[][] = [];
  for (let t = 0; t < T; t++) {
    const cand = Array.from({ length: t + 1 }, (_, s) => s);
    cand.sort((a, b) => (I[t * T + a] === I[t * T + b] ? a - b : I[t * T + b]! - I[t * T + a]!));
    const row = new Array<boolean>(T).fill(false);
    for (const s of cand.slice(0, Math.min(topK, t + 1))) row[s] = true;
    keep.push(row);
  }
  return keep;
}

/** MLA in loops (non-absorbed) for one sequence, attending only where keep[t][s]. */
function naiveSparseMla(m: MultiHeadLatentAttention, x: ArrayLike<number>, T: number, rope: RopeParams | null, keep: boolean[][]): Float64Array {
  const { numHeads: H, kvLoraRank: r, qkNopeHeadDim: n, qkRopeHeadDim: p, vHeadDim: v, normEps } = m.spec;
  const inv = rope ? ropeFrequencies(p, rope.theta, rope.scaling).invFreq : null;
  const q = lin(norm(lin(x, m.wq_a!.weight, T), T, SPEC.qLoraRank, m.q_norm!.weight, normEps), m.wq_b!.weight, T);
  const kva = lin(x, m.wkv_a.weight, T); // [T, r+p]
  const cIn = new Float64Array(T * r);
  const kpe = new Float64Array(T * p);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < r; j++) cIn[t * r + j] = kva[t * (r + p) + j]!;
    for (let j = 0; j < p; j++) kpe[t * p + j] = kva[t * (r + p) + r + j]!;
    rotate(kpe, t * p, p, t, inv, true);
    for (let h = 0; h < H; h++) rotate(q, (t * H + h) * (n + p) + n, p, t, inv, true);
  }
  const kv = lin(norm(cIn, T, r, m.kv_norm.weight, normEps), m.wkv_b.weight, T); // [T, H·(n+v)]
  const o = new Float64Array(T * H * v);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < T; i++) {
      const js = Array.from({ length: i + 1 }, (_, j) => j).filter((j) => keep[i]![j]);
      const s = js.map((j) => {
        let dot = 0;
        for (let a = 0; a < n; a++) dot += q[(i * H + h) * (n + p) + a]! * kv[(j * H + h) * (n + v) + a]!;
        for (let a = 0; a < p; a++) dot += q[(i * H + h) * (n + p) + n + a]! * kpe[j * p + a]!;
        return dot * m.scale;
      });
      const mx = Math.max(...s);
      const e = s.map((z) => Math.exp(z - mx));
      const Z = e.reduce((a, b) => a + b, 0);
      js.forEach((j, c) => {
        for (let a = 0; a < v; a++) o[(i * H + h) * v + a]! += (e[c]! / Z) * kv[(j * H + h) * (n + v) + n + a]!;
      });
    }
  return lin(o, m.wo.weight, T);
}

/** The layer's own index scores for x [B, T, d] (through its modules). */
function layerScores(m: MultiHeadLatentAttention, x: Tensor): Tensor {
  const [B, T] = x.shape as [number, number];
  const ix = m.indexer!;
  const pos = Int32Array.from({ length: T }, (_, t) => t);
  return noGrad(() => indexScores(ix.queries(m.q_norm!.forward(m.wq_a!.forward(x)), pos, T), ix.weights(x), ix.keys(x, pos, T)));
}


// ---- tests ----

test("indexer scores ≡ the float64 definition (rotate-half RoPE on the first dims, LayerNorm key, H_I^-½·d_I^-½ weights)", () => {
  for (const [name, ix, rope] of [
    ["RoPE, 4 of 6 dims rotate", {}, ROPE],
    ["YaRN tables at unit magnitude", { headDim: 8, ropeDims: 4 }, YARN],
    ["NoPE layer: nothing rotates", {}, null],
  ] as [string, Partial<NonNullable<MlaSpec["indexer"]>>, RopeParams | null][]) {
    const m = dsaLayer(ix, rope, 2);
    const T = 9;
    const x = randn64([2, T, d], 3);
    const I = layerScores(m, x).dense(); // [2, T, T]
    for (let b = 0; b < 2; b++) {
      const want = naiveScores(m, x.dense().subarray(b * T * d, (b + 1) * T * d), T, rope);
      const got = Float64Array.from(I.subarray(b * T * T, (b + 1) * T * T));
      for (let i = 0; i < T * T; i++) if (want[i] === -Infinity) got[i] = -Infinity; // the layer masks at selection
      assertClose(got, want, 1e-12, 1e-14, `${name} row ${b}`);
    }
  }
  // the reference indexer pairs rotate-half (i, i+ρ/2), not MLA's interleaved (2i, 2i+1): the two differ
  const m = dsaLayer({}, ROPE, 2);
  const x = randn64([1, 6, d], 4);
  const I = layerScores(m, x).dense();
  const inter = naiveScores(m, x.dense(), 6, ROPE, true);
  assert.ok(Array.from(inter).some((v, i) => Number.isFinite(v) && Math.abs(v - I[i]!) > 1e-6), "pairing matters");
});

test("T ≤ topK: every key is selected and the layer ≡ plain MLA bit for bit (outputs and gradients); the indexer gets no LM gradient", () => {
  const plain = new MultiHeadLatentAttention(mla(SPEC), d, YARN, makeInit(5, 0.4, 1, "float64"), 32);
  const sparse = new MultiHeadLatentAttention(mla({ ...SPEC, indexer: { heads: 2, headDim: 6, topK: 8 } }), d, YARN, makeInit(5, 0.4, 1, "float64"), 32);
  for (const T of [1, 5, 8]) {
    const x = randn64([2, T, d], 6 + T);
    const gy = randn64([2, T, d], 20 + T);
    for (const computeLosses of [false, true]) {
      plain.zeroGrad();
      sparse.zeroGrad();
      const ya = plain.forward(x, layerContext(2, T), null);
      const ctx = layerContext(2, T, { computeLosses });
      const yb = sparse.forward(x, ctx, null);
      assert.deepEqual(yb.dense(), ya.dense(), `T = ${T}, losses ${computeLosses}`);
      assert.equal(ctx.aux.length, computeLosses ? 1 : 0);
      backward([ya], [gy]);
      backward([yb], [gy]);
      const pb = new Map(sparse.namedParameters());
      for (const [name, p] of plain.namedParameters()) assert.deepEqual(pb.get(name)!.grad!.dense(), p.grad!.dense(), `${name} gradient, T = ${T}`);
      for (const [name, p] of sparse.indexer!.namedParameters()) assert.ok(!p.grad || p.grad.dense().every((g) => g === 0), `indexer.${name} got an LM gradient`);
    }
  }
});

test("sparse layer (T > topK) ≡ a loop that keeps each query's top-k keys (training path, no cache)", () => {
  for (const [name, ix, rope] of [
    ["top-4 of up to 13, RoPE", {}, ROPE],
    ["top-3, YaRN, 8-dim indexer", { topK: 3, headDim: 8 }, YARN],
  ] as [string, Partial<NonNullable<MlaSpec["indexer"]>>, RopeParams | null][]) {
    const m = dsaLayer(ix, rope, 7);
    const T = 13;
    const x = randn64([2, T, d], 8);
    const y = noGrad(() => m.forward(x, layerContext(2, T), null)).dense();
    for (let b = 0; b < 2; b++) {
      const xb = x.dense().subarray(b * T * d, (b + 1) * T * d);
      const keep = naiveSelect(naiveScores(m, xb, T, rope), T, m.indexer!.spec.topK);
      assert.ok(keep[T - 1]!.filter(Boolean).length === m.indexer!.spec.topK, "the last query drops keys");
      assertClose(y.subarray(b * T * d, (b + 1) * T * d), naiveSparseMla(m, xb, T, rope, keep), 1e-12, 1e-13, `${name} row ${b}`);
      // and the sparse output differs from dense MLA: the selection matters
      const dense = naiveSparseMla(m, xb, T, rope, keep.map((row, t) => row.map((_, s) => s <= t)));
      assert.ok(Math.max(...dense.map((v, i) => Math.abs(v - y[b * T * d + i]!))) > 1e-3, `${name}: sparse ≠ dense`);
    }
  }
});

test("ties: equal scores go to the earlier position, deterministically (all-zero scores keep the first topK keys)", () => {
  // one row, query at position 4 sees keys 0..4 with scores [1, 2, 2, 0, 2], topK 2 → keys 1 and 2
  const scores = [1, 2, 2, 0, 2];
  let sel = selectTopK(scores, 1, 1, 5, [4], 2);
  assert.deepEqual(Array.from(sel.keep), [0, 1, 1, 0, 0]);
  assert.equal(sel.all, false);
  sel = selectTopK([0, 0, 0, 0, 0], 1, 1, 5, [4], 3);
  assert.deepEqual(Array.from(sel.keep), [1, 1, 1, 0, 0]);
  // causal: query 1 of a call starting at 2 (position 3) sees keys 0..3 only; topK 8 keeps them all
  sel = selectTopK([5, 4, 3, 2, 1, 0, 9, 9, 9, 9], 1, 2, 5, [2], 8);
  assert.deepEqual(Array.from(sel.keep), [1, 1, 1, 0, 0, 1, 1, 1, 1, 0]);
  assert.equal(sel.all, true);
  // a layer whose head weights are all zero scores every key 0: each query keeps its first topK keys
  const m = dsaLayer({ topK: 3 }, ROPE, 9);
  m.indexer!.weights_proj.weight.data.fill(0);
  const T = 8;
  const x = randn64([1, T, d], 10);
  const keep = Array.from({ length: T }, (_, t) => Array.from({ length: T }, (_, s) => s <= t && s < 3));
  assertClose(noGrad(() => m.forward(x, layerContext(1, T), null)).dense(), naiveSparseMla(m, x.dense(), T, ROPE, keep), 1e-12, 1e-13, "zero scores");
});

test("gradients by finite differences: the indexer loss wrt the indexer parameters, the sparse layer wrt its input and MLA parameters", () => {
  const m = dsaLayer({ topK: 3 }, YARN, 11);
  const x = randn64([2, 7, d], 12);
  const all = m.namedParameters().map(([, p]) => p.detach());
  const nMla = m.namedParameters().filter(([n]) => !n.startsWith("indexer.")).length;
  const loss = (T: number) => (...ps: Tensor[]) =>
    withParams(m, ps, () => {
      const ctx = layerContext(2, T, { computeLosses: true });
      m.forward(T === 7 ? x : slice(x, 1, 0, T), ctx, null);
      return ctx.aux[0]!;
    });
  const idx = all.map((_, i) => i).filter((i) => i >= nMla);
  gradcheck(loss(7), all, { check: idx, rtol: 1e-6 }); // sparse: KL over the selected sets
  gradcheck(loss(3), all, { check: idx, rtol: 1e-6 }); // T ≤ topK: the dense form
  for (const cached of [false, true])
    gradcheck(
      (xi, ...ps) => withParams(m, ps, () => m.forward(xi!, layerContext(2, 7), cached ? m.newState(2, "float64") : null)),
      [x, ...all],
      { check: [0, ...Array.from({ length: nMla }, (_, i) => i + 1)], rtol: 1e-6 },
    );
  // the indexer loss reaches only the indexer: no gradient on x or the MLA weights
  m.zeroGrad();
  const xi = randn64([2, 7, d], 12);
  xi.requiresGrad = true;
  const ctx = layerContext(2, 7, { computeLosses: true });
  m.forward(xi, ctx, null);
  backward([ctx.aux[0]!]);
  assert.ok(!xi.grad || xi.grad.dense().every((g) => g === 0), "x got an indexer-loss gradient");
  for (const [n, p] of m.namedParameters()) {
    const has = !!p.grad && p.grad.dense().some((g) => g !== 0);
    assert.equal(has, n.startsWith("indexer."), `${n}: gradient from the indexer loss ${has}`);
  }
  assert.ok(m.lastIndexerLoss! > 0);
});

test("the KL alone trains the indexer (dense warm-up: T ≤ topK, 40 AdamW steps on the indexer)", () => {
  const m = dsaLayer({ topK: 16 }, ROPE, 13);
  const x = randn64([2, 12, d], 14);
  const opt = new AdamW(m.indexer!.namedParameters().map(([name, p]) => ({ name, p })), { lr: 3e-2, weightDecay: 0 });
  const kls: number[] = [];
  for (let step = 0; step < 40; step++) {
    m.zeroGrad();
    const ctx = layerContext(2, 12, { computeLosses: true });
    m.forward(x, ctx, null);
    kls.push(m.lastIndexerLoss!);
    backward([ctx.aux[0]!]);
    opt.update();
  }
  assert.ok(kls[kls.length - 1]! < 0.5 * kls[0]!, `KL ${kls[0]} → ${kls[kls.length - 1]}`);
});

test("cached decode (prefill, single tokens, chunks) ≡ the full forward with the same selection; the cache row is r + p + d_I", () => {
  for (const [name, rope] of [
    ["RoPE", ROPE],
    ["YaRN", YARN],
  ] as [string, RopeParams][]) {
    const m = dsaLayer({}, rope, 15);
    const B = 2;
    const T = 15;
    const x = randn64([B, T, d], 16);
    noGrad(() => {
      const full = m.forward(x, layerContext(B, T), null);
      const st = m.newState(B, "float64");
      const incremental = forwardInPieces(m, x, [3, 1, 1, 6, 1, 2, 1], st);
      const cache = st.cache as ContiguousKVCache;
      assert.equal(cache.length, T);
      assert.equal(cache.elementsPerToken, B * (8 + 4 + 6), `${name}: latent + rope key + indexer key`);
      assertClose(incremental, full.dense(), 1e-12, 1e-13, name);
    });
  }
});

/** A small MLA + DSA model (dense FFN) for engine tests. */
function tinyDsaModel(vocab: number): ModelConfig {
  const norm = rmsnorm(1e-6);
  const attention = mla({ numHeads: 2, qLoraRank: 12, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 6, indexer: { heads: 2, headDim: 6, topK: 5 } });
  return model({
    name: "test-dsa",
    description: "tiny MLA + DSA model for tests",
    source: "test",
    vocabSize: vocab,
    dModel: 16,
    contextLength: 64,
    positional: ropeSpec(10_000, 1, { kind: "yarn", factor: 2, originalContext: 32, betaFast: 32, betaSlow: 1 }),
    layers: pattern({ sublayers: [attnSub(attention, pre(norm)), ffnSub(swiglu(24), pre(norm))] }, 2),
    finalNorm: norm,
    head: { tied: false, bias: false },
    init: { std: 0.3 },
  });
}


test("inference engine: paged rows [c | k_rope | k^I] ≡ full recompute (prefill, decode, 3-token step, chunk, ragged batch, fork)", () => {
  const V = 32;
  const m = buildModel(tinyDsaModel(V), { seed: 3, dtype: "float64" });
  const eng = new InferenceEngine(m, { blockSize: 4, numBlocks: 64 });
  assert.equal(eng.pool!.groupTokenBytes(0), 2 * (8 + 4 + 6) * 8, "2 layers × (kv rank 8 + rope 4 + indexer 6) × 8 bytes");
  const { seq, other, twin, ids, both } = checkPagedAgainstFull(m, eng, V);
  assertClose(both.slice(0, V), fullLast(m, ids), 1e-10, 1e-11, "ragged row 0 vs full");
  for (const s of [seq, other, twin]) eng.free(s);
  assert.equal(eng.pool!.groups.reduce((s, g) => s + g.allocator.totalRefs(), 0), 0);
});

test("config: indexer parsing, validation, JSON round trip, shapes ≡ params; deepseek-v3.2-exp accounting (params, FLOPs, KV cache)", () => {
  const spec = mla({ ...SPEC, indexer: IX });
  assert.deepEqual(spec.indexer, { heads: 3, headDim: 6, topK: 4, ropeDims: 4, normEps: 1e-6, lossWeight: 1 });
  assert.ok(!("indexer" in mla(SPEC)), "no indexer: the spec is unchanged");
  assert.match(mlaKind.describe(spec), /DSA indexer 3 × 6 top-4/);
  const m = new MultiHeadLatentAttention(spec, d, ROPE, makeInit(1, 0.02), 32);
  assert.deepEqual(
    m.namedParameters().map(([n, t]) => `${n} [${t.shape.join(", ")}]`),
    mlaKind.shapes(spec, { dModel: d } as never).map((s) => `${s.name} [${s.shape.join(", ")}]`),
  );
  const parts = mlaKind.params(spec, { dModel: d } as never);
  assert.equal(m.numParameters(), parts.reduce((s, e) => s + e.total, 0));
  assert.deepEqual(parts[1], { part: "indexer", total: 12 * 18 + d * 6 + 2 * 6 + d * 3, active: 12 * 18 + d * 6 + 2 * 6 + d * 3 });
  // validation names the field
  const base = toJson(getPreset("deepseek-v3.2-tiny"));
  const withIx = (ix: unknown, extra: Record<string, unknown> = {}) =>
    validateConfig({
      ...base,
      mtp: null,
      layers: [{ sublayers: [{ kind: "attention", name: "attn", norm: { placement: "none" }, attention: { kind: "mla", numHeads: 2, qLoraRank: 8, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 4, indexer: ix, ...extra } }] }],
    });
  assert.equal((withIx({ heads: 2, headDim: 8, topK: 4 }).layers[0]!.sublayers[0] as { attention: MlaSpec }).attention.indexer!.ropeDims, 4);
  assert.throws(() => withIx({ heads: 2, headDim: 8, topK: 4, ropeDims: 3 }), /indexer\.ropeDims.*even/);
  assert.throws(() => withIx({ heads: 2, headDim: 8, topK: 0 }), /indexer\.topK/);
  assert.throws(() => withIx({ heads: 2, headDim: 8, topK: 4, topk: 4 }), /indexer\.topk.*did you mean 'topK'/);
  assert.throws(() => withIx({ heads: 2, headDim: 8, topK: 4 }, { qLoraRank: 0 }), /indexer.*qLoraRank > 0/);
  const v32 = getPreset("deepseek-v3.2-exp");
  assert.deepEqual(validateConfig(toJson(v32)), v32);
  // V3 + 62 indexers (61 layers + the MTP module): wq_b 1536·64·128 + wk 7168·128 + LayerNorm 2·128 + weights_proj 7168·64
  const perIndexer = 1_536 * 64 * 128 + 7_168 * 128 + 2 * 128 + 7_168 * 64;
  assert.equal(perIndexer, 13_959_424);
  const [c3, c32] = [costOf(getPreset("deepseek-v3")), costOf(v32)];
  assert.equal(c32.params.total - c3.params.total, 62 * perIndexer);
  assert.equal(c32.params.breakdown["attention.mla.indexer"]!.total, 61 * perIndexer);
  // KV cache: 61 × (512 + 64 + 128) × 2 B
  assert.equal(c32.memory.kvCacheBytesPerToken, 61 * 704 * 2);
  // FLOPs at 128K: core attention over min(2048, t+1) keys + the O(N) indexer per token
  const N = 131_072;
  const [f3, f32] = [costOf(getPreset("deepseek-v3"), { context: N }), costOf(v32, { context: N })];
  const dAttn = 62 * (2 * 128 * (128 + 64 + 128) * (averageKeys(N, 2_048) - averageKeys(N, null)) + 2 * 64 * 129 * averageKeys(N, null));
  assert.ok(Math.abs(f32.flopsPerToken.forward - f3.flopsPerToken.forward - (dAttn + 2 * 62 * perIndexer)) < 1e3); // the rest is V3's
  assert.ok(f32.flopsPerToken.forwardWithoutMtp < 0.4 * f3.flopsPerToken.forwardWithoutMtp, "DSA cuts the 128K-context cost per token below 40%");
});

test("deepseek-v3.2-tiny: builds as accounted, its loss falls in 10 AdamW steps on 128-token (sparse) sequences, and the engine generates ≡ cached decode", async () => {
  const cfg = getPreset("deepseek-v3.2-tiny");
  const m = buildModel(cfg, { seed: 1 });
  assert.equal(m.numParameters(), costOf(cfg).params.total);
  assert.deepEqual(
    m.namedParameters().map(([n, t]) => `${n} [${t.shape.join(", ")}]`),
    paramShapes(cfg).map((s) => `${s.name} [${s.shape.join(", ")}]`),
  );
  assert.ok(m.namedParameters().some(([n]) => n === "mtp.0.block.attn.indexer.weights_proj.weight"));
  const mlas = m.namedModules().map(([, x]) => x).filter((x): x is MultiHeadLatentAttention => x instanceof MultiHeadLatentAttention);
  assert.equal(mlas.length, 5);
  manualSeed(0);
  const B = 2;
  const T = 128; // > top-32: every query past position 31 attends 32 of its keys
  const ids = tokens(B * T, 64, 42);
  const targets = nextTokenTargets(ids, B, T);
  const opt = new AdamW(m.namedParameters().map(([name, p]) => ({ name, p })), { lr: 3e-3, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 1; step <= 10; step++) {
    m.zeroGrad();
    const r = m.forward(ids, B, T, { targets });
    losses.push(r.lossMain!.item());
    assert.ok(r.lossAux && Number.isFinite(r.lossAux.item()), "indexer KL (and MoE balance) in lossAux");
    backward([r.loss!]);
    opt.update();
  }
  assert.ok(mlas.every((l) => l.lastIndexerLoss !== null && l.lastIndexerLoss >= 0));
  assert.ok(losses[0]! > 7.5, `initial loss ${losses[0]} should be near ln 4096 = 8.32`);
  assert.ok(losses[9]! < losses[0]! - 2, `loss ${losses[0]} → ${losses[9]} after 10 steps`);

  // generation past top-32: the scheduler over the paged engine ≡ generateGreedy over ContiguousKVCache (float64)
  const m64 = buildModel(cfg, { seed: 2, dtype: "float64" });
  const engine = new InferenceEngine(m64, { numBlocks: 48, blockSize: 8 });
  assert.equal(engine.pool!.groupTokenBytes(0), 4 * (64 + 16 + 32) * 8);
  const sched = new Scheduler(engine, letterTokenizer(cfg.vocabSize), { maxBatch: 2, prefillChunk: 16 });
  const prompt = Array.from(tokens(21, cfg.vocabSize - 1, 3));
  const ref = Array.from(m64.generateGreedy(Int32Array.from(prompt), 20));
  const res = await sched.submit(prompt, { maxTokens: 20, sampling: { temperature: 0 }, ignoreEos: true }).result;
  assert.deepEqual(res.choices[0]!.tokens, ref);
  const spec = await sched.submit(prompt, { maxTokens: 20, sampling: { temperature: 0 }, ignoreEos: true, speculative: true }).result;
  assert.deepEqual(spec.choices[0]!.tokens, ref, "greedy speculative (MTP module with its own DSA cache) ≡ greedy");
});
