/**
 * Rotary position embedding (RoFormer, Su et al. 2021, arXiv 2104.09864; components.md §4.1–4.2).
 *
 * ropeTables builds cos/sin tables [P, R/2] (R = rotaryDim) from the inverse frequencies
 * inv_i = theta^(−2i/R), i = 0..R/2−1, optionally rescaled for context extension:
 *  - linear:  inv_i / factor (position interpolation);
 *  - yarn:    YaRN (arXiv 2309.00071; HF `_compute_yarn_parameters`): blend of inv_i and inv_i/s
 *             over a linear ramp between the correction dims of betaFast and betaSlow, and cos/sin
 *             multiplied by the attention factor 0.1·ln(s) + 1;
 *  - llama3:  Llama 3.1 (HF `_compute_llama3_parameters`): wavelengths above L₀/lowFreqFactor are
 *             divided by the factor, those below L₀/highFreqFactor kept, and the band between
 *             blended smoothly.
 * rope(x, positions, tables) rotates the first R channels of each head of x [B, T, H, D] or
 * [N, H, D] (rotate-half pairs (i, i+R/2) by default, or interleaved pairs (2i, 2i+1)); channels
 * R..D−1 pass through (partial rotary, e.g. Qwen3-Next's 0.25). The backward is the transposed
 * rotation (kernel `inverse` flag); the tables get no gradient.
 */
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type DType } from "../tensor/dtype.js";
import { freeArray } from "../tensor/pool.js";
import { shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, empty, K } from "./util.js";

/** Context-extension scaling (same shape as the config's `RopeScaling`, plus optional YaRN knobs). */
export type RopeScaling =
  | { kind: "linear"; factor: number }
  | {
      kind: "yarn"; factor: number; originalContext: number; betaFast: number; betaSlow: number;
      /** Floor/ceil the correction range (HF default true; gpt-oss uses false). */
      truncate?: boolean;
      /** Overrides the attention factor 0.1·ln(factor) + 1 that multiplies cos and sin. */
      attentionFactor?: number;
    }
  | { kind: "llama3"; factor: number; originalContext: number; lowFreqFactor: number; highFreqFactor: number };

export interface RopeTables {
  /** cos(p·inv_i)·attentionFactor, [P, R/2]. */
  cos: Tensor;
  /** sin(p·inv_i)·attentionFactor, [P, R/2]. */
  sin: Tensor;
  /** R: the number of rotated channels per head. */
  rotaryDim: number;
  /** P: positions 0..P−1 are covered. */
  maxPositions: number;
  /** The inverse frequencies inv_i (after scaling), length R/2. */
  invFreq: Float64Array;
  /** Multiplier baked into cos/sin (1 unless YaRN). */
  attentionFactor: number;
}

export interface RopeTableOptions {
  scaling?: RopeScaling | null;
  /** Table dtype; must match the tensors rope() is applied to (default float32). */
  dtype?: DType;
}

/** YaRN attention temperature: 0.1·ln(s) + 1 for s > 1, else 1 (components.md §4.2). */
export function yarnMscale(s: number): number {
  return s <= 1 ? 1 : 0.1 * Math.log(s) + 1;
}

/** Inverse frequencies (after scaling) and the attention factor for a rotary dim and base. */
export function ropeFrequencies(rotaryDim: number, theta: number, scaling: RopeScaling | null = null): { invFreq: Float64Array; attentionFactor: number } {
  const op = "ropeTables";
  if (!Number.isInteger(rotaryDim) || rotaryDim < 2 || rotaryDim % 2 !== 0) throw new OpError(op, `rotaryDim must be a positive even integer, got ${rotaryDim}`);
  if (!(theta > 1)) throw new OpError(op, `theta must be > 1, got ${theta}`);
  const half = rotaryDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(theta, (-2 * i) / rotaryDim);
  let attentionFactor = 1;
  if (!scaling) return { invFreq: inv, attentionFactor };
  const s = scaling.factor;
  if (!(s >= 1)) throw new OpError(op, `${scaling.kind} scaling factor must be ≥ 1, got ${s}`);
  switch (scaling.kind) {
    case "linear":
      for (let i = 0; i < half; i++) inv[i] = inv[i]! / s;
      break;
    case "yarn": {
      const { originalContext: L0, betaFast, betaSlow } = scaling;
      // dimension index whose wavelength makes n full turns within L0
      const corr = (n: number): number => (rotaryDim * Math.log(L0 / (n * 2 * Math.PI))) / (2 * Math.log(theta));
      let lo = corr(betaFast);
      let hi = corr(betaSlow);
      if (scaling.truncate ?? true) {
        lo = Math.floor(lo);
        hi = Math.ceil(hi);
      }
      lo = Math.max(lo, 0);
      hi = Math.min(hi, rotaryDim - 1);
      if (lo === hi) hi += 0.001;
      for (let i = 0; i < half; i++) {
        const ramp = Math.min(1, Math.max(0, (i - lo) / (hi - lo)));
        const extrap = 1 - ramp; // 1: keep the original frequency (high-frequency dims)
        inv[i] = (inv[i]! / s) * (1 - extrap) + inv[i]! * extrap;
      }
      attentionFactor = scaling.attentionFactor ?? yarnMscale(s);
      break;
    }
    case "llama3": {
      const { originalContext: L0, lowFreqFactor: lf, highFreqFactor: hf } = scaling;
      const lowWave = L0 / lf;
      const highWave = L0 / hf;
      for (let i = 0; i < half; i++) {
        const wave = (2 * Math.PI) / inv[i]!;
        if (wave < highWave) continue; // high frequency: unchanged
        if (wave > lowWave) inv[i] = inv[i]! / s; // low frequency: interpolated
        else {
          const smooth = (L0 / wave - lf) / (hf - lf);
          inv[i] = (1 - smooth) * (inv[i]! / s) + smooth * inv[i]!;
        }
      }
      break;
    }
    default:
      throw new OpError(op, `unknown scaling kind '${(scaling as { kind: string }).kind}' (linear | yarn | llama3)`);
  }
  return { invFreq: inv, attentionFactor };
}

/** cos/sin tables [P, R/2] for positions 0..P−1 (angles computed in float64). */
export function ropeTables(maxPositions: number, rotaryDim: number, theta: number, opts: RopeTableOptions = {}): RopeTables {
  if (!Number.isInteger(maxPositions) || maxPositions < 1) throw new OpError("ropeTables", `maxPositions must be a positive integer, got ${maxPositions}`);
  const { invFreq, attentionFactor } = ropeFrequencies(rotaryDim, theta, opts.scaling ?? null);
  const half = rotaryDim / 2;
  const dtype = opts.dtype ?? "float32";
  const cos = allocArray(dtype, maxPositions * half);
  const sin = allocArray(dtype, maxPositions * half);
  for (let p = 0; p < maxPositions; p++)
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i]!;
      cos[p * half + i] = Math.cos(a) * attentionFactor;
      sin[p * half + i] = Math.sin(a) * attentionFactor;
    }
  return {
    cos: new Tensor(cos, [maxPositions, half]),
    sin: new Tensor(sin, [maxPositions, half]),
    rotaryDim,
    maxPositions,
    invFreq,
    attentionFactor,
  };
}

export interface RopeOptions {
  /** Pair (2i, 2i+1) instead of rotate-half (i, i+R/2). Default false. */
  interleaved?: boolean;
  /** Must equal tables.rotaryDim when given (a consistency check). */
  rotaryDim?: number;
}

/**
 * Rotates x [B, T, H, D] or [N, H, D] by `positions` (Int32; length B·T or T for rank 4 — T
 * broadcasts over the batch — and N for rank 3), rotating the first tables.rotaryDim channels.
 */
export function rope(x: Tensor, positions: Int32Array | readonly number[], tables: RopeTables, opts: RopeOptions = {}): Tensor {
  const op = "rope";
  checkInputs(op, x, tables.cos, tables.sin);
  if (x.rank !== 3 && x.rank !== 4) throw new OpError(op, `x must be [B, T, H, D] or [N, H, D], got ${shapeStr(x.shape)}`);
  const D = x.shape[x.rank - 1]!;
  const H = x.shape[x.rank - 2]!;
  const N = x.size / Math.max(1, H * D);
  const R = tables.rotaryDim;
  const P = tables.maxPositions;
  if (opts.rotaryDim !== undefined && opts.rotaryDim !== R)
    throw new OpError(op, `rotaryDim ${opts.rotaryDim} does not match the tables (built for ${R}, cos ${shapeStr(tables.cos.shape)})`);
  if (tables.cos.shape[1] !== R / 2 || tables.sin.shape[1] !== R / 2 || tables.cos.shape[0] !== P)
    throw new OpError(op, `tables cos ${shapeStr(tables.cos.shape)} / sin ${shapeStr(tables.sin.shape)} do not match rotaryDim ${R} and ${P} positions`);
  if (R > D) throw new OpError(op, `rotaryDim ${R} exceeds the head dim of x ${shapeStr(x.shape)}`);
  // expand positions to one per token
  let pos: Int32Array;
  const T = x.rank === 4 ? x.shape[1]! : N;
  if (positions.length === N) pos = positions instanceof Int32Array ? positions : Int32Array.from(positions);
  else if (x.rank === 4 && positions.length === T) {
    pos = new Int32Array(N);
    for (let n = 0; n < N; n++) pos[n] = positions[n % T]!;
  } else
    throw new OpError(op, `${positions.length} positions for x ${shapeStr(x.shape)} (need ${N}${x.rank === 4 ? ` or ${T}` : ""})`);
  for (let n = 0; n < pos.length; n++) {
    const p = pos[n]!;
    if (!(p >= 0 && p < P) || p !== positions[n % positions.length])
      throw new OpError(op, `position ${positions[n % positions.length]} at index ${n % positions.length} is outside the tables [0, ${P}) (x ${shapeStr(x.shape)})`);
  }
  const interleaved = opts.interleaved ?? false;
  const kern = K(x);
  const cos = tables.cos.dense();
  const sin = tables.sin.dense();
  const out = empty(x.shape, x.dtype);
  const xd = x.dense();
  kern.rope(xd, out.data, pos, cos, sin, N, H, D, R, interleaved, false);
  freeArray(xd); // a dense() copy (x's own storage is left alone)
  record(op, [x], [out], ([g]) => {
    const gx = empty(x.shape, x.dtype);
    kern.rope(g!.dense(), gx.data, pos, cos, sin, N, H, D, R, interleaved, true);
    return [gx];
  });
  return out;
}
