/**
 * Gated DeltaNet vs attention: forward and forward+backward time of the gated delta rule
 * (src/ops/gated_delta.ts, chunked form) and of fused causal attention (src/ops/attention.ts) at
 * several sequence lengths with the same tokens per batch (B·T fixed), float32. A linear-time
 * mixer keeps its time flat as T grows at fixed B·T; attention's grows about linearly with T
 * (its cost per token is O(T)).
 *
 * Usage: npm run bench:deltanet -- [--tokens 8192] [--lengths 1024,4096] [--heads 4] [--dim 64]
 *                                  [--reps 5] [--threads N] [--backend native|reference]
 * Prints a markdown table (best wall-clock time of --reps interleaved rounds after one warm-up,
 * plus the best process CPU time, which is steadier on a shared machine) and T_max / T_min ratios.
 */
import { Tensor } from "../src/tensor/tensor.js";
import { gatedDeltaRule } from "../src/ops/gated_delta.js";
import { attention } from "../src/ops/attention.js";
import { backward } from "../src/autograd/backward.js";
import { noGrad } from "../src/autograd/node.js";
import { setBackend, backendName, nativeAvailable } from "../src/backend/index.js";
import { getThreads, setThreads } from "../src/backend/native/index.js";
import { philoxNormal } from "../src/tensor/rng.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
}

const tokens = Number(arg("tokens", "8192"));
const lengths = arg("lengths", "1024,4096").split(",").map(Number);
const H = Number(arg("heads", "4"));
const D = Number(arg("dim", "64"));
const reps = Number(arg("reps", "5"));
const backend = arg("backend", nativeAvailable() ? "native" : "reference") as "native" | "reference";
setBackend(backend);
if (process.argv.includes("--threads")) setThreads(Number(arg("threads", "1")));

let seed = 1;
function randn(shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  philoxNormal(d, seed++, 11, 0);
  if (scale !== 1) for (let i = 0; i < n; i++) d[i]! *= scale;
  return new Tensor(d, shape);
}
function map(t: Tensor, f: (x: number) => number): Tensor {
  return new Tensor(Float32Array.from(t.dense(), f), t.shape);
}
/** Unit rows over the last axis (the layer L2-normalises q and k). */
function unit(t: Tensor): Tensor {
  const d = t.dense();
  const n = t.shape[t.rank - 1]!;
  for (let r = 0; r < d.length / n; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[r * n + i]! ** 2;
    const f = 1 / Math.sqrt(s + 1e-6);
    for (let i = 0; i < n; i++) d[r * n + i]! *= f;
  }
  return t;
}

interface Timing { wall: number; cpu: number }
/** Times one run of fn: wall-clock and process CPU milliseconds. */
function once(fn: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

type Case = "gdnF" | "gdnFB" | "attF" | "attFB";
interface Row { T: number; B: number; run: Record<Case, () => void>; best: Record<Case, Timing> }
const rows: Row[] = lengths.map((T) => {
  const B = Math.max(1, Math.round(tokens / T));
  const leaf = (t: Tensor): Tensor => t.requiresGrad_();
  const q = leaf(unit(randn([B, T, H, D])));
  const k = leaf(unit(randn([B, T, H, D])));
  const v = leaf(randn([B, T, H, D]));
  const g = leaf(map(randn([B, T, H]), (x) => -Math.log1p(Math.exp(x)) * 0.5));
  const beta = leaf(map(randn([B, T, H]), (x) => 1 / (1 + Math.exp(-x))));
  const gOut = randn([B, T, H, D]);
  const aq = leaf(randn([B, T, H, D]));
  const ak = leaf(randn([B, T, H, D]));
  const av = leaf(randn([B, T, H, D]));
  const clear = (ts: Tensor[]): void => ts.forEach((t) => (t.grad = null));
  const run: Record<Case, () => void> = {
    gdnF: () => void noGrad(() => gatedDeltaRule(q, k, v, g, beta, { mode: "chunk" })),
    gdnFB: () => {
      backward([gatedDeltaRule(q, k, v, g, beta, { mode: "chunk", outputFinalState: false }).out], [gOut]);
      clear([q, k, v, g, beta]);
    },
    attF: () => void noGrad(() => attention(aq, ak, av, { causal: true })),
    attFB: () => {
      backward([attention(aq, ak, av, { causal: true })], [gOut]);
      clear([aq, ak, av]);
    },
  };
  const inf = { wall: Infinity, cpu: Infinity };
  return { T, B, run, best: { gdnF: { ...inf }, gdnFB: { ...inf }, attF: { ...inf }, attFB: { ...inf } } };
});

// One warm-up, then `reps` rounds that visit every (case, T) in turn, so a burst of load from
// other processes hits all lengths alike; keep the best time of each.
const cases: Case[] = ["gdnF", "gdnFB", "attF", "attFB"];
for (const r of rows) for (const c of cases) r.run[c]();
for (let rep = 0; rep < reps; rep++) {
  for (const c of cases)
    for (const r of rows) {
      const t = once(r.run[c]);
      r.best[c].wall = Math.min(r.best[c].wall, t.wall);
      r.best[c].cpu = Math.min(r.best[c].cpu, t.cpu);
    }
  console.error(`round ${rep + 1}/${reps} done`);
}

const ms = (t: Timing): string => `${t.wall.toFixed(0)} (${t.cpu.toFixed(0)})`;
console.log(`Gated DeltaNet (chunked, C=64) vs causal attention, float32, backend ${backendName()}, ${getThreads()} thread(s), ` +
  `H=${H}, Dk=Dv=${D}, B·T=${tokens}; ms, best of ${reps}: wall (process CPU)\n`);
console.log("| T | B | GDN fwd | GDN fwd+bwd | attention fwd | attention fwd+bwd |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.T} | ${r.B} | ${ms(r.best.gdnF)} | ${ms(r.best.gdnFB)} | ${ms(r.best.attF)} | ${ms(r.best.attFB)} |`);
if (rows.length >= 2) {
  const a = rows[0]!;
  const b = rows[rows.length - 1]!;
  const ratio = (x: Timing, y: Timing): string => `${(y.wall / x.wall).toFixed(2)}× wall, ${(y.cpu / x.cpu).toFixed(2)}× CPU`;
  console.log(`\nRatio T=${b.T} / T=${a.T}, fwd+bwd: GDN ${ratio(a.best.gdnFB, b.best.gdnFB)}; attention ${ratio(a.best.attFB, b.best.attFB)}`);
  console.log(`Ratio T=${b.T} / T=${a.T}, fwd:     GDN ${ratio(a.best.gdnF, b.best.gdnF)}; attention ${ratio(a.best.attF, b.best.attF)}`);
}
