/**
 * The gated delta rule: the sequence-mixing core of Gated DeltaNet (arXiv 2412.06464) with
 * Qwen3-Next semantics (components.md §11). The op, not the layer: projections, short conv, the
 * gates g = −exp(A_log)·softplus(a + dt_bias) and β = σ(b), and the gated output norm belong to
 * the layer, which backpropagates through them with ordinary ops.
 *
 * Shapes: q, k [B, T, H, Dk] (L2-normalised by the caller, or pass useQkL2Norm), v [B, T, H, Dv],
 * g [B, T, H] log-decay (≤ 0), beta [B, T, H] write strength, initialState [B, H, Dk, Dv]
 * (key-major S, as in fla/HF) → out [B, T, H, Dv], finalState [B, H, Dk, Dv].
 *
 * Per head and token (q scaled by `scale`, default Dk^−½):
 *   S ← e^{g_t} S;   S ← S + k_t (β_t (v_t − Sᵀk_t))ᵀ;   o_t = Sᵀ q_t
 *
 * mode "chunk" runs the chunked WY/UT form (training/prefill, chunk 64), "recurrent" the
 * token-by-token form (decode); "auto" picks recurrent for T ≤ 16 and chunked otherwise. Both give
 * the same result; the gradient (w.r.t. q, k, v, g, beta and initialState) always comes from the
 * chunked backward kernel, which is exact and linear in T. See docs/gated-deltanet.md.
 */
import { Tensor } from "../tensor/tensor.js";
import { shapeStr } from "../tensor/shape.js";
import { allocArray } from "../tensor/dtype.js";
import { record, needsGrad } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, empty, K } from "./util.js";
import { l2Normalize } from "./norm.js";

export type GatedDeltaMode = "auto" | "chunk" | "recurrent";

export interface GatedDeltaOptions {
  /** [B, H, Dk, Dv] state to start from (a decode cache); null/undefined means zeros. */
  initialState?: Tensor | null;
  /** Multiplies q (default Dk^−½). */
  scale?: number;
  /** Default "auto": recurrent for T ≤ RECURRENT_MAX_T, chunked otherwise. */
  mode?: GatedDeltaMode;
  /** Chunk length C of the chunked form and of the backward (default 64). */
  chunkSize?: number;
  /** Return the final state (default true); when false `finalState` is null. */
  outputFinalState?: boolean;
  /** L2-normalise q and k over Dk first (x·rsqrt(Σx² + 1e-6), components.md §1.5). Default false. */
  useQkL2Norm?: boolean;
}

export interface GatedDeltaResult {
  out: Tensor;
  finalState: Tensor | null;
}

/** "auto" uses the recurrent kernel up to this many tokens (decode steps, short prompts). */
export const RECURRENT_MAX_T = 16;

export function gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, opts: GatedDeltaOptions = {}): GatedDeltaResult {
  const op = "gatedDeltaRule";
  const init = opts.initialState ?? null;
  const dtype = checkInputs(op, ...(init ? [q, k, v, g, beta, init] : [q, k, v, g, beta]));
  const shapes = (): string => `q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}, g ${shapeStr(g.shape)}, beta ${shapeStr(beta.shape)}${init ? `, initialState ${shapeStr(init.shape)}` : ""}`;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4 || g.rank !== 3 || beta.rank !== 3)
    throw new OpError(op, `expected q, k [B, T, H, Dk], v [B, T, H, Dv], g, beta [B, T, H]; got ${shapes()}`);
  const [B, T, H, Dk] = q.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
  if (!same(k.shape, q.shape) || !same(v.shape.slice(0, 3), [B, T, H]) || !same(g.shape, [B, T, H]) || !same(beta.shape, [B, T, H]))
    throw new OpError(op, `shape mismatch: ${shapes()} (k must equal q; v, g, beta must share [B, T, H] = ${shapeStr([B, T, H])})`);
  if (init && !same(init.shape, [B, H, Dk, Dv]))
    throw new OpError(op, `initialState must be [B, H, Dk, Dv] = ${shapeStr([B, H, Dk, Dv])}; got ${shapes()}`);
  if (Dk === 0 || Dv === 0 || H === 0) throw new OpError(op, `empty head dims: ${shapes()}`);
  const C = opts.chunkSize ?? 64;
  if (!Number.isInteger(C) || C < 1) throw new OpError(op, `chunkSize must be a positive integer, got ${C}`);
  const scale = opts.scale ?? 1 / Math.sqrt(Dk);
  const mode = opts.mode ?? "auto";
  if (mode !== "auto" && mode !== "chunk" && mode !== "recurrent") throw new OpError(op, `unknown mode '${String(mode)}'`);
  const outputFinal = opts.outputFinalState ?? true;

  if (opts.useQkL2Norm) {
    q = l2Normalize(q, -1, 1e-6);
    k = l2Normalize(k, -1, 1e-6);
  }

  const recurrent = mode === "recurrent" || (mode === "auto" && T <= RECURRENT_MAX_T);
  const qd = q.dense();
  const kd = k.dense();
  const vd = v.dense();
  const gd = g.dense();
  const bd = beta.dense();
  const id = init ? init.dense() : null;
  const out = empty([B, T, H, Dv], dtype);
  const finalState = empty([B, H, Dk, Dv], dtype);
  const grad = needsGrad(q, k, v, g, beta, init);
  const NC = Math.ceil(T / C);
  const saved = grad ? allocArray(dtype, B * H * NC * Dk * Dv) : null;
  const kern = K(q);
  (recurrent ? kern.gatedDeltaRecurrent : kern.gatedDeltaForward)(qd, kd, vd, gd, bd, id, out.data, finalState.data, saved, B, T, H, Dk, Dv, scale, C);

  const outputs = outputFinal ? [out, finalState] : [out];
  record(op, [q, k, v, g, beta, init], outputs, ([gOut, gFinal]) => {
    const gq = empty(q.shape, dtype);
    const gk = empty(k.shape, dtype);
    const gv = empty(v.shape, dtype);
    const gg = empty(g.shape, dtype);
    const gb = empty(beta.shape, dtype);
    const gi = init && init.requiresGrad ? empty(init.shape, dtype) : null;
    const go = gOut ? gOut.dense() : allocArray(dtype, out.size);
    K(gq).gatedDeltaBackward(qd, kd, vd, gd, bd, saved!, go, gFinal ? gFinal.dense() : null, gq.data, gk.data, gv.data, gg.data, gb.data, gi ? gi.data : null, B, T, H, Dk, Dv, scale, C);
    return [gq, gk, gv, gg, gb, gi];
  });
  return { out, finalState: outputFinal ? finalState : null };
}
