/**
 * Peak memory of one training step with and without gradient checkpointing (per block).
 * Each variant runs in its own child process; peak = max resident set size (getrusage).
 *   node dist/bench/ckpt_memory.js [preset] [batch] [seq]
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getPreset } from "../src/config/index.js";
import { buildModel } from "../src/models/causal_lm.js";
import { backward } from "../src/autograd/backward.js";

const [preset = "hybrid-mvp3-tiny", batch = "16", seq = "256", mode] = process.argv.slice(2);

if (mode === "child-plain" || mode === "child-ckpt") {
  const cfg = getPreset(preset);
  const model = buildModel(cfg, { seed: 0 });
  const B = Number(batch), T = Number(seq);
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % cfg.vocabSize);
  const tg = Int32Array.from({ length: B * T }, (_, i) => (i * 104729) % cfg.vocabSize);
  const base = process.resourceUsage().maxRSS;
  const out = model.forward(ids, B, T, { targets: tg, checkpointing: mode === "child-ckpt" });
  backward([out.loss!]);
  console.log(JSON.stringify({ mode, peakRssKB: process.resourceUsage().maxRSS, beforeStepKB: base, loss: out.loss!.item() }));
} else {
  const self = fileURLToPath(import.meta.url);
  const run = (m: string): { peakRssKB: number; beforeStepKB: number; loss: number } => {
    const r = spawnSync(process.execPath, [self, preset, batch, seq, m], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  };
  const plain = run("child-plain");
  const ckpt = run("child-ckpt");
  const stepPlain = plain.peakRssKB - plain.beforeStepKB;
  const stepCkpt = ckpt.peakRssKB - ckpt.beforeStepKB;
  console.log(JSON.stringify({
    preset, batch: Number(batch), seq: Number(seq),
    peakRssMiB: { plain: plain.peakRssKB / 1024, checkpointed: ckpt.peakRssKB / 1024 },
    stepGrowthMiB: { plain: stepPlain / 1024, checkpointed: stepCkpt / 1024 },
    reduction: 1 - stepCkpt / stepPlain,
    sameLoss: plain.loss === ckpt.loss,
  }, null, 2));
}
