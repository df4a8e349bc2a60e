import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, outAndGrads, skipNative } from "./util.js";

interface Cfg {
  B: number; Tq: number; Tk: number; Hq: number; Hkv: number; D: number; Dv: number;
  causal?: boolean; window?: number; sinks?: boolean; qStart?: number; scale?: number;
}

/**
 * Naive materialising attention from ops: scores [B, Hq, Tq, Tk] → additive mask → softmax with
 * the sink in the denominator → @ V. The row max used for stability is a constant (softmax is
 * invariant to it), so autograd differentiates exactly the textbook formula.
 */
function naiveAttention(q: Tensor, k: Tensor, v: Tensor, sinks: Tensor | null, o: { causal: boolean; window: number; scale: number; qStart: number }): Tensor {
  const [B, Tq, Hq, D] = q.shape as [number, number, number, number];
  const [, Tk, Hkv] = k.shape as [number, number, number];
  const Dv = v.shape[3]!;
  const g = Hq / Hkv;
  // [B, Tk, Hkv, d] → [B, Hkv, Tk, d] → repeat each kv head g times (outer index kv) → [B, Hq, Tk, d]
  const rep = (t: Tensor, d: number): Tensor => ops.reshape(ops.expand(ops.reshape(ops.permute(t, [0, 2, 1, 3]), [B, Hkv, 1, Tk, d]), [B, Hkv, g, Tk, d]), [B, Hq, Tk, d]);
  const qh = ops.permute(q, [0, 2, 1, 3]); // [B, Hq, Tq, D]
  const s = ops.mul(ops.matmul(qh, ops.transpose(rep(k, D))), o.scale); // [B, Hq, Tq, Tk]
  const visible = (i: number, j: number): boolean => {
    const p = o.qStart + i;
    return (!o.causal || j <= p) && (o.window <= 0 || p - j < o.window);
  };
  const maskAdd = new Float64Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) maskAdd[i * Tk + j] = visible(i, j) ? 0 : -1e30;
  // per-row stabiliser m (max over visible logits and the sink) and a 1 for rows with nothing at all
  const sd = s.dense();
  const m = new Float64Array(B * Hq * Tq);
  const empty = new Float64Array(B * Hq * Tq);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let i = 0; i < Tq; i++) {
        let mx = sinks ? sinks.dense()[h]! : -Infinity;
        for (let j = 0; j < Tk; j++) if (visible(i, j)) mx = Math.max(mx, sd[((b * Hq + h) * Tq + i) * Tk + j]!);
        const r = (b * Hq + h) * Tq + i;
        m[r] = Number.isFinite(mx) ? mx : 0;
        empty[r] = mx === -Infinity ? 1 : 0;
      }
  const c = (a: Float64Array, shape: number[]): Tensor => new Tensor(q.dtype === "float64" ? a : Float32Array.from(a), shape);
  const mT = c(m, [B, Hq, Tq, 1]);
  const e = ops.exp(ops.sub(ops.add(s, c(maskAdd, [Tq, Tk])), mT));
  let denom = ops.add(ops.sum(e, -1, true), c(empty, [B, Hq, Tq, 1]));
  if (sinks) denom = ops.add(denom, ops.exp(ops.sub(ops.reshape(sinks, [1, Hq, 1, 1]), mT)));
  const p = ops.div(e, denom);
  return ops.contiguous(ops.permute(ops.matmul(p, rep(v, Dv)), [0, 2, 1, 3])); // [B, Tq, Hq, Dv]
}

function inputs(c: Cfg, seed: number): Tensor[] {
  const q = randn64([c.B, c.Tq, c.Hq, c.D], seed, 1.5);
  const k = randn64([c.B, c.Tk, c.Hkv, c.D], seed + 1, 1.5);
  const v = randn64([c.B, c.Tk, c.Hkv, c.Dv], seed + 2);
  return c.sinks ? [q, k, v, randn64([c.Hq], seed + 3, 2)] : [q, k, v];
}

function opts(c: Cfg): { causal: boolean; window: number; scale: number; qStart: number } {
  return { causal: c.causal ?? true, window: c.window ?? 0, scale: c.scale ?? 1 / Math.sqrt(c.D), qStart: c.qStart ?? c.Tk - c.Tq };
}

const fused = (c: Cfg) => (q: Tensor, k: Tensor, v: Tensor, s?: Tensor): Tensor =>
  ops.attention(q, k, v, { causal: c.causal, window: c.window, sinks: s ?? null, scale: c.scale, qStart: c.qStart });
const naive = (c: Cfg) => (q: Tensor, k: Tensor, v: Tensor, s?: Tensor): Tensor => naiveAttention(q, k, v, s ?? null, opts(c));

const name = (c: Cfg): string => JSON.stringify(c);

const gqa = { B: 1, Hq: 4, Hkv: 2, D: 8, Dv: 6 };
const CONFIGS: Cfg[] = [
  // GQA Hq=4/Hkv=2, D ≠ Dv, T across tile boundaries (BQ = 16, BK = 32)
  ...[1, 7, 63, 65, 130].map((T) => ({ ...gqa, Tq: T, Tk: T })),
  { B: 2, Tq: 33, Tk: 33, Hq: 4, Hkv: 1, D: 5, Dv: 7 }, // MQA
  { B: 1, Tq: 40, Tk: 40, Hq: 3, Hkv: 3, D: 6, Dv: 6 }, // MHA
  { ...gqa, Tq: 70, Tk: 70, window: 5 }, // sliding window
  { ...gqa, Tq: 37, Tk: 37, sinks: true }, // sinks
  { ...gqa, Tq: 65, Tk: 65, sinks: true, window: 33 }, // sinks + window
  { ...gqa, Tq: 1, Tk: 65 }, // one-token decode against a cache
  { ...gqa, Tq: 7, Tk: 130, window: 16, sinks: true }, // chunked decode
  { ...gqa, Tq: 9, Tk: 20, causal: false }, // full (encoder) attention
  { ...gqa, Tq: 9, Tk: 20, causal: false, window: 4, qStart: 5 }, // non-causal window: later keys stay visible
  { ...gqa, B: 2, Tq: 10, Tk: 10, qStart: -3 }, // first 3 rows see no key
  { ...gqa, Tq: 10, Tk: 10, qStart: -3, sinks: true, scale: 0.7 },
];

test("fused attention ≡ naive materialising attention: forward and all gradients (float64)", () => {
  let seed = 1;
  for (const c of CONFIGS) {
    const xs = inputs(c, (seed += 10));
    const want = outAndGrads(naive(c) as (...t: Tensor[]) => Tensor, xs);
    const got = outAndGrads(fused(c) as (...t: Tensor[]) => Tensor, xs);
    const labels = ["out", "dq", "dk", "dv", "dsinks"];
    want.forEach((w, i) => assertClose(got[i]!, w, 1e-10, 1e-12, `${labels[i]} ${name(c)}`));
  }
});

test("fused attention in float32 matches the float64 naive forward", () => {
  for (const c of [CONFIGS[4]!, CONFIGS[8]!, CONFIGS[11]!]) {
    const xs = inputs(c, 5);
    const want = naive(c)(xs[0]!, xs[1]!, xs[2]!, xs[3]).dense();
    const got = fused(c)(to32(xs[0]!), to32(xs[1]!), to32(xs[2]!), xs[3] && to32(xs[3])).dense();
    assertClose(got, want, 1e-5, 1e-5, `f32 ${name(c)}`);
  }
});

test("attention gradients by finite differences (gradcheck), sinks included", () => {
  const small: Cfg[] = [
    { B: 1, Tq: 5, Tk: 5, Hq: 4, Hkv: 2, D: 3, Dv: 2, sinks: true },
    { B: 2, Tq: 3, Tk: 6, Hq: 2, Hkv: 1, D: 4, Dv: 3, window: 3, sinks: true },
    { B: 1, Tq: 4, Tk: 4, Hq: 2, Hkv: 2, D: 2, Dv: 5, causal: false },
    { B: 1, Tq: 5, Tk: 5, Hq: 2, Hkv: 1, D: 2, Dv: 2, qStart: -2, sinks: true },
  ];
  for (const c of small) gradcheck(fused(c) as (...t: Tensor[]) => Tensor, inputs(c, 3));
  // sinks alone over a longer sequence (the −Σ p_sink·Δ formula across several key tiles)
  const c: Cfg = { B: 1, Tq: 40, Tk: 70, Hq: 4, Hkv: 2, D: 4, Dv: 3, sinks: true };
  const xs = inputs(c, 9);
  gradcheck((s) => fused(c)(xs[0]!, xs[1]!, xs[2]!, s), [xs[3]!]);
});

test("attention properties: W ≥ T is full causal, W = 1 returns v, sink → −∞ is plain softmax, equal logits give n/(n+1)", () => {
  const c: Cfg = { ...gqa, Tq: 20, Tk: 20 };
  const [q, k, v] = inputs(c, 7) as [Tensor, Tensor, Tensor];
  const full = ops.attention(q, k, v).dense();
  assertClose(ops.attention(q, k, v, { window: 20 }).dense(), full, 1e-14, 1e-15, "W = T");
  assertClose(ops.attention(q, k, v, { window: 1000 }).dense(), full, 1e-14, 1e-15, "W > T");
  // W = 1: each query sees only itself → out[b, t, h] = v[b, t, ⌊h/2⌋]
  const w1 = ops.attention(q, k, v, { window: 1 });
  for (let t = 0; t < 20; t++) for (let h = 0; h < 4; h++) for (let d = 0; d < 6; d++) assert.ok(Math.abs(w1.at(0, t, h, d) - v.at(0, t, h >> 1, d)) < 1e-14, `W = 1: t=${t} h=${h} d=${d}`);
  // very negative sink: identical to no sink
  const sinkLow = new Tensor(new Float64Array(4).fill(-1e4), [4]);
  assertClose(ops.attention(q, k, v, { sinks: sinkLow }).dense(), full, 1e-14, 1e-15, "sink −∞");
  // all logits 0 and sink 0, v = 1: row sums are n/(n+1) with n visible keys
  const zq = new Tensor(new Float64Array(q.size), q.shape);
  const ones = new Tensor(new Float64Array(v.size).fill(1), v.shape);
  const y = ops.attention(zq, k, ones, { sinks: new Tensor(new Float64Array(4), [4]) });
  for (let t = 0; t < 20; t++) assert.ok(Math.abs(y.at(0, t, 3, 2) - (t + 1) / (t + 2)) < 1e-14, `row ${t}`);
  // GQA with kv heads repeated ≡ MHA
  const rep = (x: Tensor): Tensor => ops.reshape(ops.expand(ops.reshape(x, [1, 20, 2, 1, x.shape[3]!]), [1, 20, 2, 2, x.shape[3]!]), [1, 20, 4, x.shape[3]!]);
  assertClose(ops.attention(q, rep(k), rep(v)).dense(), full, 1e-14, 1e-15, "GQA ≡ MHA");
});

test("decode against a growing cache, one query at a time, ≡ full causal attention", () => {
  const c: Cfg = { ...gqa, Tq: 40, Tk: 40, window: 9, sinks: true };
  const [q, k, v, s] = inputs(c, 11) as [Tensor, Tensor, Tensor, Tensor];
  const full = ops.attention(q, k, v, { window: 9, sinks: s });
  for (let t = 0; t < 40; t++) {
    const step = ops.attention(ops.slice(q, 1, t, t + 1), ops.slice(k, 1, 0, t + 1), ops.slice(v, 1, 0, t + 1), { window: 9, sinks: s });
    assertClose(step.dense(), ops.contiguous(ops.slice(full, 1, t, t + 1)).dense(), 1e-13, 1e-14, `decode ${t}`);
  }
});

test("rows with no visible key give zeros and finite gradients", () => {
  const c: Cfg = { ...gqa, Tq: 6, Tk: 6, qStart: -2 };
  const xs = inputs(c, 13);
  const [out, dq] = outAndGrads(fused(c) as (...t: Tensor[]) => Tensor, xs);
  for (let i = 0; i < 2 * 4 * 6; i++) assert.equal(out![i], 0); // queries 0 and 1 (positions −2, −1)
  for (const g of dq!) assert.ok(Number.isFinite(g), `dq ${g}`);
});

test("attention validates shapes and options, naming the op and shapes", () => {
  const q = randn64([1, 4, 4, 8], 1);
  const k = randn64([1, 4, 2, 8], 2);
  const v = randn64([1, 4, 2, 6], 3);
  assert.throws(() => ops.attention(q, randn64([1, 4, 3, 8], 2), randn64([1, 4, 3, 6], 3)), (e: Error) => e instanceof OpError && /attention: query heads 4 must be a multiple of kv heads 3/.test(e.message) && /q \[1, 4, 4, 8\]/.test(e.message));
  assert.throws(() => ops.attention(q, randn64([1, 4, 2, 7], 2), v), /attention: q and k head dims differ \(8 vs 7\)/);
  assert.throws(() => ops.attention(q, k, randn64([1, 5, 2, 6], 3)), /attention: k and v must agree/);
  assert.throws(() => ops.attention(q, k, v, { sinks: randn64([2], 4) }), /attention: sinks must be \[Hq\] = \[4\]/);
  assert.throws(() => ops.attention(q, k, v, { window: -1 }), /attention: window must be an integer ≥ 0/);
  assert.throws(() => ops.attention(randn64([4, 4, 8], 1), k, v), /attention: q, k, v must be \[B, T, H, D\]/);
});

test("native ≡ reference: attention forward and gradients", { skip: skipNative }, () => {
  for (const c of [CONFIGS[4]!, CONFIGS[9]!, CONFIGS[12]!, CONFIGS[13]!])
    nativeMatchesReference(fused(c) as (...t: Tensor[]) => Tensor, inputs(c, 17), 1e-4, 1e-5, `attention ${name(c)}`);
});
