// A tiny hybrid (DeltaNet + MoE + GQA + MoE + MTP, d = 64) memorises one batch: the main
// cross-entropy falls below 0.1 with AdamW (in-test loop over the `adamw` kernel).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel } from "../../src/models/causal_lm.js";
import { backward } from "../../src/autograd/backward.js";
import { kernelsFor } from "../../src/backend/index.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { nextTokenTargets, tinyHybrid, tokens } from "./tiny_configs.js";

test("tiny hybrid overfits a single batch (loss → < 0.1)", () => {
  const cfg = tinyHybrid({ d: 64, vocab: 64, dropout: 0 });
  const m = buildModel(cfg, { seed: 1 });
  manualSeed(0);
  const B = 2;
  const T = 32;
  const ids = tokens(B * T, cfg.vocabSize, 42);
  const targets = nextTokenTargets(ids, B, T);
  const params = m.parameters();
  const K = kernelsFor("float32");
  const state = params.map((p) => ({ m: new Float32Array(p.size), v: new Float32Array(p.size) }));
  const [lr, b1, b2, eps] = [1e-2, 0.9, 0.99, 1e-8];
  let first = NaN;
  let last = NaN;
  let step = 0;
  for (step = 1; step <= 300; step++) {
    m.zeroGrad();
    const r = m.forward(ids, B, T, { targets });
    last = r.lossMain!.item();
    if (step === 1) first = last;
    if (last < 0.05) break;
    backward([r.loss!]);
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    params.forEach((p, i) => {
      if (!p.grad) return;
      K.adamw(p.data as Float32Array, p.grad.dense(), state[i]!.m, state[i]!.v, p.size, lr, b1, b2, eps, 0, bc1, bc2);
    });
  }
  assert.ok(first > 3.5, `initial loss ${first} should be near ln 64 = 4.16`);
  console.log(`overfit: loss ${first.toFixed(3)} → ${last.toFixed(4)} in ${step} steps`);
  assert.ok(last < 0.1, `loss after ${step} steps: ${last} (from ${first})`);
});
