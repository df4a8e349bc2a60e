/**
 * Positional encodings (components.md §4):
 *   - RoPE tables, cached per (rotary dim, theta, scaling) and grown on demand (`RopeCache`); the
 *     rotation itself is applied inside attention (src/ops/rope.ts);
 *   - sinusoidal absolute (Vaswani et al. 2017): PE[m, 2i] = sin(m/base^{2i/d}),
 *     PE[m, 2i+1] = cos(m/base^{2i/d}), added to the token embedding (no parameters);
 *   - learned absolute (GPT-2 `wpe`): weight [P, d] added to the token embedding; positions ≥ P
 *     are an error (hard context limit);
 *   - none (NoPE).
 */
import { Module } from "../nn/module.js";
import { embedding } from "../ops/nn.js";
import { ropeTables, type RopeTables } from "../ops/rope.js";
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type DType } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import type { RopeParams } from "../config/components/rope.js";
import { normalInit, type Init } from "./init.js";

/**
 * RoPE cos/sin tables for one (theta, rotary dims, scaling), rebuilt (doubling) when positions
 * outgrow them. `RopeCache.shared` returns one instance per configuration, so the attention layers
 * of a model share their tables.
 *
 * `attentionFactor` overrides the YaRN multiplier baked into cos/sin (default 0.1·ln(s) + 1, HF
 * style, which scales q·k by its square when every dim is rotated). MLA passes 1 and scales its
 * whole softmax instead (DeepSeek reference, src/layers/mla.ts), since only part of its q·k is
 * rotated.
 */
export class RopeCache {
  private static readonly instances = new Map<string, RopeCache>();

  static shared(params: RopeParams, headDim: number, initialPositions: number, attentionFactor?: number): RopeCache {
    const key = JSON.stringify([params.theta, params.fraction, params.scaling, headDim, attentionFactor ?? null]);
    let c = RopeCache.instances.get(key);
    if (!c) {
      c = new RopeCache(params, headDim, initialPositions, attentionFactor);
      RopeCache.instances.set(key, c);
    }
    return c;
  }

  private tables: RopeTables | null = null;
  readonly rotaryDim: number;

  constructor(
    readonly params: RopeParams,
    headDim: number,
    private readonly initialPositions: number,
    private readonly attentionFactor?: number,
  ) {
    this.rotaryDim = Math.round(params.fraction * headDim);
    if (this.rotaryDim % 2 !== 0 || this.rotaryDim < 2 || this.rotaryDim > headDim)
      throw new ChimeraError(`rope: rotary dims ${params.fraction} × ${headDim} = ${this.rotaryDim} must be an even number in [2, ${headDim}]`);
  }

  /** Tables covering positions 0 … maxPos−1 in `dtype`. */
  get(maxPos: number, dtype: DType): RopeTables {
    const t = this.tables;
    if (t && t.maxPositions >= maxPos && t.cos.dtype === dtype) return t;
    let P = Math.max(this.initialPositions, 16);
    while (P < maxPos) P *= 2;
    const sc = this.params.scaling;
    const scaling = sc?.kind === "yarn" && this.attentionFactor !== undefined ? { ...sc, attentionFactor: this.attentionFactor } : sc;
    this.tables = ropeTables(P, this.rotaryDim, this.params.theta, { scaling, dtype });
    return this.tables;
  }
}

/** Sinusoidal table rows for positions start … start+T−1: [T, d] (constant, no grad). */
export function sinusoidalTable(start: number, T: number, d: number, base: number, dtype: DType): Tensor {
  const out = allocArray(dtype, T * d);
  for (let t = 0; t < T; t++) {
    const m = start + t;
    for (let i = 0; 2 * i < d; i++) {
      const a = m / Math.pow(base, (2 * i) / d);
      out[t * d + 2 * i] = Math.sin(a);
      if (2 * i + 1 < d) out[t * d + 2 * i + 1] = Math.cos(a);
    }
  }
  return new Tensor(out, [T, d]);
}

/** Learned absolute positions: `pos_embed.weight [P, d]`. */
export class LearnedPositions extends Module {
  readonly weight: Tensor;

  constructor(
    readonly maxPositions: number,
    d: number,
    init: Init,
  ) {
    super();
    this.weight = this.param("weight", normalInit([maxPositions, d], init));
  }

  /** Rows for `positions` (length T) → [T, d]. */
  forward(positions: Int32Array): Tensor {
    const last = positions[positions.length - 1] ?? 0;
    if (last >= this.maxPositions)
      throw new ChimeraError(`learned positions: position ${last} is beyond the table of ${this.maxPositions} positions (the model's hard context limit)`);
    return embedding(this.weight, positions);
  }
}
