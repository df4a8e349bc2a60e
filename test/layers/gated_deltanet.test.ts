// Gated DeltaNet layer (Qwen3-Next wiring): the layer ≡ a naive token-by-token reference written
// from components.md §11 (projection layout, conv + SiLU, L2-norm, gates, delta rule, gated norm),
// prefill + decode ≡ full forward, and gradients by finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GatedDeltaNet } from "../../src/layers/gated_deltanet.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { gatedDeltaNet, type GatedDeltaNetSpec } from "../../src/config/components/gated_deltanet.js";
import { noGrad } from "../../src/autograd/node.js";
import { backward } from "../../src/autograd/backward.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, gradcheck, randn64 } from "../helpers/gradcheck.js";
import { forwardInPieces } from "../helpers/pieces.js";

const d = 12;
function layer(p: Partial<GatedDeltaNetSpec> = {}, seed = 1): GatedDeltaNet {
  return new GatedDeltaNet(gatedDeltaNet({ numKeyHeads: 2, numValueHeads: 4, keyHeadDim: 4, valueHeadDim: 3, ...p }), d, makeInit(seed, 0.3, 1, "float64"));
}

function lin(x: ArrayLike<number>, W: Tensor): Float64Array {
  const [out, inF] = W.shape as [number, number];
  const w = W.dense();
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) for (let j = 0; j < inF; j++) y[o]! += x[j]! * w[o * inF + j]!;
  return y;
}
const sig = (z: number): number => 1 / (1 + Math.exp(-z));
const silu = (z: number): number => z * sig(z);
const softplus = (z: number): number => Math.log1p(Math.exp(z));

/** One sequence x [T, d] through the layer's weights, token by token. */
function naive(m: GatedDeltaNet, x: Float64Array, T: number): Float64Array {
  const { numKeyHeads: Hk, numValueHeads: Hv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K, normEps } = m.spec;
  const r = Hv / Hk;
  const G = 2 * dk + 2 * r * dv;
  const C = 2 * Hk * dk + Hv * dv;
  const conv = m.conv1d.weight.dense(); // [C, 1, K]
  const A = m.A_log.dense();
  const dt = m.dt_bias.dense();
  const nw = m.norm.weight.dense();
  const pre: Float64Array[] = []; // conv inputs per token
  const S = Array.from({ length: Hv }, () => new Float64Array(dk * dv));
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const xt = x.subarray(t * d, (t + 1) * d);
    const qkvz = lin(xt, m.in_proj_qkvz.weight);
    const ba = lin(xt, m.in_proj_ba.weight);
    const mix = new Float64Array(C);
    const z = new Float64Array(Hv * dv);
    const b = new Float64Array(Hv);
    const a = new Float64Array(Hv);
    for (let hk = 0; hk < Hk; hk++) {
      for (let c = 0; c < dk; c++) {
        mix[hk * dk + c] = qkvz[hk * G + c]!;
        mix[Hk * dk + hk * dk + c] = qkvz[hk * G + dk + c]!;
      }
      for (let j = 0; j < r; j++) {
        const hv = hk * r + j;
        for (let c = 0; c < dv; c++) {
          mix[2 * Hk * dk + hv * dv + c] = qkvz[hk * G + 2 * dk + j * dv + c]!;
          z[hv * dv + c] = qkvz[hk * G + 2 * dk + r * dv + j * dv + c]!;
        }
        b[hv] = ba[hk * 2 * r + j]!;
        a[hv] = ba[hk * 2 * r + r + j]!;
      }
    }
    pre.push(mix);
    const act = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < K; j++) {
        const src = t - K + 1 + j;
        if (src >= 0) s += conv[c * K + j]! * pre[src]![c]!;
      }
      act[c] = silu(s);
    }
    const o = new Float64Array(Hv * dv);
    for (let hv = 0; hv < Hv; hv++) {
      const hk = Math.floor(hv / r);
      const q = Array.from(act.subarray(hk * dk, (hk + 1) * dk));
      const k = Array.from(act.subarray(Hk * dk + hk * dk, Hk * dk + (hk + 1) * dk));
      const v = act.subarray(2 * Hk * dk + hv * dv, 2 * Hk * dk + (hv + 1) * dv);
      const nq = 1 / Math.sqrt(q.reduce((s, u) => s + u * u, 0) + 1e-6);
      const nk = 1 / Math.sqrt(k.reduce((s, u) => s + u * u, 0) + 1e-6);
      for (let c = 0; c < dk; c++) {
        q[c] = (q[c]! * nq) / Math.sqrt(dk);
        k[c] = k[c]! * nk;
      }
      const beta = sig(b[hv]!);
      const g = -Math.exp(A[hv]!) * softplus(a[hv]! + dt[hv]!);
      const St = S[hv]!;
      for (let i = 0; i < dk * dv; i++) St[i] = St[i]! * Math.exp(g);
      for (let c = 0; c < dv; c++) {
        let mem = 0;
        for (let i = 0; i < dk; i++) mem += St[i * dv + c]! * k[i]!;
        const delta = beta * (v[c]! - mem);
        for (let i = 0; i < dk; i++) St[i * dv + c]! += k[i]! * delta;
      }
      // o = Sᵀq, then RMSNorm over d_v (weight, eps) ⊙ SiLU(z)
      const oh = new Float64Array(dv);
      for (let c = 0; c < dv; c++) for (let i = 0; i < dk; i++) oh[c]! += St[i * dv + c]! * q[i]!;
      const ms = oh.reduce((s, u) => s + u * u, 0) / dv;
      for (let c = 0; c < dv; c++) o[hv * dv + c] = (oh[c]! / Math.sqrt(ms + normEps)) * nw[c]! * silu(z[hv * dv + c]!);
    }
    out.set(lin(o, m.out_proj.weight), t * d);
  }
  return out;
}

test("Gated DeltaNet layer ≡ naive token-by-token Qwen3-Next reference (chunked path, T = 70)", () => {
  const m = layer();
  // stronger gates than init so decay and writes matter
  m.A_log.data.set([0.5, -1, 1, 0]);
  const T = 70;
  const x = randn64([2, T, d], 2);
  const y = noGrad(() => m.forward(x, layerContext(2, T), null)).dense();
  for (let b = 0; b < 2; b++)
    assertClose(y.subarray(b * T * d, (b + 1) * T * d), naive(m, x.dense().subarray(b * T * d, (b + 1) * T * d) as Float64Array, T), 1e-9, 1e-11, `batch ${b}`);
});

test("Gated DeltaNet with H_v = H_k (r = 1), kernel 2 ≡ naive reference (recurrent path, T = 9)", () => {
  const m = layer({ numValueHeads: 2, convKernel: 2, valueHeadDim: 5 });
  const T = 9;
  const x = randn64([1, T, d], 3);
  const y = noGrad(() => m.forward(x, layerContext(1, T), null)).dense();
  assertClose(y, naive(m, x.dense() as Float64Array, T), 1e-10, 1e-12, "r = 1");
});

test("Gated DeltaNet prefill + recurrent decode + chunk ≡ full forward (conv and S state carried)", () => {
  const m = layer();
  const B = 2;
  const T = 60;
  const x = randn64([B, T, d], 4);
  noGrad(() => {
    const full = m.forward(x, layerContext(B, T), null).dense();
    const st = m.newState(B, "float64");
    const incremental = forwardInPieces(m, x, [20, 1, 1, 1, 37], st);
    assert.deepEqual(st.S.shape, [B, 4, 4, 3]);
    assert.deepEqual(st.conv.shape, [B, 3, 2 * 2 * 4 + 4 * 3]);
    assertClose(incremental, full, 1e-10, 1e-12, "incremental");
  });
});

test("Gated DeltaNet gradients match finite differences; every parameter gets a gradient", () => {
  const m = layer();
  const T = 7;
  gradcheck((x) => m.forward(x!, layerContext(1, T), null), [randn64([1, T, d], 5)], { rtol: 1e-6 });
  gradcheck(
    (a) => {
      const saved = m.A_log;
      (m as { A_log: Tensor }).A_log = a!;
      try {
        return m.forward(randn64([1, T, d], 5), layerContext(1, T), null);
      } finally {
        (m as { A_log: Tensor }).A_log = saved;
      }
    },
    [m.A_log.detach()],
    { rtol: 1e-6 },
  );
  m.zeroGrad();
  backward([m.forward(randn64([2, 20, d], 6), layerContext(2, 20), null)], [randn64([2, 20, d], 7)]);
  for (const [n, p] of m.namedParameters()) assert.ok(p.grad && p.grad.dense().some((v) => v !== 0), `${n} has no gradient`);
});
