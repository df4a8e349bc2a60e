import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { Muon, newtonSchulz, isMuonParam } from "../../src/train/optim/muon.js";
import { defaultDecays } from "../../src/train/optim/optimizer.js";
import { lrAt } from "../../src/train/schedule.js";
import { clipGradNorm, gradNorm } from "../../src/train/clip.js";
import { randn } from "../../src/tensor/creation.js";
import { philoxNormal } from "../../src/tensor/rng.js";

function param(shape: number[], seed: number): Tensor {
  const t = randn(shape);
  philoxNormal(t.data, seed, 1, 0);
  t.requiresGrad = true;
  return t;
}

test("AdamW matches the textbook update over several steps, with decay rules", () => {
  const w = param([3, 4], 1);
  const b = param([4], 2);
  const opt = new AdamW([{ name: "l.weight", p: w }, { name: "l.bias", p: b }], { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 });
  const ref = { w: Array.from(w.data), b: Array.from(b.data), mw: new Array(12).fill(0), vw: new Array(12).fill(0), mb: new Array(4).fill(0), vb: new Array(4).fill(0) };
  for (let step = 1; step <= 3; step++) {
    const gw = param([3, 4], 10 + step);
    const gb = param([4], 20 + step);
    w.grad = gw;
    b.grad = gb;
    opt.update();
    const upd = (p: number[], m: number[], v: number[], g: Float32Array, wd: number): void => {
      for (let i = 0; i < p.length; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.99 * v[i]! + 0.01 * g[i]! * g[i]!;
        const mh = m[i]! / (1 - 0.9 ** step);
        const vh = v[i]! / (1 - 0.99 ** step);
        p[i] = p[i]! - 0.1 * (wd * p[i]! + mh / (Math.sqrt(vh) + 1e-8));
      }
    };
    upd(ref.w, ref.mw, ref.vw, gw.data as Float32Array, 0.5);
    upd(ref.b, ref.mb, ref.vb, gb.data as Float32Array, 0); // bias: no decay
  }
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(w.data[i]! - ref.w[i]!) < 1e-5, `w[${i}]`);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(b.data[i]! - ref.b[i]!) < 1e-5, `b[${i}]`);
  assert.deepEqual(opt.decayGroups(), { decayed: ["l.weight"], notDecayed: ["l.bias"] });
});

test("default decay exclusions: norms, biases, embeddings, A_log, dt_bias", () => {
  const m = param([4, 4], 1);
  assert.equal(defaultDecays("layers.0.attn.q_proj.weight", m), true);
  assert.equal(defaultDecays("embed.weight", m), false);
  assert.equal(defaultDecays("layers.0.norm.weight", param([4], 1)), false);
  assert.equal(defaultDecays("layers.0.mixer.A_log", param([4], 1)), false);
});

test("Newton–Schulz maps a matrix to singular values within [0.5, 1.5]", () => {
  for (const [r, c] of [[16, 32], [32, 16], [7, 7]] as const) {
    const g = new Float32Array(r * c);
    philoxNormal(g, r * 100 + c, 3, 0);
    newtonSchulz(g, r, c);
    // singular values² = eigenvalues of G Gᵀ (small side); check via power iteration bounds on Gram
    const n = Math.min(r, c);
    const gram = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        if (r <= c) for (let k = 0; k < c; k++) s += g[i * c + k]! * g[j * c + k]!;
        else for (let k = 0; k < r; k++) s += g[k * c + i]! * g[k * c + j]!;
        gram[i * n + j] = s;
      }
    // Jacobi eigenvalues of the symmetric Gram matrix
    const a = Array.from(gram);
    for (let sweep = 0; sweep < 50; sweep++)
      for (let p = 0; p < n; p++)
        for (let q = p + 1; q < n; q++) {
          const apq = a[p * n + q]!;
          if (Math.abs(apq) < 1e-12) continue;
          const th = 0.5 * Math.atan2(2 * apq, a[q * n + q]! - a[p * n + p]!);
          const cs = Math.cos(th), sn = Math.sin(th);
          for (let k = 0; k < n; k++) {
            const akp = a[k * n + p]!, akq = a[k * n + q]!;
            a[k * n + p] = cs * akp - sn * akq;
            a[k * n + q] = sn * akp + cs * akq;
          }
          for (let k = 0; k < n; k++) {
            const apk = a[p * n + k]!, aqk = a[q * n + k]!;
            a[p * n + k] = cs * apk - sn * aqk;
            a[q * n + k] = sn * apk + cs * aqk;
          }
        }
    for (let i = 0; i < n; i++) {
      const sv = Math.sqrt(Math.max(0, a[i * n + i]!));
      assert.ok(sv > 0.5 && sv < 1.5, `${r}x${c}: singular value ${sv}`);
    }
  }
});

test("Muon routes matrices to NS and the rest to AdamW, and reduces a quadratic loss", () => {
  const w = param([8, 6], 1);
  const e = param([10, 6], 2);
  assert.equal(isMuonParam("layers.0.mlp.up.weight", w), true);
  assert.equal(isMuonParam("embed.weight", e), false);
  const target = param([8, 6], 3);
  const opt = new Muon([{ name: "layers.0.mlp.up.weight", p: w }, { name: "embed.weight", p: e }], { lr: 0.1, adamw: { lr: 0.01 } });
  const loss = (): number => {
    let s = 0;
    for (let i = 0; i < w.size; i++) s += (w.data[i]! - target.data[i]!) ** 2;
    return s;
  };
  const l0 = loss();
  for (let s = 0; s < 80; s++) {
    const g = new Tensor(new Float32Array(w.size), w.shape);
    for (let i = 0; i < w.size; i++) g.data[i] = 2 * (w.data[i]! - target.data[i]!);
    w.grad = g;
    e.grad = new Tensor(new Float32Array(e.size).fill(0.1), e.shape);
    opt.update();
  }
  assert.ok(loss() < 0.2 * l0, `loss ${loss()} vs start ${l0}`);
  assert.ok(opt.buffers().has("layers.0.mlp.up.weight.momentum_buffer"));
  assert.ok(opt.buffers().has("embed.weight.exp_avg"));
});

test("schedules: warm-up, cosine and linear decay", () => {
  const o = { kind: "cosine" as const, peakLr: 1, minLr: 0.1, warmupSteps: 10, totalSteps: 110 };
  assert.equal(lrAt(5, o), 0.5);
  assert.equal(lrAt(10, o), 1);
  assert.ok(Math.abs(lrAt(60, o) - 0.55) < 1e-12);
  assert.ok(Math.abs(lrAt(110, o) - 0.1) < 1e-12);
  assert.ok(Math.abs(lrAt(500, o) - 0.1) < 1e-12);
  assert.ok(Math.abs(lrAt(60, { ...o, kind: "linear" }) - 0.55) < 1e-12);
});

test("global-norm clipping scales all gradients together", () => {
  const a = param([3], 1);
  const b = param([4], 2);
  a.grad = new Tensor(Float32Array.from([3, 0, 0]), [3]);
  b.grad = new Tensor(Float32Array.from([0, 4, 0, 0]), [4]);
  assert.ok(Math.abs(gradNorm([a, b]) - 5) < 1e-6);
  const n = clipGradNorm([a, b], 1);
  assert.ok(Math.abs(n - 5) < 1e-6);
  assert.ok(Math.abs(gradNorm([a, b]) - 1) < 1e-5);
});
