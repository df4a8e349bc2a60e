/**
 * Run folders and checkpoints.
 *
 *   <run>/config.json            resolved model config (written once at start)
 *   <run>/tokenizer.json         tokenizer (HF format) when it has one, else tokenizer.txt naming it
 *   <run>/metrics.jsonl          one JSON line per logged step / validation
 *   <run>/summary.json           written at the end
 *   <run>/checkpoints/step-N/    model.safetensors, optimizer.safetensors, state.json
 *   <run>/latest.json            {"step": N, "dir": "checkpoints/step-N"}: the newest complete checkpoint
 *
 * Each file is written atomically and `latest.json` is replaced only after the whole checkpoint
 * folder is complete, so a crash at any moment leaves the previous checkpoint usable. Older
 * checkpoints beyond `keep` are deleted after the pointer moves.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../tensor/tensor.js";
import { ChimeraError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.js";
import type { Module } from "../nn/module.js";
import type { Optimizer } from "./optim/optimizer.js";

export interface TrainerState {
  step: number;
  tokens: number;
  elapsedSec: number;
  /** Generator state of the dropout RNG. */
  rng: { seed: number; offset: number };
  /** Data cursor of the next batch. */
  cursor: { epoch: number; index: number };
  dataFingerprint: string;
  /** Flags the run started with, so --resume can check it continues the same run. */
  args: Record<string, unknown>;
  optimizerKind: string;
  bestValLoss: number | null;
}

export interface Checkpoint {
  dir: string;
  state: TrainerState;
  weights: Map<string, Tensor>;
  optimizer: Map<string, Float32Array>;
}

export function saveCheckpoint(runDir: string, model: Module, opt: Optimizer, state: TrainerState, keep = 2): string {
  const rel = join("checkpoints", `step-${String(state.step).padStart(7, "0")}`);
  const dir = join(runDir, rel);
  mkdirSync(dir, { recursive: true });
  saveSafetensors(join(dir, "model.safetensors"), model.stateDict(), { format: "chimera", step: String(state.step) });
  const bufs = new Map<string, Tensor>();
  for (const [name, b] of opt.buffers()) bufs.set(name, new Tensor(b, [b.length]));
  saveSafetensors(join(dir, "optimizer.safetensors"), bufs, { step: String(opt.step) });
  writeFileAtomic(join(dir, "state.json"), JSON.stringify({ ...state, optimizerStep: opt.step }, null, 1));
  writeFileAtomic(join(runDir, "latest.json"), JSON.stringify({ step: state.step, dir: rel }));
  // prune old checkpoints (never the one just written)
  const all = readdirSync(join(runDir, "checkpoints")).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) if (join("checkpoints", d) !== rel) rmSync(join(runDir, "checkpoints", d), { recursive: true, force: true });
  return dir;
}

/** The folder of the newest complete checkpoint of a run, or null when there is none. */
export function latestCheckpointDir(runDir: string): string | null {
  const p = join(runDir, "latest.json");
  if (!existsSync(p)) return null;
  let rel: string;
  try {
    rel = (JSON.parse(readFileSync(p, "utf8")) as { dir: string }).dir;
  } catch (e) {
    throw new ChimeraError(`${p}: unreadable checkpoint pointer (${(e as Error).message})`);
  }
  const dir = join(runDir, rel);
  if (!existsSync(join(dir, "model.safetensors"))) throw new ChimeraError(`${p} points to '${rel}', which has no model.safetensors`);
  return dir;
}

export function loadCheckpoint(dir: string): Checkpoint {
  const stateFile = join(dir, "state.json");
  let state: TrainerState & { optimizerStep?: number };
  try {
    state = JSON.parse(readFileSync(stateFile, "utf8")) as TrainerState;
  } catch (e) {
    throw new ChimeraError(`${stateFile}: cannot read trainer state (${(e as Error).message})`);
  }
  const weights = loadSafetensors(join(dir, "model.safetensors")).tensors;
  const optimizer = new Map<string, Float32Array>();
  const optFile = join(dir, "optimizer.safetensors");
  if (existsSync(optFile))
    for (const [name, t] of loadSafetensors(optFile).tensors) optimizer.set(name, t.dense() as Float32Array);
  return { dir, state, weights, optimizer };
}
