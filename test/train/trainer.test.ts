import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import { readMetrics } from "../../src/train/metrics.js";
import { loadDataset } from "../../src/data/index.js";
import { ByteTokenizer } from "../../src/tokenizer/index.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { tinyConfig } from "../helpers/tiny.js";

const TEXT = "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, " +
  "and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world. ";
const docs = Array.from({ length: 12 }, (_, i) => ({ name: `d${i}`, text: TEXT.repeat(2) + ` chapter ${i}.` }));

function options(outDir: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  const tok = new ByteTokenizer();
  const cfg = tinyConfig("hybrid-tiny", tok.vocabSize);
  return {
    outDir,
    model: buildModel(cfg, { seed: 7 }),
    data: loadDataset({ data: docs, tokenizer: tok, seqLen: 32, valFraction: 0.2 }),
    steps: 8, batchSize: 2, gradAccum: 2, lr: 3e-3, minLr: 3e-4, warmupSteps: 2, schedule: "cosine",
    optimizer: "adamw", weightDecay: 0.1, beta1: 0.9, beta2: 0.95, gradClip: 1, seed: 5,
    evalEvery: 4, evalBatches: 2, checkpointEvery: 4, logEvery: 1, gradientCheckpointing: false,
    resume: false, quiet: true, ...overrides,
  };
}

const losses = (dir: string): number[] =>
  readMetrics(join(dir, "metrics.jsonl")).filter((r) => typeof r.loss === "number").map((r) => r.loss as number);

test("an interrupted run resumed from its checkpoint follows the uninterrupted loss trajectory exactly", () => {
  const a = mkdtempSync(join(tmpdir(), "train-a-"));
  const b = mkdtempSync(join(tmpdir(), "train-b-"));
  const full = train(options(a));
  assert.equal(full.steps, 8);
  // run B dies at step 6 (after the step-4 checkpoint, before the next one)
  assert.throws(() => train(options(b, { onStep: (s) => { if (s === 6) throw new Error("killed"); } })), /killed/);
  const resumed = train(options(b, { resume: true }));
  assert.equal(resumed.steps, 8);
  assert.deepEqual(losses(b), losses(a), "per-step losses identical");
  assert.equal(resumed.valLoss, full.valLoss);
  const summary = JSON.parse(readFileSync(join(b, "summary.json"), "utf8")) as Record<string, unknown>;
  for (const k of ["valLoss", "valBpb", "steps", "tokens", "tokensPerSec", "params"]) assert.ok(k in summary, `summary has ${k}`);
  // metrics carry validation lines, lr, tokens/s; checkpoints are pruned to the newest two
  const recs = readMetrics(join(a, "metrics.jsonl"));
  assert.ok(recs.some((r) => typeof r.valBpb === "number"));
  assert.ok(recs.every((r) => typeof r.step === "number"));
  assert.ok(recs.some((r) => r.expertLoad !== undefined), "per-expert load logged");
  assert.ok(readdirSync(join(a, "checkpoints")).length <= 2);
  assert.ok(existsSync(join(a, "latest.json")));
});

test("loss decreases on a tiny corpus", () => {
  const dir = mkdtempSync(join(tmpdir(), "train-c-"));
  const s = train(options(dir, { steps: 30, evalEvery: 0, checkpointEvery: 0, lr: 1e-2 }));
  const l = losses(dir);
  assert.ok(s.finalLoss < l[0]! * 0.7, `loss ${l[0]} → ${s.finalLoss}`);
});

test("resume refuses a checkpoint trained on different data", () => {
  const dir = mkdtempSync(join(tmpdir(), "train-d-"));
  train(options(dir, { steps: 2, evalEvery: 0 }));
  const tok = new ByteTokenizer();
  const other = loadDataset({ data: docs.slice(0, 8), tokenizer: tok, seqLen: 32, valFraction: 0.2 });
  assert.throws(() => train(options(dir, { resume: true, data: other })), /different data or tokenizer/);
});

test("a non-finite loss stops the run, names the first bad layer and keeps the last good state", () => {
  const dir = mkdtempSync(join(tmpdir(), "train-e-"));
  const o = options(dir, { steps: 6, evalEvery: 0, checkpointEvery: 0, lr: 1e30, warmupSteps: 0, gradClip: 0 });
  // an absurd learning rate: the first update overflows the weights, the next forward goes non-finite
  assert.throws(() => train(o), (e: Error) => /non-finite/.test(e.message) && /layers\.0\.|embed|head/.test(e.message));
  assert.ok(!existsSync(join(dir, "latest.json")) || JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")).step < 2);
});

test("a poisoned weight is named and the state before the bad step is saved", () => {
  const dir = mkdtempSync(join(tmpdir(), "train-f-"));
  const o = options(dir, { steps: 6, evalEvery: 0, checkpointEvery: 1 });
  const [name, w] = o.model.namedParameters().find(([n]) => n.includes("attn") && n.endsWith("weight") && !n.includes("norm"))!;
  o.onStep = (s) => {
    if (s === 2) w.data[0] = NaN; // poison one weight after step 2 (its checkpoint is already written)
  };
  assert.throws(() => train(o), (e: Error) => /non-finite/.test(e.message) && e.message.includes(name.split(".").slice(0, 2).join(".")));
  const latest = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as { step: number };
  assert.equal(latest.step, 2, "the step-2 checkpoint is kept as the last good state");
});
