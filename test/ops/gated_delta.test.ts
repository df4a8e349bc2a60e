/**
 * Gated delta rule (src/ops/gated_delta.ts): chunked ≡ recurrent ≡ a naive per-token loop written
 * here, prefill + decode ≡ full sequence, special cases (β ≡ 0, g ≡ 0), gradients of all inputs
 * against finite differences (including stressed gates), and input validation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { gatedDeltaRule, type GatedDeltaMode } from "../../src/ops/gated_delta.js";
import { withBackend } from "../../src/backend/index.js";
import { backward } from "../../src/autograd/backward.js";
import { gradcheck, randn64, to32, assertClose } from "../helpers/gradcheck.js";
import { philoxNormal } from "../../src/tensor/rng.js";
import { OpError } from "../../src/errors.js";

// ---- naive reference: plain loops in float64, S_t = e^{g_t}(I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ ----
function naive(
  q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, init: Tensor | null, scale: number,
): { out: Float64Array; state: Float64Array } {
  const [B, T, H, Dk] = q.shape as number[] as [number, number, number, number];
  const Dv = v.shape[3]!;
  const Q = q.dense(), Kd = k.dense(), V = v.dense(), G = g.dense(), Bt = beta.dense();
  const out = new Float64Array(B * T * H * Dv);
  const state = new Float64Array(B * H * Dk * Dv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const S: number[][] = [];
      for (let i = 0; i < Dk; i++) {
        S.push([]);
        for (let j = 0; j < Dv; j++) S[i]!.push(init ? init.at(b, h, i, j) : 0);
      }
      for (let t = 0; t < T; t++) {
        const row = (b * T + t) * H + h;
        const kv = (i: number): number => Kd[row * Dk + i]!;
        const a = Math.exp(G[row]!);
        const be = Bt[row]!;
        // kᵀS (a row of length Dv), then S ← a(S − β k (kᵀS)) + β k vᵀ
        const kS: number[] = [];
        for (let j = 0; j < Dv; j++) {
          let x = 0;
          for (let i = 0; i < Dk; i++) x += kv(i) * S[i]![j]!;
          kS.push(x);
        }
        for (let i = 0; i < Dk; i++)
          for (let j = 0; j < Dv; j++) S[i]![j] = a * (S[i]![j]! - be * kv(i) * kS[j]!) + be * kv(i) * V[row * Dv + j]!;
        for (let j = 0; j < Dv; j++) {
          let x = 0;
          for (let i = 0; i < Dk; i++) x += scale * Q[row * Dk + i]! * S[i]![j]!;
          out[row * Dv + j] = x;
        }
      }
      for (let i = 0; i < Dk; i++) for (let j = 0; j < Dv; j++) state[((b * H + h) * Dk + i) * Dv + j] = S[i]![j]!;
    }
  return { out, state };
}

/** L2-normalise the last axis (test-side, plain loops). */
function l2n(t: Tensor): Tensor {
  const d = Float64Array.from(t.dense());
  const D = t.shape[t.rank - 1]!;
  for (let r = 0; r < d.length / D; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += d[r * D + i]! ** 2;
    const f = 1 / Math.sqrt(s + 1e-6);
    for (let i = 0; i < D; i++) d[r * D + i]! *= f;
  }
  return new Tensor(d, t.shape);
}

function map(t: Tensor, f: (x: number) => number): Tensor {
  return new Tensor(Float64Array.from(t.dense(), f), t.shape);
}

interface Inputs { q: Tensor; k: Tensor; v: Tensor; g: Tensor; beta: Tensor; init: Tensor }

/** Random inputs: q, k unit-norm, g = −softplus(·)·e^{·} ≤ 0 (layer-like), β = σ(·). */
function inputs(B: number, T: number, H: number, Dk: number, Dv: number, seed: number, gates?: { g?: (i: number) => number; beta?: (i: number) => number }): Inputs {
  const q = l2n(randn64([B, T, H, Dk], seed));
  const k = l2n(randn64([B, T, H, Dk], seed + 1));
  const v = randn64([B, T, H, Dv], seed + 2);
  const a = randn64([B, T, H], seed + 3);
  const bb = randn64([B, T, H], seed + 4);
  let i = 0;
  const g = gates?.g ? map(a, () => gates.g!(i++)) : map(a, (x) => -0.3 * Math.log1p(Math.exp(x)));
  i = 0;
  const beta = gates?.beta ? map(bb, () => gates.beta!(i++)) : map(bb, (x) => 1 / (1 + Math.exp(-x)));
  const init = randn64([B, H, Dk, Dv], seed + 5, 0.5);
  return { q, k, v, g, beta, init };
}

function run(x: Inputs, withInit: boolean, mode: GatedDeltaMode, chunkSize = 64): { out: Tensor; finalState: Tensor } {
  const r = gatedDeltaRule(x.q, x.k, x.v, x.g, x.beta, { initialState: withInit ? x.init : null, mode, chunkSize });
  return { out: r.out, finalState: r.finalState! };
}

const LENGTHS = [1, 63, 64, 65, 130];

test("chunked ≡ recurrent ≡ naive (float64, B=2, H=2, Dk=8, Dv=12), with and without initial state", () => {
  for (const T of LENGTHS)
    for (const withInit of [false, true]) {
      const x = inputs(2, T, 2, 8, 12, 10 + T);
      const ref = naive(x.q, x.k, x.v, x.g, x.beta, withInit ? x.init : null, 1 / Math.sqrt(8));
      for (const [mode, C] of [["chunk", 64], ["chunk", 16], ["recurrent", 64], ["auto", 64]] as const) {
        const r = run(x, withInit, mode, C);
        const what = `T=${T} init=${withInit} ${mode}/${C}`;
        assertClose(r.out.dense(), ref.out, 1e-11, 1e-12, `out ${what}`);
        assertClose(r.finalState.dense(), ref.state, 1e-11, 1e-12, `finalState ${what}`);
      }
    }
});

test("float32 chunked and recurrent match the float64 naive loop (rtol 1e-4)", () => {
  for (const T of [65, 130]) {
    const x = inputs(2, T, 2, 8, 12, 50 + T);
    const ref = naive(x.q, x.k, x.v, x.g, x.beta, x.init, 1 / Math.sqrt(8));
    for (const mode of ["chunk", "recurrent"] as const) {
      const r = gatedDeltaRule(to32(x.q), to32(x.k), to32(x.v), to32(x.g), to32(x.beta), { initialState: to32(x.init), mode });
      assert.equal(r.out.dtype, "float32");
      assertClose(r.out.dense(), ref.out, 1e-4, 1e-5, `out f32 ${mode} T=${T}`);
      assertClose(r.finalState!.dense(), ref.state, 1e-4, 1e-5, `finalState f32 ${mode} T=${T}`);
    }
  }
});

test("prefill (chunked) + token-by-token decode (recurrent, passing the state) ≡ the full sequence", () => {
  const T = 130;
  const P = 97; // prefill length: one full chunk and a partial one
  const x = inputs(2, T, 2, 8, 12, 77);
  const full = run(x, true, "chunk");
  const part = (t: Tensor, a: number, b: number): Tensor => ops.contiguous(ops.slice(t, 1, a, b));
  const pre = gatedDeltaRule(part(x.q, 0, P), part(x.k, 0, P), part(x.v, 0, P), part(x.g, 0, P), part(x.beta, 0, P), { initialState: x.init, mode: "chunk" });
  assertClose(pre.out.dense(), part(full.out, 0, P).dense(), 1e-11, 1e-12, "prefill out");
  let state = pre.finalState!;
  for (let t = P; t < T; t++) {
    const step = gatedDeltaRule(part(x.q, t, t + 1), part(x.k, t, t + 1), part(x.v, t, t + 1), part(x.g, t, t + 1), part(x.beta, t, t + 1), { initialState: state });
    assertClose(step.out.dense(), part(full.out, t, t + 1).dense(), 1e-11, 1e-12, `decode out t=${t}`);
    state = step.finalState!;
  }
  assertClose(state.dense(), full.finalState.dense(), 1e-11, 1e-12, "decoded final state");
});

test("β ≡ 0 only decays the state; g ≡ 0 is plain DeltaNet", () => {
  const [B, T, H, Dk, Dv] = [1, 70, 2, 4, 6];
  const scale = 0.5;
  // β ≡ 0: o_t = e^{Σ_{u≤t} g_u} S0ᵀ q_t·scale and S_T = e^{Σ g} S0
  const x = inputs(B, T, H, Dk, Dv, 5, { beta: () => 0 });
  for (const mode of ["chunk", "recurrent"] as const) {
    const r = gatedDeltaRule(x.q, x.k, x.v, x.g, x.beta, { initialState: x.init, mode, scale });
    for (let h = 0; h < H; h++) {
      let cum = 0;
      for (let t = 0; t < T; t++) {
        cum += x.g.at(0, t, h);
        for (let j = 0; j < Dv; j++) {
          let e = 0;
          for (let i = 0; i < Dk; i++) e += x.init.at(0, h, i, j) * x.q.at(0, t, h, i);
          assert.ok(Math.abs(r.out.at(0, t, h, j) - Math.exp(cum) * scale * e) < 1e-12, `β=0 out ${mode} t=${t}`);
        }
      }
      for (let i = 0; i < Dk; i++)
        for (let j = 0; j < Dv; j++) assert.ok(Math.abs(r.finalState!.at(0, h, i, j) - Math.exp(cum) * x.init.at(0, h, i, j)) < 1e-12);
    }
  }
  // g ≡ 0: DeltaNet, S ← S + β k (v − Sᵀk)ᵀ, written out directly
  const y = inputs(B, T, H, Dk, Dv, 6, { g: () => 0 });
  const r = gatedDeltaRule(y.q, y.k, y.v, y.g, y.beta, { mode: "chunk", chunkSize: 16, scale });
  for (let h = 0; h < H; h++) {
    const S = new Float64Array(Dk * Dv);
    for (let t = 0; t < T; t++) {
      const be = y.beta.at(0, t, h);
      for (let j = 0; j < Dv; j++) {
        let pred = 0;
        for (let i = 0; i < Dk; i++) pred += S[i * Dv + j]! * y.k.at(0, t, h, i);
        const err = y.v.at(0, t, h, j) - pred;
        for (let i = 0; i < Dk; i++) S[i * Dv + j]! += be * y.k.at(0, t, h, i) * err;
      }
      for (let j = 0; j < Dv; j++) {
        let o = 0;
        for (let i = 0; i < Dk; i++) o += S[i * Dv + j]! * y.q.at(0, t, h, i) * scale;
        assert.ok(Math.abs(r.out.at(0, t, h, j) - o) < 1e-11, `g=0 out t=${t}`);
      }
    }
  }
});

/** A fixed random weighting of both outputs into one tensor, so gradcheck sees out and finalState. */
function combined(withInit: boolean, mode: GatedDeltaMode, C: number, extra: { useQkL2Norm?: boolean } = {}) {
  return (...xs: Tensor[]): Tensor => {
    const [q, k, v, g, beta, init] = xs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    const r = gatedDeltaRule(q, k, v, g, beta, { initialState: withInit ? init : null, mode, chunkSize: C, ...extra });
    const w = new Float64Array(r.finalState!.size);
    philoxNormal(w, 4242, 3, 0);
    const fs = ops.sum(ops.mul(r.finalState!, new Tensor(w, r.finalState!.shape)));
    return ops.add(ops.reshape(r.out, [-1]), fs);
  };
}

test("gradients of q, k, v, g, beta and initialState match finite differences (chunk 16 and 64)", () => {
  for (const T of LENGTHS)
    for (const C of [16, 64]) {
      if (T === 1 && C === 16) continue;
      const x = inputs(1, T, 2, 4, 5, 100 + T);
      gradcheck(combined(true, "chunk", C), [x.q, x.k, x.v, x.g, x.beta, x.init], { maxProbe: 24, h: 1e-5 });
    }
  // no initial state, output only
  const x = inputs(2, 40, 1, 3, 4, 9);
  gradcheck((q, k, v, g, b) => gatedDeltaRule(q!, k!, v!, g!, b!, { chunkSize: 16, mode: "chunk", outputFinalState: false }).out, [x.q, x.k, x.v, x.g, x.beta], { maxProbe: 24, h: 1e-5 });
});

test("every gradient element equals autograd through the per-token recurrence written with ordinary ops", () => {
  const [B, T, H, Dk, Dv] = [2, 37, 2, 4, 3];
  const scale = 0.7;
  const x = inputs(B, T, H, Dk, Dv, 800);
  const W = randn64([B, T, H, Dv], 801);
  const W2 = randn64([B, H, Dk, Dv], 802);
  const leaves = (): Tensor[] => [x.q, x.k, x.v, x.g, x.beta, x.init].map((t) => t.detach().requiresGrad_());
  // per token: S ← e^g S; u = β(v − kᵀS); S ← S + k ⊗ u; o = scale·qᵀS   (S [B, H, Dk, Dv])
  const a = leaves();
  const [q, k, v, g, beta, init] = a as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const at = (t: Tensor, i: number, last: number[]): Tensor => ops.reshape(ops.slice(t, 1, i, i + 1), [B, H, ...last]);
  let S = init;
  let loss: Tensor | null = null;
  for (let t = 0; t < T; t++) {
    S = ops.mul(S, ops.exp(at(g, t, [1, 1])));
    const kt = at(k, t, [1, Dk]); // [B, H, 1, Dk]
    const u = ops.mul(ops.sub(at(v, t, [1, Dv]), ops.matmul(kt, S)), at(beta, t, [1, 1])); // [B, H, 1, Dv]
    S = ops.add(S, ops.matmul(ops.transpose(kt), u));
    const o = ops.mul(ops.matmul(at(q, t, [1, Dk]), S), scale); // [B, H, 1, Dv]
    const term = ops.sum(ops.mul(o, at(W, t, [1, Dv])));
    loss = loss ? ops.add(loss, term) : term;
  }
  backward([ops.add(loss!, ops.sum(ops.mul(S, W2)))]);
  for (const C of [8, 64]) {
    const b = leaves();
    const r = gatedDeltaRule(b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, { initialState: b[5]!, chunkSize: C, mode: "chunk", scale });
    backward([ops.add(ops.sum(ops.mul(r.out, W)), ops.sum(ops.mul(r.finalState!, W2)))]);
    ["q", "k", "v", "g", "beta", "initialState"].forEach((name, i) =>
      assertClose(b[i]!.grad!.dense(), a[i]!.grad!.dense(), 1e-10, 1e-12, `grad ${name} (chunk ${C})`));
  }
});

test("gradients under stressed gates: g near 0 and −20, β near 0 and 1", () => {
  const T = 70;
  const gates: [string, (i: number) => number, (i: number) => number][] = [
    ["g≈0, β≈1", (i) => -1e-7 * (1 + (i % 3)), () => 1 - 1e-6],
    ["g≈−20, β≈0", (i) => -20 + 0.1 * (i % 5), () => 1e-6],
    ["mixed", (i) => (i % 7 === 0 ? -20 : i % 3 === 0 ? -1e-7 : -0.5), (i) => (i % 2 === 0 ? 1 - 1e-6 : 1e-6)],
  ];
  for (const [name, gf, bf] of gates) {
    const x = inputs(1, T, 1, 4, 5, 300, { g: gf, beta: bf });
    const ref = naive(x.q, x.k, x.v, x.g, x.beta, x.init, 0.5);
    const r = gatedDeltaRule(x.q, x.k, x.v, x.g, x.beta, { initialState: x.init, chunkSize: 16, mode: "chunk" });
    assertClose(r.out.dense(), ref.out, 1e-10, 1e-12, `out ${name}`);
    for (const C of [16, 64]) gradcheck(combined(true, "chunk", C), [x.q, x.k, x.v, x.g, x.beta, x.init], { maxProbe: 30, h: 1e-5 });
  }
});

test("the recurrent forward feeds the same backward; useQkL2Norm normalises inside", () => {
  for (const T of [1, 9, 20]) {
    const x = inputs(1, T, 2, 4, 3, 400 + T);
    gradcheck(combined(true, "recurrent", 8), [x.q, x.k, x.v, x.g, x.beta, x.init], { maxProbe: 24, h: 1e-5 });
  }
  // useQkL2Norm on raw q, k ≡ normalising first
  const raw = inputs(1, 33, 2, 4, 3, 500);
  const q = randn64([1, 33, 2, 4], 501, 2);
  const k = randn64([1, 33, 2, 4], 502, 2);
  const a = gatedDeltaRule(q, k, raw.v, raw.g, raw.beta, { useQkL2Norm: true, chunkSize: 16 });
  const b = gatedDeltaRule(l2n(q), l2n(k), raw.v, raw.g, raw.beta, { chunkSize: 16 });
  assertClose(a.out.dense(), b.out.dense(), 1e-12, 1e-13, "useQkL2Norm");
  gradcheck(combined(false, "chunk", 16, { useQkL2Norm: true }), [q, k, raw.v, raw.g, raw.beta, raw.init], { maxProbe: 16, h: 1e-5, check: [0, 1] });
});

test("backward with a partial chain: only some inputs require grad; gradients accumulate in leaves", () => {
  const x = inputs(1, 20, 1, 4, 4, 600);
  const v = x.v.detach().requiresGrad_();
  const r = gatedDeltaRule(x.q, x.k, v, x.g, x.beta, { chunkSize: 8 });
  assert.ok(r.out.requiresGrad);
  backward([ops.sum(r.out)]);
  assert.deepEqual(v.grad!.shape, v.shape);
  assert.equal(x.q.grad, null);
  // no node recorded when nothing requires grad
  const n = gatedDeltaRule(x.q, x.k, x.v, x.g, x.beta);
  assert.equal(n.out.node, null);
});

test("T = 0 passes the state through; bad inputs name the op and the shapes", () => {
  const x = inputs(1, 0, 2, 4, 3, 700);
  const r = gatedDeltaRule(x.q, x.k, x.v, x.g, x.beta, { initialState: x.init });
  assert.deepEqual(r.out.shape, [1, 0, 2, 3]);
  assert.deepEqual(r.finalState!.toArray(), x.init.toArray());
  const y = inputs(1, 5, 2, 4, 3, 701);
  const bad = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: Error) => e instanceof OpError && /gatedDeltaRule/.test(e.message) && re.test(e.message));
  bad(() => gatedDeltaRule(y.q, y.q, y.v, ops.reshape(y.g, [1, 10]), y.beta), /\[1, 10\]/);
  bad(() => gatedDeltaRule(y.q, ops.contiguous(ops.slice(y.k, 1, 0, 4)), y.v, y.g, y.beta), /\[1, 4, 2, 4\]/);
  bad(() => gatedDeltaRule(y.q, y.k, y.v, y.g, y.beta, { initialState: randn64([1, 2, 3, 4]) }), /initialState.*\[1, 2, 4, 3\]/);
  bad(() => gatedDeltaRule(to32(y.q), y.k, y.v, y.g, y.beta), /dtype/);
  bad(() => gatedDeltaRule(y.q, y.k, y.v, y.g, y.beta, { chunkSize: 0 }), /chunkSize/);
  withBackend("reference", () => assert.ok(gatedDeltaRule(y.q, y.k, y.v, y.g, y.beta).out));
});
