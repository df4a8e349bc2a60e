/**
 * Test helpers: finite-difference gradient checks in float64, and tolerant comparison of arrays.
 *
 * gradcheck(fn, inputs): fn maps float64 tensors to a tensor; we reduce the output with a fixed
 * random projection (so every output element matters), run backward, and compare each input's
 * gradient with central differences (h = 1e-6) computed in float64 on the reference backend.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { withBackend } from "../../src/backend/index.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { philoxNormal } from "../../src/tensor/rng.js";
import type { Module } from "../../src/nn/module.js";
import { layerContext, type Layer } from "../../src/layers/context.js";

/** A float64 tensor of standard normals from a seed (deterministic). */
export function randn64(shape: number[], seed = 1, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  philoxNormal(d, seed, 7, 0);
  for (let i = 0; i < n; i++) d[i] = d[i]! * scale;
  return new Tensor(d, shape);
}

/** The same numbers as float32. */
export function to32(t: Tensor): Tensor {
  return new Tensor(Float32Array.from(t.dense()), t.shape);
}
export function to64(t: Tensor): Tensor {
  return new Tensor(Float64Array.from(t.dense()), t.shape);
}

function projectionWeights(n: number): Float64Array {
  const w = new Float64Array(n);
  philoxNormal(w, 12345, 99, 0);
  return w;
}

function project(out: Tensor, w: Float64Array): number {
  const d = out.dense();
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]! * w[i]!;
  return s;
}

export interface GradcheckOptions {
  /** Which inputs to check (default: all). */
  check?: number[];
  h?: number;
  rtol?: number;
  atol?: number;
  /** Max elements per input to probe (sampled evenly) to keep big tests fast. */
  maxProbe?: number;
}

export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  withBackend("reference", () => {
    const h = opts.h ?? 1e-6;
    const rtol = opts.rtol ?? 1e-5;
    const atol = opts.atol ?? 1e-7;
    const which = opts.check ?? inputs.map((_, i) => i);
    const xs = inputs.map((t, i) => {
      const c = new Tensor(Float64Array.from(t.dense()), t.shape);
      if (which.includes(i)) c.requiresGrad = true;
      return c;
    });
    const out = fn(...xs);
    const w = projectionWeights(out.size);
    const seed = new Tensor(new Float64Array(w), out.shape);
    backward([out], [seed]);
    for (const i of which) {
      const x = xs[i]!;
      const g = x.grad?.dense() ?? new Float64Array(x.size);
      const n = x.size;
      const step = opts.maxProbe && n > opts.maxProbe ? Math.ceil(n / opts.maxProbe) : 1;
      for (let j = 0; j < n; j += step) {
        const orig = x.data[j]!;
        const eval1 = (v: number): number =>
          noGrad(() => {
            x.data[j] = v;
            const r = project(fn(...xs.map((t) => t.detach())), w);
            x.data[j] = orig;
            return r;
          });
        const num = (eval1(orig + h) - eval1(orig - h)) / (2 * h);
        const ana = g[j]!;
        const tol = atol + rtol * Math.max(Math.abs(num), Math.abs(ana));
        if (!(Math.abs(num - ana) <= tol))
          assert.fail(`gradcheck: input ${i} element ${j}: analytic ${ana} vs numeric ${num} (shape [${x.shape.join(", ")}])`);
      }
    }
  });
}

/**
 * Asserts two arrays agree: relative RMS error ≤ rtol, each element within atol + rtol·|ref|·10,
 * and no NaN where the reference has none.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.equal(a, e, `${what}[${i}]: expected ${e}, got ${a}`);
      continue;
    }
    assert.ok(!Number.isNaN(a), `${what}[${i}]: got NaN, expected ${e}`);
    const d = Math.abs(a - e);
    if (d > atol + 10 * rtol * Math.abs(e)) assert.fail(`${what}[${i}]: ${a} vs ${e} (|diff| ${d})`);
    num += d * d;
    den += e * e;
  }
  if (den > 0) assert.ok(Math.sqrt(num / den) <= rtol + atol, `${what}: relative RMS error ${Math.sqrt(num / den)} > ${rtol}`);
}

/** Runs fn with the module's parameters replaced by `ps` (in namedParameters order), then restores them. */
export function withParams<T>(m: Module, ps: Tensor[], fn: () => T): T {
  const slots = m.namedParameters().map(([name]) => {
    const path = name.split(".");
    let owner = m as unknown as Record<string, unknown>;
    for (const k of path.slice(0, -1)) owner = owner[k] as Record<string, unknown>;
    return { owner, key: path[path.length - 1]!, saved: owner[path[path.length - 1]!] };
  });
  slots.forEach((s, i) => (s.owner[s.key] = ps[i]));
  try {
    return fn();
  } finally {
    for (const s of slots) s.owner[s.key] = s.saved;
  }
}

/**
 * A float32 layer built by `make` on the native and on the reference backend: forward on a fixed
 * random x [B, T, d] (seed xSeed), backward of a fixed random output gradient (seed xSeed + 1).
 * Returns each backend's output, input gradient and parameter gradients (namedParameters order).
 */
export function layerOnBothBackends(make: () => Layer, B: number, T: number, d: number, xSeed: number) {
  const run = (backend: "native" | "reference") =>
    withBackend(backend, () => {
      const m = make();
      const x = to32(randn64([B, T, d], xSeed));
      x.requiresGrad = true;
      const y = m.forward(x, layerContext(B, T), null);
      backward([y], [to32(randn64([B, T, d], xSeed + 1))]);
      return { y: y.dense(), gx: x.grad!.dense(), gw: m.namedParameters().map(([, p]) => p.grad!.dense()) };
    });
  return { a: run("native"), b: run("reference") };
}
