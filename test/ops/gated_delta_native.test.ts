/**
 * Native ≡ reference for the gated delta rule kernels (native/src/gated_delta.cc vs
 * src/backend/reference/gated_delta.ts), float32, odd shapes and stressed gates: outputs, final
 * state and every gradient. Skipped when the addon is not built.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { gatedDeltaRule, type GatedDeltaMode } from "../../src/ops/gated_delta.js";
import { withBackend, nativeAvailable, referenceKernels } from "../../src/backend/index.js";
import { blasInfo } from "../../src/backend/native/index.js";
import { backward } from "../../src/autograd/backward.js";
import { randn64, to32, assertClose } from "../helpers/gradcheck.js";

const skip = nativeAvailable() ? false : "native addon not built";

function unit(t: Tensor): Tensor {
  const d = Float32Array.from(t.dense());
  const D = t.shape[t.rank - 1]!;
  for (let r = 0; r < d.length / D; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += d[r * D + i]! ** 2;
    for (let i = 0; i < D; i++) d[r * D + i]! /= Math.sqrt(s + 1e-6);
  }
  return new Tensor(d, t.shape);
}

interface Case { B: number; T: number; H: number; Dk: number; Dv: number; C: number; gate?: "stressed" }

function runOn(backend: "native" | "reference", c: Case, mode: GatedDeltaMode, seed: number) {
  const { B, T, H, Dk, Dv, C } = c;
  const g64 = randn64([B, T, H], seed + 3);
  const b64 = randn64([B, T, H], seed + 4);
  const gd = Float32Array.from(g64.dense(), (x, i) => (c.gate === "stressed" ? (i % 5 === 0 ? -20 : i % 3 === 0 ? -1e-7 : -0.4) : -0.5 * Math.log1p(Math.exp(x))));
  const bd = Float32Array.from(b64.dense(), (x, i) => (c.gate === "stressed" ? (i % 2 === 0 ? 1 - 1e-6 : 1e-6) : 1 / (1 + Math.exp(-x))));
  const leaves = [
    unit(randn64([B, T, H, Dk], seed)),
    unit(randn64([B, T, H, Dk], seed + 1)),
    to32(randn64([B, T, H, Dv], seed + 2)),
    new Tensor(gd, [B, T, H]),
    new Tensor(bd, [B, T, H]),
    to32(randn64([B, H, Dk, Dv], seed + 5, 0.5)),
  ].map((t) => t.requiresGrad_());
  const [q, k, v, g, beta, init] = leaves as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  return withBackend(backend, () => {
    const r = gatedDeltaRule(q, k, v, g, beta, { initialState: init, mode, chunkSize: C });
    const wo = to32(randn64([...r.out.shape], seed + 6));
    const ws = to32(randn64([...r.finalState!.shape], seed + 7));
    backward([ops.add(ops.sum(ops.mul(r.out, wo)), ops.sum(ops.mul(r.finalState!, ws)))]);
    return { out: r.out.dense(), state: r.finalState!.dense(), grads: leaves.map((t) => t.grad!.dense()) };
  });
}

const CASES: Case[] = [
  { B: 2, T: 130, H: 3, Dk: 7, Dv: 5, C: 64 },
  { B: 1, T: 65, H: 2, Dk: 60, Dv: 33, C: 16 },
  { B: 2, T: 63, H: 1, Dk: 64, Dv: 64, C: 64 },
  { B: 1, T: 1, H: 2, Dk: 9, Dv: 3, C: 64 },
  { B: 1, T: 200, H: 2, Dk: 17, Dv: 40, C: 64 },
  { B: 1, T: 100, H: 2, Dk: 16, Dv: 16, C: 32, gate: "stressed" },
];

test("native gated delta rule ≡ reference (float32): out, final state and all gradients", { skip }, () => {
  const native = blasInfo(referenceKernels).nativeKernels;
  for (const k of ["gatedDeltaForward", "gatedDeltaRecurrent", "gatedDeltaBackward"]) assert.ok(native.includes(k), `addon lacks ${k}`);
  CASES.forEach((c, n) => {
    for (const mode of ["chunk", "recurrent"] as const) {
      const seed = 1000 + 10 * n;
      const a = runOn("native", c, mode, seed);
      const b = runOn("reference", c, mode, seed);
      const what = `${JSON.stringify(c)} ${mode}`;
      assertClose(a.out, b.out, 1e-4, 1e-5, `out ${what}`);
      assertClose(a.state, b.state, 1e-4, 1e-5, `finalState ${what}`);
      ["q", "k", "v", "g", "beta", "initialState"].forEach((name, i) => {
        for (const x of a.grads[i]!) assert.ok(Number.isFinite(x), `non-finite grad ${name} ${what}`);
        assertClose(a.grads[i]!, b.grads[i]!, 1e-4, 1e-4, `grad ${name} ${what}`);
      });
    }
  });
});
