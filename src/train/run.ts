/**
 * Setting up and reopening runs: the tokenizer a run uses (trained BPE by default, saved into the
 * run folder), its config (vocab matched to the tokenizer), and loading a finished or
 * interrupted run folder back (config.json + tokenizer + newest checkpoint) for eval/generate.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ChimeraError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { loadSafetensors } from "../io/safetensors.js";
import { validateConfig, toJsonText, type ModelConfig } from "../config/index.js";
import { loadTokenizer, trainBpe, type Tokenizer } from "../tokenizer/index.js";
import { loadDocuments, splitDocuments } from "../data/index.js";
import { buildModel, type CausalLM } from "../models/causal_lm.js";
import { latestCheckpointDir } from "./checkpoint.js";

/**
 * Resolves `spec`: "bpe" (train a byte-level BPE of `vocab` tokens on the training split of
 * `data`, deterministic), "byte", "gpt2", or a tokenizer.json path. Saves it into `runDir`.
 */
export function prepareTokenizer(spec: string, data: string, vocab: number, valFraction: number, runDir: string, log: (m: string) => void): Tokenizer {
  const saved = join(runDir, "tokenizer.json");
  let tok: Tokenizer;
  if (spec === "bpe") {
    if (existsSync(saved)) {
      tok = loadTokenizer(saved);
      if (tok.vocabSize === vocab) return tok;
    }
    const t0 = performance.now();
    const { train } = splitDocuments(loadDocuments(data), valFraction);
    tok = trainBpe(train.map((d) => d.text), { vocabSize: vocab });
    log(`tokenizer: trained byte-level BPE with ${vocab} tokens on the training split in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else tok = loadTokenizer(spec);
  if (tok.save) tok.save(saved);
  else writeFileAtomic(join(runDir, "tokenizer.txt"), spec + "\n");
  return tok;
}

/** The config with its vocabulary matched to the tokenizer. */
export function withVocab(cfg: ModelConfig, vocab: number): ModelConfig {
  return cfg.vocabSize === vocab ? cfg : validateConfig(JSON.parse(toJsonText({ ...cfg, vocabSize: vocab })));
}

export function saveRunConfig(runDir: string, cfg: ModelConfig): void {
  writeFileAtomic(join(runDir, "config.json"), toJsonText(cfg) + "\n");
}

export interface LoadedRun {
  dir: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  model: CausalLM;
  step: number | null;
  checkpointDir: string;
}

/** Opens a run folder (or a checkpoint folder inside one) for evaluation or generation. */
export function loadRun(dir: string): LoadedRun {
  if (!existsSync(dir)) throw new ChimeraError(`model folder '${dir}' does not exist`);
  let runDir = dir;
  let ck: string | null;
  if (existsSync(join(dir, "model.safetensors")) && !existsSync(join(dir, "config.json"))) {
    ck = dir; // a checkpoint folder: config lives two levels up
    runDir = join(dir, "..", "..");
  } else ck = existsSync(join(dir, "model.safetensors")) ? dir : latestCheckpointDir(dir);
  if (!ck) throw new ChimeraError(`model folder '${dir}' has no checkpoint (no latest.json or model.safetensors)`);
  const cfgPath = join(runDir, "config.json");
  if (!existsSync(cfgPath)) throw new ChimeraError(`model folder '${runDir}' has no config.json`);
  let cfgJson: unknown;
  try {
    cfgJson = JSON.parse(readFileSync(cfgPath, "utf8"));
  } catch (e) {
    throw new ChimeraError(`${cfgPath}: invalid JSON (${(e as Error).message})`);
  }
  const config = validateConfig(cfgJson);
  const tokPath = join(runDir, "tokenizer.json");
  const tokTxt = join(runDir, "tokenizer.txt");
  const tokenizer = existsSync(tokPath) ? loadTokenizer(tokPath) : existsSync(tokTxt) ? loadTokenizer(readFileSync(tokTxt, "utf8").trim()) : null;
  if (!tokenizer) throw new ChimeraError(`model folder '${runDir}' has no tokenizer.json`);
  const model = buildModel(config, { seed: 0 });
  model.loadStateDict(loadSafetensors(join(ck, "model.safetensors")).tensors);
  model.eval();
  let step: number | null = null;
  try {
    step = (JSON.parse(readFileSync(join(ck, "state.json"), "utf8")) as { step: number }).step;
  } catch {
    /* a bare weights folder */
  }
  return { dir: runDir, config, tokenizer, model, step, checkpointDir: ck };
}
