// The instantiated model matches the config's accounting: for every small preset,
// numParameters() equals costOf(cfg).params.total and namedParameters() lists exactly the names
// and shapes of paramShapes(cfg), in order (tied weights once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { getPreset, listPresets } from "../../src/config/presets/index.js";
import { costOf } from "../../src/config/cost.js";
import { paramShapes } from "../../src/config/shapes.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { ChimeraError } from "../../src/errors.js";
import { ATTENTION_LAYERS } from "../../src/layers/build.js";
import { mla } from "../../src/config/components/mla.js";
import { attnSub, pre } from "../../src/config/build.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { tinyHybrid } from "./tiny_configs.js";
import type { ModelConfig } from "../../src/config/types.js";

/** Presets small enough to instantiate in a test (≤ 150M parameters). */
const SMALL = 150e6;

function checkModel(cfg: ModelConfig): void {
  const m = buildModel(cfg, { seed: 1, randomInit: false });
  assert.equal(m.numParameters(), costOf(cfg).params.total, `${cfg.name}: numParameters vs costOf`);
  const got = m.namedParameters().map(([n, t]) => `${n} [${t.shape.join(", ")}]`);
  const want = paramShapes(cfg).map((s) => `${s.name} [${s.shape.join(", ")}]`);
  assert.deepEqual(got, want, `${cfg.name}: parameter names and shapes`);
  assert.equal(new Set(m.parameters()).size, got.length, `${cfg.name}: every name is its own tensor`);
}

test("every small preset instantiates exactly its config's parameters", () => {
  const small = listPresets().filter((p) => costOf(getPreset(p.name)).params.total <= SMALL);
  assert.ok(small.some((p) => p.name === "hybrid-tiny") && small.some((p) => p.name === "gpt2-124m"));
  assert.ok(small.length >= 5, `expected several small presets, got ${small.map((p) => p.name).join(", ")}`);
  for (const p of small) checkModel(getPreset(p.name));
});

test("tied unembedding is one tensor, counted once; sequential MTP modules are named mtp.k.*", () => {
  const tied = tinyHybrid({ tied: true });
  checkModel(tied);
  const m = buildModel(tied);
  assert.ok(!m.namedParameters().some(([n]) => n === "head.weight"));
  assert.equal(m.head.weight, null);
  const seq = tinyHybrid({ sequentialMtp: true });
  checkModel(seq);
  assert.ok(buildModel(seq).namedParameters().some(([n]) => n.startsWith("mtp.1.block.attn.")));
});

test("same seed gives the same weights; different seeds differ", () => {
  const cfg = tinyHybrid();
  const a = buildModel(cfg, { seed: 7 }).namedParameters();
  const b = buildModel(cfg, { seed: 7 }).namedParameters();
  const c = buildModel(cfg, { seed: 8 }).namedParameters();
  a.forEach(([n, t], i) => assert.deepEqual(t.toArray(), b[i]![1].toArray(), n));
  assert.notDeepEqual(a[0]![1].toArray(), c[0]![1].toArray());
});

test("init: norm gains 1, biases 0, A_log in [0, ln 16], output projections scaled", () => {
  const cfg = tinyHybrid({ superblocks: 2 });
  const m = buildModel(cfg, { seed: 2 });
  const p = new Map(m.namedParameters());
  assert.ok(p.get("final_norm.weight")!.toArray().every((v) => v === 1));
  assert.ok(p.get("layers.0.linear_attn.norm.weight")!.toArray().every((v) => v === 1));
  const A = p.get("layers.0.linear_attn.A_log")!.toArray();
  assert.ok(A.every((v) => v >= 0 && v <= Math.log(16) + 1e-6), `A_log ${A}`);
  const std = (name: string): number => {
    const v = p.get(name)!.toArray();
    return Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  };
  // 8 residual sublayers → output projections get std 0.02/√8
  assert.ok(Math.abs(std("layers.0.attn.q_proj.weight") - 0.02) < 0.004);
  assert.ok(Math.abs(std("layers.1.attn.o_proj.weight") - 0.02 / Math.sqrt(8)) < 0.002);
});

test("a config kind with no layer implementation is a ChimeraError naming the kind", () => {
  const cfg = tinyHybrid();
  cfg.layers[0]!.sublayers[2] = attnSub(
    mla({ numHeads: 2, qLoraRank: 0, kvLoraRank: 8, qkNopeHeadDim: 8, qkRopeHeadDim: 4, vHeadDim: 8 }),
    pre(rmsnorm()),
  );
  checkModel(cfg); // implemented: builds with the config's parameters
  // every config kind has a layer now; unregister one to see the refusal
  const saved = ATTENTION_LAYERS.mla;
  delete ATTENTION_LAYERS.mla;
  try {
    assert.throws(() => buildModel(cfg), (e: unknown) => e instanceof ChimeraError && /'mla'/.test(e.message) && /layers\.0\.attn/.test(e.message));
  } finally {
    ATTENTION_LAYERS.mla = saved;
  }
});
