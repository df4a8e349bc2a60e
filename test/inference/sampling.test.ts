import { test } from "node:test";
import assert from "node:assert/strict";
import { Sampler, TokenCounts, UniformStream, distribution, drawFrom, logprobsOf, samplingParams } from "../../src/inference/sampling.js";
import { acceptDrafts, acceptanceProbability, expectedTokensPerPass, residual } from "../../src/inference/speculative.js";

/** Pearson χ² of observed counts against probabilities (cells with p = 0 must be empty). */
function chiSquare(counts: number[], p: ArrayLike<number>): number {
  const n = counts.reduce((a, b) => a + b, 0);
  let x = 0;
  for (let i = 0; i < counts.length; i++) {
    if (p[i]! === 0) {
      assert.equal(counts[i], 0, `token ${i} has probability 0 but was drawn`);
      continue;
    }
    const e = n * p[i]!;
    x += (counts[i]! - e) ** 2 / e;
  }
  return x;
}
// χ² critical values at p = 0.001 (the tests are deterministic: fixed seeds)
const CHI2_001: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32 };

function softmax(l: number[], tau = 1): number[] {
  const m = Math.max(...l);
  const e = l.map((x) => Math.exp((x - m) / tau));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

const LOGITS = [1.2, -0.3, 0.5, 2.0, -1.5, 0.0, 0.7];

test("a fixed seed reproduces the draws; another seed gives others", () => {
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 0.9, seed });
    return Array.from({ length: 50 }, () => s.sample(LOGITS, 0, LOGITS.length, null));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  const u = new UniformStream(5);
  for (let i = 0; i < 1000; i++) {
    const x = u.next();
    assert.ok(x > 0 && x <= 1);
  }
});

test("empirical distribution of samples matches softmax(logits/τ) (χ²)", () => {
  for (const tau of [1, 0.5, 2]) {
    const s = new Sampler({ temperature: tau, seed: 1234 });
    const counts = new Array(LOGITS.length).fill(0);
    const N = 20000;
    for (let i = 0; i < N; i++) counts[s.sample(LOGITS, 0, LOGITS.length, null)]++;
    const x2 = chiSquare(counts, softmax(LOGITS, tau));
    assert.ok(x2 < CHI2_001[LOGITS.length - 1]!, `τ ${tau}: χ² ${x2.toFixed(2)}`);
  }
});

test("greedy, top-k, top-p, min-p truncate as specified", () => {
  const V = LOGITS.length;
  const greedy = distribution(LOGITS, 0, V, samplingParams({ temperature: 0 }), null);
  assert.deepEqual(Array.from(greedy), [0, 0, 0, 1, 0, 0, 0]);
  const p = softmax(LOGITS);
  const k2 = distribution(LOGITS, 0, V, samplingParams({ topK: 2 }), null);
  assert.equal(k2.filter((x) => x > 0).length, 2);
  assert.ok(Math.abs(k2[3]! - p[3]! / (p[3]! + p[0]!)) < 1e-12);
  // top-p: sorted p = [3, 0, 6, 2, 5, 1, 4]; keep the smallest prefix with mass ≥ 0.8
  const order = [3, 0, 6, 2, 5, 1, 4];
  let acc = 0;
  let keep = 0;
  while (acc < 0.8) acc += p[order[keep++]!]!;
  const tp = distribution(LOGITS, 0, V, samplingParams({ topP: 0.8 }), null);
  assert.equal(tp.filter((x) => x > 0).length, keep);
  for (let r = 0; r < keep; r++) assert.ok(tp[order[r]!]! > 0);
  const mp = distribution(LOGITS, 0, V, samplingParams({ minP: 0.3 }), null);
  const mx = Math.max(...p);
  for (let i = 0; i < V; i++) assert.equal(mp[i]! > 0, p[i]! >= 0.3 * mx);
  for (const d of [k2, tp, mp]) assert.ok(Math.abs(d.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  // top-k = 1 is greedy
  const s = new Sampler({ topK: 1, seed: 3 });
  for (let i = 0; i < 20; i++) assert.equal(s.sample(LOGITS, 0, V, null), 3);
});

test("repetition, presence and frequency penalties", () => {
  const V = LOGITS.length;
  const ctx = new TokenCounts([3, 3, 4]);
  const d = distribution(LOGITS, 0, V, samplingParams({ repetitionPenalty: 2 }), ctx);
  const l = LOGITS.slice();
  l[3] = l[3]! / 2; // positive logit divided
  l[4] = l[4]! * 2; // negative logit multiplied
  const ref = softmax(l);
  for (let i = 0; i < V; i++) assert.ok(Math.abs(d[i]! - ref[i]!) < 1e-12);
  const d2 = distribution(LOGITS, 0, V, samplingParams({ presencePenalty: 0.5, frequencyPenalty: 0.25 }), ctx);
  const l2 = LOGITS.slice();
  l2[3] = l2[3]! - 0.5 - 0.5;
  l2[4] = l2[4]! - 0.5 - 0.25;
  const ref2 = softmax(l2);
  for (let i = 0; i < V; i++) assert.ok(Math.abs(d2[i]! - ref2[i]!) < 1e-12);
  // greedy with a penalty moves away from the repeated token
  const g = new Sampler({ temperature: 0, repetitionPenalty: 10 });
  assert.equal(g.sample(LOGITS, 0, V, ctx), 0);
});

test("bad sampling values are clear errors", () => {
  assert.throws(() => samplingParams({ temperature: -1 }), /temperature must be in \[0, 100\]/);
  assert.throws(() => samplingParams({ topP: 0 }), /topP must be in \(0, 1\]/);
  assert.throws(() => samplingParams({ topK: 1.5 }), /topK must be an integer/);
  assert.throws(() => samplingParams({ temperature: NaN }), /finite number/);
  assert.throws(() => samplingParams({ repetitionPenalty: 0 }), /repetitionPenalty/);
  assert.throws(() => samplingParams({ seed: -3 }), /seed/);
});

test("log-probabilities are the raw model's, with the top alternatives", () => {
  const lp = logprobsOf(LOGITS, 0, LOGITS.length, 2, 3);
  const p = softmax(LOGITS);
  assert.ok(Math.abs(lp.logprob - Math.log(p[2]!)) < 1e-12);
  assert.deepEqual(lp.top!.map((t) => t.token), [3, 0, 6]);
  assert.ok(Math.abs(lp.top![0]!.logprob - Math.log(p[3]!)) < 1e-12);
});

test("drawFrom never returns a zero-probability token", () => {
  const p = [0, 0.5, 0, 0.5, 0];
  for (const u of [1e-12, 0.25, 0.5, 0.5000001, 1]) assert.ok([1, 3].includes(drawFrom(p, u)));
});

// ---- speculative acceptance rule (components.md §17) ---------------------------------------------

test("speculative: q = p accepts every draft", () => {
  const p = softmax([0.1, 1, -1, 0.3]);
  const u = new UniformStream(9);
  for (let i = 0; i < 200; i++) {
    const drafts = [drawFrom(p, u.next()), drawFrom(p, u.next())];
    const r = acceptDrafts(drafts, [p, p], [p, p, p], () => u.next());
    assert.equal(r.accepted, 2);
    assert.equal(r.tokens.length, 3);
  }
  assert.ok(Math.abs(acceptanceProbability(p, p) - 1) < 1e-12);
});

test("speculative: disjoint supports always reject and resample from p", () => {
  const p = [0.5, 0.5, 0, 0];
  const q = [0, 0, 0.3, 0.7];
  const u = new UniformStream(11);
  for (let i = 0; i < 200; i++) {
    const r = acceptDrafts([drawFrom(q, u.next())], [q], [p, p], () => u.next());
    assert.equal(r.accepted, 0);
    assert.ok(r.tokens[0] === 0 || r.tokens[0] === 1);
  }
  assert.deepEqual(Array.from(residual(p, q)), p);
});

test("speculative: the emitted tokens are distributed as the target p (χ²), for γ = 1 and 2", () => {
  const V = 6;
  const p1 = softmax([0.3, 1.1, -0.4, 0.9, -1.2, 0.2]);
  const q1 = softmax([1.5, -0.2, 0.4, 0.1, 0.3, -0.8]);
  const p2 = softmax([-0.5, 0.2, 1.3, 0.0, 0.6, -0.1]);
  const q2 = softmax([0.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
  const p3 = softmax([0.4, 0.4, 0.4, 0.4, -2, 1]);
  const u = new UniformStream(2024);
  const N = 20000;
  const first = new Array(V).fill(0);
  const second = new Array(V).fill(0);
  let acc = 0;
  for (let i = 0; i < N; i++) {
    const drafts = [drawFrom(q1, u.next()), drawFrom(q2, u.next())];
    // target p does not depend on the earlier tokens here, so each emitted position's marginal is p_i
    const r = acceptDrafts(drafts, [q1, q2], [p1, p2, p3], () => u.next());
    first[r.tokens[0]!]++;
    if (r.tokens.length > 1) second[r.tokens[1]!]++;
    acc += r.accepted;
  }
  assert.ok(chiSquare(first, p1) < CHI2_001[V - 1]!, `first token χ² ${chiSquare(first, p1)}`);
  assert.ok(chiSquare(second, p2) < CHI2_001[V - 1]!, `second token χ² ${chiSquare(second, p2)}`);
  // acceptance rate of the first draft ≈ α = Σ min(p, q)
  const alpha = acceptanceProbability(p1, q1);
  const firstAccepted = first.reduce((a, b) => a + b, 0); // every sample emits a first token
  assert.equal(firstAccepted, N);
  assert.ok(acc / N > 0 && acc / N < 2);
  assert.ok(alpha > 0 && alpha < 1);
  assert.ok(Math.abs(expectedTokensPerPass(0.5, 1) - 1.5) < 1e-12);
  assert.equal(expectedTokensPerPass(1, 3), 4);
});

test("speculative greedy: one-hot p and q reduce to accept-iff-argmax", () => {
  const oneHot = (i: number) => Array.from({ length: 5 }, (_, j) => (j === i ? 1 : 0));
  const r1 = acceptDrafts([2, 4], [oneHot(2), oneHot(4)], [oneHot(2), oneHot(1), oneHot(0)], () => 0.7);
  assert.deepEqual(r1, { accepted: 1, tokens: [2, 1] });
  const r2 = acceptDrafts([2, 4], [oneHot(2), oneHot(4)], [oneHot(2), oneHot(4), oneHot(3)], () => 0.7);
  assert.deepEqual(r2, { accepted: 2, tokens: [2, 4, 3] });
});
