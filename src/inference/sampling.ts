/**
 * Token sampling: logits → the distribution a token is drawn from, and the draw.
 *
 * The pipeline (in this order, each step optional):
 *   1. repetition penalty ρ (CTRL, Keskar et al. 2019; the Hugging Face rule): for every token
 *      already in the context, a positive logit is divided by ρ and a negative one multiplied by ρ;
 *   2. presence / frequency penalties (OpenAI): l −= presence·[count > 0] + frequency·count;
 *   3. temperature τ: l / τ; τ = 0 is greedy (a one-hot on the argmax, ties → lowest id);
 *   4. softmax (in float64, max-subtracted);
 *   5. top-k: keep the k most likely tokens; top-p (nucleus, Holtzman et al. 2020): keep the
 *      smallest most-likely set whose mass reaches p; min-p: drop tokens below minP·max;
 *   6. renormalise.
 * The result is the exact distribution the sampler draws from, so speculative decoding uses the
 * same function for its target p and draft q (src/inference/speculative.ts).
 *
 * Randomness: a per-request Philox stream (src/tensor/rng.ts) seeded by the request's seed, one
 * 128-bit block per four uniforms in (0, 1]; the same seed and settings give the same tokens.
 * Log-probabilities are those of the raw model (log-softmax of the unprocessed logits).
 */
import { Generator, philoxUniform } from "../tensor/rng.js";
import { ChimeraError } from "../errors.js";

export interface SamplingOptions {
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Nucleus mass in (0, 1] (1 = off). */
  topP?: number;
  /** Drop tokens whose probability is below minP · max (0 = off). */
  minP?: number;
  /** > 0; 1 = off. */
  repetitionPenalty?: number;
  /** OpenAI presence penalty in [−2, 2]. */
  presencePenalty?: number;
  /** OpenAI frequency penalty in [−2, 2]. */
  frequencyPenalty?: number;
  /** Seed of the request's random stream (default: random, reported back). */
  seed?: number;
}

export type SamplingParams = Required<SamplingOptions>;

/** Largest seed accepted (2^53 − 1: exact in a JS number; the Philox key takes 64 bits). */
const MAX_SEED = Number.MAX_SAFE_INTEGER;

function num(name: string, v: unknown, lo: number, hi: number, fallback: number, opts: { integer?: boolean; loOpen?: boolean } = {}): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ChimeraError(`sampling: ${name} must be a finite number, got ${JSON.stringify(v)}`);
  if (opts.integer && !Number.isInteger(v)) throw new ChimeraError(`sampling: ${name} must be an integer, got ${v}`);
  if (v < lo || v > hi || (opts.loOpen && v === lo))
    throw new ChimeraError(`sampling: ${name} must be in ${opts.loOpen ? "(" : "["}${lo}, ${hi}], got ${v}`);
  return v;
}

/** Checks every option (a ChimeraError names the bad one) and fills the defaults. */
export function samplingParams(o: SamplingOptions = {}): SamplingParams {
  return {
    temperature: num("temperature", o.temperature, 0, 100, 1),
    topK: num("topK", o.topK, 0, 1 << 30, 0, { integer: true }),
    topP: num("topP", o.topP, 0, 1, 1, { loOpen: true }),
    minP: num("minP", o.minP, 0, 1, 0),
    repetitionPenalty: num("repetitionPenalty", o.repetitionPenalty, 0, 100, 1, { loOpen: true }),
    presencePenalty: num("presencePenalty", o.presencePenalty, -2, 2, 0),
    frequencyPenalty: num("frequencyPenalty", o.frequencyPenalty, -2, 2, 0),
    seed: num("seed", o.seed, 0, MAX_SEED, Math.floor(Math.random() * 2 ** 32), { integer: true }),
  };
}

/** Token counts of the context (prompt + generated), for the penalties. */
export class TokenCounts {
  readonly counts = new Map<number, number>();
  constructor(ids: Iterable<number> = []) {
    for (const t of ids) this.add(t);
  }
  add(t: number): void {
    this.counts.set(t, (this.counts.get(t) ?? 0) + 1);
  }
  clone(): TokenCounts {
    const c = new TokenCounts();
    for (const [k, v] of this.counts) c.counts.set(k, v);
    return c;
  }
}

/** Greedy when τ = 0. */
export function isGreedy(p: SamplingParams): boolean {
  return p.temperature === 0;
}

/** The index of the largest value (lowest index on ties). */
export function argmaxOf(x: ArrayLike<number>, off = 0, n = x.length - off): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[off + i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * The sampling distribution over V tokens for logits[off … off+V−1], given the context counts.
 * Returns a fresh Float64Array that sums to 1.
 */
export function distribution(logits: ArrayLike<number>, off: number, V: number, p: SamplingParams, ctx: TokenCounts | null): Float64Array {
  const l = new Float64Array(V);
  for (let i = 0; i < V; i++) l[i] = logits[off + i]!;
  if (ctx && (p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0)) {
    for (const [t, c] of ctx.counts) {
      if (t < 0 || t >= V) continue;
      let x = l[t]!;
      if (p.repetitionPenalty !== 1) x = x > 0 ? x / p.repetitionPenalty : x * p.repetitionPenalty;
      x -= p.presencePenalty * (c > 0 ? 1 : 0) + p.frequencyPenalty * c;
      l[t] = x;
    }
  }
  if (p.temperature === 0) {
    const out = new Float64Array(V);
    out[argmaxOf(l)] = 1;
    return out;
  }
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (l[i]! > m) m = l[i]!;
  let s = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp((l[i]! - m) / p.temperature);
    l[i] = e;
    s += e;
  }
  for (let i = 0; i < V; i++) l[i] = l[i]! / s;
  truncate(l, p);
  return l;
}

/** Top-k, top-p and min-p on a normalised distribution, in place; renormalises. */
function truncate(pr: Float64Array, p: SamplingParams): void {
  const V = pr.length;
  const k = p.topK > 0 && p.topK < V ? p.topK : V;
  if (k === V && p.topP >= 1 && p.minP <= 0) return;
  if (p.minP > 0) {
    let mx = 0;
    for (let i = 0; i < V; i++) if (pr[i]! > mx) mx = pr[i]!;
    const cut = p.minP * mx;
    for (let i = 0; i < V; i++) if (pr[i]! < cut) pr[i] = 0;
  }
  if (k < V || p.topP < 1) {
    // order tokens by probability (descending; ties → lower id first), keep a prefix
    const idx: number[] = [];
    for (let i = 0; i < V; i++) if (pr[i]! > 0) idx.push(i);
    idx.sort((a, b) => pr[b]! - pr[a]! || a - b);
    let total = 0;
    for (const i of idx) total += pr[i]!;
    let keep = Math.min(k, idx.length);
    if (p.topP < 1) {
      let acc = 0;
      for (let r = 0; r < keep; r++) {
        acc += pr[idx[r]!]! / total;
        if (acc >= p.topP - 1e-12) {
          keep = r + 1;
          break;
        }
      }
    }
    for (let r = Math.max(1, keep); r < idx.length; r++) pr[idx[r]!] = 0;
  }
  let s = 0;
  for (let i = 0; i < V; i++) s += pr[i]!;
  for (let i = 0; i < V; i++) pr[i] = pr[i]! / s;
}

/** Draws the token whose cumulative probability first reaches u ∈ (0, 1] (never a zero-probability token). */
export function drawFrom(pr: ArrayLike<number>, u: number): number {
  let total = 0;
  for (let i = 0; i < pr.length; i++) total += pr[i]!;
  const target = u * total;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < pr.length; i++) {
    const x = pr[i]!;
    if (x <= 0) continue;
    acc += x;
    last = i;
    if (acc >= target) return i;
  }
  if (last < 0) throw new ChimeraError("sampling: the distribution has no token with positive probability");
  return last;
}

/** A request's seeded stream of uniforms in (0, 1] (Philox4x32-10, four per block). */
export class UniformStream {
  private readonly gen: Generator;
  private readonly buf = new Float64Array(4);
  private pos = 4;
  constructor(readonly seed: number) {
    this.gen = new Generator(seed);
  }
  next(): number {
    if (this.pos === 4) {
      philoxUniform(this.buf, this.gen.k0, this.gen.k1, this.gen.take(4));
      this.pos = 0;
    }
    return this.buf[this.pos++]!;
  }
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  /** The n most likely tokens at this position (when requested). */
  top?: { token: number; logprob: number }[];
}

/** Raw-model log-probability of `token` and (n > 0) the n most likely alternatives. */
export function logprobsOf(logits: ArrayLike<number>, off: number, V: number, token: number, n: number): TokenLogprob {
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[off + i]! > m) m = logits[off + i]!;
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(logits[off + i]! - m);
  const lse = m + Math.log(s);
  const out: TokenLogprob = { token, logprob: logits[off + token]! - lse };
  if (n > 0) {
    const best: number[] = [];
    for (let i = 0; i < V; i++) {
      const v = logits[off + i]!;
      if (best.length < n || v > logits[off + best[best.length - 1]!]!) {
        let j = best.length < n ? best.length : n - 1;
        if (best.length < n) best.push(i);
        while (j > 0 && logits[off + best[j - 1]!]! < v) {
          best[j] = best[j - 1]!;
          j--;
        }
        best[j] = i;
      }
    }
    out.top = best.map((t) => ({ token: t, logprob: logits[off + t]! - lse }));
  }
  return out;
}

/** Samples one token: distribution + draw from the request's stream. */
export class Sampler {
  readonly params: SamplingParams;
  readonly rng: UniformStream;
  constructor(opts: SamplingOptions = {}) {
    this.params = samplingParams(opts);
    this.rng = new UniformStream(this.params.seed);
  }
  /** Distribution for logits[off … off+V−1] under this sampler's settings. */
  dist(logits: ArrayLike<number>, off: number, V: number, ctx: TokenCounts | null): Float64Array {
    return distribution(logits, off, V, this.params, ctx);
  }
  sample(logits: ArrayLike<number>, off: number, V: number, ctx: TokenCounts | null): number {
    if (isGreedy(this.params) && (!ctx || (this.params.repetitionPenalty === 1 && this.params.presencePenalty === 0 && this.params.frequencyPenalty === 0)))
      return argmaxOf(logits, off, V);
    return drawFrom(this.dist(logits, off, V, ctx), this.rng.next());
  }
}
