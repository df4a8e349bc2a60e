/**
 * Training-throughput benchmark: forward + backward + AdamW steps of a preset on random tokens,
 * timed like ../shared/bench/torch_gpt_train.py (3 warm-up steps, then the median of N steps),
 * optionally running that PyTorch script back to back and reporting the ratio.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { loadConfig } from "../config/index.js";
import { buildModel } from "../models/causal_lm.js";
import { AdamW } from "../train/optim/adamw.js";
import { backward } from "../autograd/backward.js";
import { Generator, philoxUniform } from "../tensor/rng.js";
import { backendName } from "../backend/index.js";
import { ChimeraError } from "../errors.js";

export interface TrainBenchOptions {
  preset: string;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  /** Run the PyTorch anchor script back to back when given (path) and python3-torch exists. */
  torchScript?: string | null;
}

export interface TrainBenchResult {
  impl: "chimera";
  preset: string;
  backend: string;
  params: number;
  batch: number;
  seq: number;
  tokensPerSec: number;
  stepMs: number;
  stepMsAll: number[];
  torch?: { tokensPerSec: number; stepMs: number; params: number; torch: string } | { error: string };
  ratioVsTorch?: number;
}

function randomTokens(n: number, vocab: number, gen: Generator): Int32Array {
  const u = new Float64Array(n);
  philoxUniform(u, gen.k0, gen.k1, gen.take(n));
  return Int32Array.from(u, (x) => Math.min(vocab - 1, Math.floor(x * vocab)));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function runTorchAnchor(script: string, steps: number): TrainBenchResult["torch"] {
  if (!existsSync("/usr/bin/python3")) return { error: "/usr/bin/python3 not found" };
  const r = spawnSync("/usr/bin/python3", [script, String(steps)], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "2" },
    timeout: 600_000,
  });
  if (r.status !== 0) return { error: (r.stderr || r.stdout || "torch script failed").trim().split("\n").slice(-1)[0]! };
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { tokensPerSec: number; stepMs: number; params: number; torch: string };
  } catch {
    return { error: `unexpected output: ${r.stdout.slice(0, 200)}` };
  }
}

export function runTrainBench(o: TrainBenchOptions): TrainBenchResult {
  const cfg = loadConfig(o.preset);
  if (o.seq > cfg.contextLength && cfg.positional.kind === "learned")
    throw new ChimeraError(`bench train: --seq ${o.seq} exceeds the context ${cfg.contextLength} of ${o.preset}`);
  const model = buildModel(cfg, { seed: 0 });
  model.train();
  const opt = new AdamW(model.namedParameters().map(([name, p]) => ({ name, p })), { lr: 3e-4, weightDecay: 0.01, beta2: 0.999 });
  const gen = new Generator(1234);
  const n = o.batch * o.seq;
  const x = randomTokens(n, cfg.vocabSize, gen);
  const y = randomTokens(n, cfg.vocabSize, gen);
  const times: number[] = [];
  for (let s = 0; s < o.warmup + o.steps; s++) {
    const t0 = performance.now();
    const out = model.forward(x, o.batch, o.seq, { targets: y });
    backward([out.loss!], undefined, { releaseIntermediates: true });
    opt.update();
    model.zeroGrad({ release: true });
    const dt = performance.now() - t0;
    if (s >= o.warmup) times.push(dt);
  }
  const stepMs = median(times);
  const res: TrainBenchResult = {
    impl: "chimera", preset: o.preset, backend: backendName(), params: model.numParameters(), batch: o.batch, seq: o.seq,
    tokensPerSec: (n / stepMs) * 1000, stepMs, stepMsAll: times.map((t) => Math.round(t * 10) / 10),
  };
  if (o.torchScript) {
    const script = resolve(o.torchScript);
    res.torch = existsSync(script) ? runTorchAnchor(script, o.steps) : { error: `${script} not found` };
    if (res.torch && "tokensPerSec" in res.torch) res.ratioVsTorch = res.tokensPerSec / res.torch.tokensPerSec;
  }
  return res;
}
