/**
 * Speculative sampling acceptance rule (Leviathan et al. 2023, arXiv 2211.17192; Chen et al. 2023,
 * arXiv 2302.01318; components.md §17), as pure functions over distributions.
 *
 * A drafter proposes x_1 … x_γ with x_i ~ q_i; the target scores all γ+1 positions in one pass
 * (p_1 … p_{γ+1}). For i = 1 … γ: accept x_i with probability min(1, p_i(x_i)/q_i(x_i)); on the
 * first rejection draw a replacement from the normalised residual
 *   p'(x) = max(0, p_i(x) − q_i(x)) / Σ_y max(0, p_i(y) − q_i(y))
 * and stop; if every draft is accepted, draw a bonus token from p_{γ+1}. Every emitted token is then
 * distributed exactly as p (whatever q is). With one-hot p and q (greedy, τ = 0) the rule reduces
 * to "accept iff x_i = argmax p_i; otherwise emit argmax p_i", so greedy speculative output equals
 * greedy output token for token.
 *
 * Expected tokens per target pass with per-token acceptance α = Σ_x min(p, q) = 1 − TV(p, q):
 * (1 − α^{γ+1}) / (1 − α).
 */
import { drawFrom } from "./sampling.js";
import { ChimeraError } from "../errors.js";

export interface AcceptResult {
  /** Drafts accepted (a prefix of the drafts). */
  accepted: number;
  /** The tokens to emit: the accepted drafts, then the replacement (on rejection) or the bonus token. */
  tokens: number[];
}

/** max(0, p − q), normalised; falls back to p when the residual has no mass (p ≤ q everywhere). */
export function residual(p: ArrayLike<number>, q: ArrayLike<number>): Float64Array {
  const V = p.length;
  const r = new Float64Array(V);
  let s = 0;
  for (let i = 0; i < V; i++) {
    const d = p[i]! - q[i]!;
    if (d > 0) {
      r[i] = d;
      s += d;
    }
  }
  if (!(s > 0)) {
    for (let i = 0; i < V; i++) r[i] = p[i]!;
    return r;
  }
  for (let i = 0; i < V; i++) r[i] = r[i]! / s;
  return r;
}

/**
 * Applies the acceptance rule. drafts[i] was drawn from q[i]; p has one more distribution than
 * there are drafts (the bonus position). `uniform()` returns numbers in (0, 1].
 * `targetAt(i)` may replace p: distributions are then computed lazily (only up to the first
 * rejection), which matters when each costs a softmax over a large vocabulary.
 */
export function acceptDrafts(
  drafts: readonly number[],
  q: readonly ArrayLike<number>[],
  p: readonly ArrayLike<number>[] | ((i: number) => ArrayLike<number>),
  uniform: () => number,
): AcceptResult {
  const target = typeof p === "function" ? p : (i: number) => p[i]!;
  if (q.length !== drafts.length) throw new ChimeraError(`speculative: ${drafts.length} drafts but ${q.length} draft distributions`);
  if (typeof p !== "function" && p.length !== drafts.length + 1)
    throw new ChimeraError(`speculative: ${drafts.length} drafts need ${drafts.length + 1} target distributions, got ${p.length}`);
  const tokens: number[] = [];
  for (let i = 0; i < drafts.length; i++) {
    const x = drafts[i]!;
    const pi = target(i);
    const qi = q[i]!;
    const px = pi[x]!;
    const qx = qi[x]!;
    // u ∈ (0, 1]: P(u ≤ r) = min(1, r)
    if (qx <= 0 ? px > 0 : uniform() * qx <= px) {
      tokens.push(x);
      continue;
    }
    tokens.push(drawFrom(residual(pi, qi), uniform()));
    return { accepted: i, tokens };
  }
  tokens.push(drawFrom(target(drafts.length), uniform()));
  return { accepted: drafts.length, tokens };
}

/** Per-token acceptance probability α = Σ_x min(p(x), q(x)). */
export function acceptanceProbability(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.min(p[i]!, q[i]!);
  return s;
}

/** Expected tokens per target pass for γ drafts with per-token acceptance α. */
export function expectedTokensPerPass(alpha: number, gamma: number): number {
  return alpha >= 1 ? gamma + 1 : (1 - Math.pow(alpha, gamma + 1)) / (1 - alpha);
}
