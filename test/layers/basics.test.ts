// Norm modules (test vectors of components.md §1), MLPs against their formulas, positional
// tables, token embedding with dropout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildNorm, LayerNorm, RMSNorm } from "../../src/layers/norm.js";
import { GeluMlp, GluMlp } from "../../src/layers/mlp.js";
import { embedInputs, TokenEmbedding } from "../../src/layers/embedding.js";
import { LearnedPositions, RopeCache, sinusoidalTable } from "../../src/layers/positional.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { layernorm } from "../../src/config/components/layernorm.js";
import { geluMlp } from "../../src/config/components/gelu_mlp.js";
import { tensor } from "../../src/tensor/creation.js";
import { noGrad } from "../../src/autograd/node.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { ChimeraError } from "../../src/errors.js";
import { assertClose, gradcheck, randn64 } from "../helpers/gradcheck.js";

const init64 = (seed = 1, std = 0.3) => makeInit(seed, std, 1, "float64");

test("RMSNorm and LayerNorm modules reproduce the reference vectors", () => {
  const x = tensor([1, 2, 3, 4], [1, 4]);
  const init = makeInit(0, 0.02);
  assertClose(new RMSNorm(4, 1e-6, false, init).forward(x).dense(), [0.365148, 0.730297, 1.095445, 1.460593], 1e-6, 1e-6, "rmsnorm");
  const zc = buildNorm(rmsnorm(1e-6, true), 4, init) as RMSNorm;
  assert.ok(zc.weight.toArray().every((v) => v === 0), "(1+w) gain starts at w = 0");
  assertClose(zc.forward(x).dense(), [0.365148, 0.730297, 1.095445, 1.460593], 1e-6, 1e-6, "(1+w) rmsnorm");
  const ln = buildNorm(layernorm(1e-5), 4, init) as LayerNorm;
  assertClose(ln.forward(x).dense(), [-1.341635, -0.447212, 0.447212, 1.341635], 1e-6, 1e-6, "layernorm");
  assert.equal(ln.namedParameters().length, 2);
  assert.equal(buildNorm(layernorm(1e-5, false), 4, init).namedParameters().length, 1);
});

test("MLPs compute their formulas; gradients by finite differences", () => {
  const d = 6;
  const sw = new GluMlp(d, 5, true, "silu", init64());
  const ge = new GeluMlp(geluMlp(7, true, "erf"), d, init64(2));
  const x = randn64([3, d], 4);
  // SwiGLU by hand for one row
  const row = x.dense().subarray(0, d);
  const lin = (W: Float64Array | Float32Array, b: Float64Array | Float32Array | null, v: ArrayLike<number>, o: number, i: number) =>
    Array.from({ length: o }, (_, r) => (b ? b[r]! : 0) + Array.from({ length: i }, (_, c) => W[r * i + c]! * v[c]!).reduce((s, u) => s + u, 0));
  const g = lin(sw.gate_proj.weight.dense(), sw.gate_proj.bias!.dense(), row, 5, d);
  const u = lin(sw.up_proj.weight.dense(), sw.up_proj.bias!.dense(), row, 5, d);
  const h = g.map((z, i) => (z / (1 + Math.exp(-z))) * u[i]!);
  const want = lin(sw.down_proj.weight.dense(), sw.down_proj.bias!.dense(), h, d, 5);
  assertClose(sw.apply(x).dense().subarray(0, d), want, 1e-12, 1e-14, "swiglu");
  const ctx = layerContext(1, 3);
  gradcheck((t) => sw.forward(t!, ctx), [x]);
  gradcheck((t) => ge.forward(t!, ctx), [x]);
  gradcheck((t) => new GluMlp(d, 4, false, "gelu_tanh", init64(3)).forward(t!, ctx), [x]);
});

test("sinusoidal table: PE[m, 2i] = sin(m / base^(2i/d)), PE[m, 2i+1] = cos(…)", () => {
  const t = sinusoidalTable(3, 2, 6, 10_000, "float64");
  assert.deepEqual(t.shape, [2, 6]);
  for (let r = 0; r < 2; r++)
    for (let i = 0; i < 3; i++) {
      const a = (3 + r) / Math.pow(10_000, (2 * i) / 6);
      assert.ok(Math.abs(t.at(r, 2 * i) - Math.sin(a)) < 1e-15);
      assert.ok(Math.abs(t.at(r, 2 * i + 1) - Math.cos(a)) < 1e-15);
    }
});

test("learned positions: rows added to the embedding; beyond the table is an error", () => {
  const init = init64();
  const tok = new TokenEmbedding(10, 4, init);
  const pos = new LearnedPositions(8, 4, init);
  const ids = Int32Array.of(1, 2, 3);
  const positions = Int32Array.of(5, 6, 7);
  const h = embedInputs(tok, { kind: "learned", maxPositions: 8 }, pos, ids, 1, 3, positions, { scaleBySqrtD: true, dropout: 0, training: true });
  const want = [0, 1, 2].flatMap((t) => [0, 1, 2, 3].map((c) => tok.weight.at(ids[t]!, c) * 2 + pos.weight.at(positions[t]!, c)));
  assertClose(h.dense(), want, 1e-14, 1e-15, "tok·√d + pos");
  assert.throws(() => pos.forward(Int32Array.of(7, 8)), (e: unknown) => e instanceof ChimeraError && /position 8/.test(e.message));
});

test("embedding dropout: ≈ p of the entries zeroed in training, none in eval", () => {
  const tok = new TokenEmbedding(50, 64, makeInit(1, 1));
  const ids = Int32Array.from({ length: 64 }, (_, i) => i % 50);
  manualSeed(3);
  const on = embedInputs(tok, { kind: "none" }, null, ids, 1, 64, new Int32Array(64), { scaleBySqrtD: false, dropout: 0.1, training: true }).dense();
  const zeros = on.filter((v) => v === 0).length / on.length;
  assert.ok(zeros > 0.07 && zeros < 0.13, `dropped fraction ${zeros}`);
  const off = noGrad(() => embedInputs(tok, { kind: "none" }, null, ids, 1, 64, new Int32Array(64), { scaleBySqrtD: false, dropout: 0.1, training: false }));
  assert.ok(off.dense().every((v) => v !== 0));
});

test("RoPE cache: partial rotary dims, tables grow on demand, odd dims rejected", () => {
  const c = new RopeCache({ theta: 1e4, fraction: 0.25, scaling: null }, 32, 16);
  assert.equal(c.rotaryDim, 8);
  const a = c.get(10, "float32");
  assert.equal(a.maxPositions, 16);
  assert.equal(c.get(16, "float32"), a, "reused while large enough");
  assert.ok(c.get(100, "float32").maxPositions >= 100);
  assert.throws(() => new RopeCache({ theta: 1e4, fraction: 0.1, scaling: null }, 30, 16), ChimeraError);
});
