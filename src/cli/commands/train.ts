/** `chimera train`: train a preset or config on a corpus, with checkpoints, metrics and resume. */
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { UsageError } from "../command.js";
import { parseArgs, numberFlag } from "../args.js";
import { loadConfig, costOf, toJsonText, type ModelConfig } from "../../config/index.js";
import { ChimeraError } from "../../errors.js";
import { loadDataset } from "../../data/index.js";
import { buildModel } from "../../models/causal_lm.js";
import { train } from "../../train/trainer.js";
import { prepareTokenizer, saveRunConfig, withVocab } from "../../train/run.js";
import { ensureWritableDir } from "../../io/atomic.js";
import { backendName } from "../../backend/index.js";

const FLAGS = {
  preset: { type: "string" },
  config: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  steps: { type: "string" },
  time: { type: "string" },
  seed: { type: "string" },
  resume: { type: "boolean" },
  overwrite: { type: "boolean" },
  "batch-size": { type: "string" },
  "seq-len": { type: "string" },
  lr: { type: "string" },
  "min-lr": { type: "string" },
  warmup: { type: "string" },
  schedule: { type: "string" },
  optimizer: { type: "string" },
  "muon-lr": { type: "string" },
  "weight-decay": { type: "string" },
  "grad-clip": { type: "string" },
  "grad-accum": { type: "string" },
  "eval-every": { type: "string" },
  "eval-batches": { type: "string" },
  "checkpoint-every": { type: "string" },
  "log-every": { type: "string" },
  "grad-checkpointing": { type: "boolean" },
  tokenizer: { type: "string" },
  "val-fraction": { type: "string" },
  dropout: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
} as const;

/** "10m", "90s", "1h30m", "600" (seconds) → seconds. */
export function parseDuration(s: string): number {
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$/.exec(s.trim());
  if (!m || s.trim() === "") throw new UsageError(`chimera train: --time must look like 10m, 90s, 1h30m or 600 (got '${s}')`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const help = `Usage: chimera train --preset <name> | --config <file.json>  [options]

Trains a model on a corpus. Writes into --out: config.json, tokenizer.json, metrics.jsonl,
checkpoints/ (atomic; --resume continues exactly), summary.json.

Model and data:
  --preset NAME            preset to train (see 'chimera presets'), e.g. hybrid-tiny
  --config FILE            model config JSON instead of a preset
  --data SPEC              moby-dick (default) | sotu | file.txt | folder of .txt | file.jsonl
  --tokenizer SPEC         bpe (default: train a byte-level BPE with the config's vocab size on
                           the training split) | byte | gpt2 | path/to/tokenizer.json
  --val-fraction F         held-out fraction of documents/text for validation (default 0.05)
  --out DIR                run folder (default runs/<preset>)
Length:
  --steps N                optimiser steps (default 200 unless --time is given)
  --time DUR               train for a wall-clock budget instead: 10m, 90s, 1h
Optimisation:
  --batch-size B           sequences per micro-batch (default from preset, else 8)
  --seq-len T              tokens per sequence (default from preset, else 128)
  --grad-accum N           micro-batches per step (default 1)
  --optimizer adamw|muon   (default adamw; muon = Newton–Schulz on hidden matrices + AdamW)
  --lr X                   peak AdamW learning rate (default from preset, else 1e-3)
  --muon-lr X              Muon learning rate (default 0.02)
  --min-lr X               final learning rate (default lr/10)
  --warmup N               warm-up steps (default 5% of steps, at most 200)
  --schedule cosine|linear|constant   decay after warm-up (default cosine)
  --weight-decay X         decoupled weight decay (default 0.1; none on norms/biases/embeddings)
  --grad-clip X            global gradient-norm clip (default 1.0; 0 = off)
  --dropout P              embedding dropout (default from config, 0.1 for the hybrid)
  --grad-checkpointing     recompute each block in backward (less memory, ~30% more compute)
  --seed S                 seed for init, data order and dropout (default 1337)
Monitoring:
  --eval-every N           validate every N steps (default 100)
  --eval-batches N         validation batches per evaluation (default 20)
  --checkpoint-every N     checkpoint every N steps (default 100; always at the end)
  --log-every N            metrics.jsonl line every N steps (default 10)
  --resume                 continue from the newest checkpoint in --out
  --overwrite              start afresh in an --out folder that already holds a run
  --json                   print summary.json to stdout at the end
  --quiet                  no progress output

Example:
  chimera train --preset hybrid-tiny --data moby-dick --time 10m --out runs/tiny`;

/** On --resume, the run's saved config must equal the one asked for (vocabulary aside). */
function assertSameConfig(outDir: string, cfg: ModelConfig): void {
  const p = join(outDir, "config.json");
  if (!existsSync(p)) return;
  const saved = JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
  const wanted = JSON.parse(toJsonText(cfg)) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(saved), ...Object.keys(wanted)])) {
    if (key === "vocabSize") continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(wanted[key]))
      throw new ChimeraError(`chimera train --resume: the checkpoint in '${outDir}' is from a different config (field '${key}' differs from ${cfg.name}); nothing was changed`);
  }
}

const command: Command = {
  name: "train",
  summary: "train a model on a corpus (checkpoints, resume, metrics, progress)",
  help,
  async run(argv) {
    const { flags, positional } = parseArgs("train", argv, FLAGS);
    if (positional.length) throw new UsageError(`chimera train: unexpected argument '${positional[0]}' (see --help)`);
    const presetName = flags.preset as string | undefined;
    const configFile = flags.config as string | undefined;
    if (!presetName && !configFile) throw new UsageError("chimera train: give --preset <name> or --config <file.json> (see 'chimera presets')");
    if (presetName && configFile) throw new UsageError("chimera train: give only one of --preset and --config");
    const outDir = (flags.out as string | undefined) ?? join("runs", presetName ?? "custom");
    const resume = flags.resume === true;
    // on resume, default every flag to the one the run started with
    let prev: Record<string, unknown> = {};
    const latest = join(outDir, "latest.json");
    if (resume && existsSync(latest)) {
      const rel = (JSON.parse(readFileSync(latest, "utf8")) as { dir: string }).dir;
      prev = (JSON.parse(readFileSync(join(outDir, rel, "state.json"), "utf8")) as { args: Record<string, unknown> }).args ?? {};
    }
    if (!resume && !flags.overwrite && existsSync(latest))
      throw new UsageError(`chimera train: '${outDir}' already holds a run; pass --resume to continue it or --overwrite to start afresh`);
    const sticky = (name: string): boolean => !["resume", "overwrite", "json", "quiet"].includes(name);
    const get = (name: string): string | undefined =>
      flags[name] !== undefined ? String(flags[name]) : sticky(name) && prev[name] !== undefined ? String(prev[name]) : undefined;
    const f = { ...Object.fromEntries(Object.keys(FLAGS).map((k) => [k, get(k)])) } as Record<string, string | undefined>;
    const num = (name: string, fallback: number, o: { integer?: boolean; min?: number; max?: number } = {}): number => numberFlag("train", f, name, fallback, o);

    let cfg = loadConfig(configFile ?? presetName!);
    const hints = cfg.training ?? {};
    const steps = f.time && !f.steps ? undefined : num("steps", 200, { integer: true, min: 1 });
    const timeSec = f.time && !f.steps ? parseDuration(f.time) : undefined;
    const lr = num("lr", hints.lr ?? 1e-3, { min: 0 });
    const seqLen = num("seq-len", hints.seqLen ?? Math.min(128, cfg.contextLength), { integer: true, min: 1 });
    if (seqLen > cfg.contextLength && cfg.positional.kind === "learned")
      throw new UsageError(`chimera train: --seq-len ${seqLen} exceeds the learned-position context ${cfg.contextLength} of ${cfg.name}`);
    const valFraction = num("val-fraction", 0.05, { min: 0, max: 0.5 });
    const data = f.data ?? "moby-dick";
    const seed = num("seed", 1337, { integer: true, min: 0 });
    const warmDefault = Math.min(200, Math.max(1, Math.round(0.05 * (steps ?? 2000))));
    const optimizer = (f.optimizer ?? hints.optimizer ?? "adamw") as "adamw" | "muon";
    if (optimizer !== "adamw" && optimizer !== "muon") throw new UsageError(`chimera train: --optimizer must be adamw or muon (got '${optimizer}')`);
    const schedule = (f.schedule ?? "cosine") as "cosine" | "linear" | "constant";
    if (!["cosine", "linear", "constant"].includes(schedule)) throw new UsageError(`chimera train: --schedule must be cosine, linear or constant (got '${schedule}')`);
    if (f.dropout !== undefined) cfg = { ...cfg, embedding: { ...cfg.embedding, dropout: num("dropout", 0.1, { min: 0, max: 0.9 }) } };

    ensureWritableDir(outDir);
    if (resume) assertSameConfig(outDir, cfg);
    const log = flags.quiet ? () => {} : (m: string) => process.stderr.write(m + "\n");
    const tokenizer = prepareTokenizer(f.tokenizer ?? "bpe", data, cfg.vocabSize, valFraction, outDir, log);
    cfg = withVocab(cfg, tokenizer.vocabSize);
    const dataset = loadDataset({ data, tokenizer, seqLen, valFraction, cacheDir: join(outDir, ".cache") });
    saveRunConfig(outDir, cfg);
    const model = buildModel(cfg, { seed });
    const cost = costOf(cfg, { context: seqLen });
    log(
      `model ${cfg.name}: ${model.numParameters().toLocaleString("en-US")} parameters (${cost.params.active.toLocaleString("en-US")} active/token) | backend ${backendName()} | ` +
        `data ${dataset.source}: ${dataset.train.numSequences} train × ${seqLen} tokens, ${dataset.bytesPerToken.toFixed(2)} bytes/token`,
    );
    const args = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
    const summary = train({
      outDir, model, data: dataset, steps, timeSec,
      batchSize: num("batch-size", hints.batchSize ?? 8, { integer: true, min: 1 }),
      gradAccum: num("grad-accum", 1, { integer: true, min: 1 }),
      lr, minLr: num("min-lr", lr / 10, { min: 0 }), warmupSteps: num("warmup", warmDefault, { integer: true, min: 0 }),
      schedule, optimizer, muonLr: num("muon-lr", 0.02, { min: 0 }),
      weightDecay: num("weight-decay", hints.weightDecay ?? 0.1, { min: 0 }),
      beta1: hints.beta1 ?? 0.9, beta2: hints.beta2 ?? 0.95,
      gradClip: num("grad-clip", hints.gradClip ?? 1, { min: 0 }),
      seed,
      evalEvery: num("eval-every", 100, { integer: true, min: 0 }),
      evalBatches: num("eval-batches", 20, { integer: true, min: 0 }),
      checkpointEvery: num("checkpoint-every", 100, { integer: true, min: 0 }),
      logEvery: num("log-every", 10, { integer: true, min: 1 }),
      gradientCheckpointing: String(f["grad-checkpointing"]) === "true",
      resume, quiet: flags.quiet === true, args,
    });
    if (flags.json) console.log(JSON.stringify(summary, null, 2));
    return 0;
  },
};
export default command;
