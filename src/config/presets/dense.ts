/**
 * Shared builder for dense decoder-only transformers (Llama, Qwen3, Mistral, OLMo 2, SmolLM3):
 * blocks of [attention, gated MLP] with one norm kind and placement, RoPE, GQA, optional
 * per-head or full-width QK-norm. Family files pass the published dimensions.
 */
import { model, transformerBlock } from "../build.js";
import { gqa } from "../components/gqa.js";
import type { NormPlacement } from "../components/norms.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope, type RopeScaling } from "../components/rope.js";
import { swiglu } from "../components/swiglu.js";
import { pattern } from "../pattern.js";
import type { BlockSpec, FfnSpec, ModelConfig } from "../types.js";

export interface DenseDims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  context: number;
  theta: number;
  eps: number;
  tied: boolean;
  placement?: "pre" | "post";
  qkNorm?: "head" | "full";
  scaling?: RopeScaling;
  /** Replaces the SwiGLU FFN (e.g. a MoE). */
  ffnSpec?: FfnSpec;
  /** Every `nopeEvery`-th layer (1-based) has no RoPE (SmolLM3). */
  nopeEvery?: number;
}

export function dense(name: string, description: string, source: string, x: DenseDims): ModelConfig {
  const norm = rmsnorm(x.eps);
  const placement: NormPlacement = { placement: x.placement ?? "pre", ...norm };
  const block = (nope: boolean): BlockSpec =>
    transformerBlock(
      gqa({
        numHeads: x.heads,
        numKvHeads: x.kvHeads,
        headDim: x.headDim,
        qkNorm: x.qkNorm ? { scope: x.qkNorm, ...norm } : null,
        ...(nope ? { rope: null } : {}),
      }),
      x.ffnSpec ?? swiglu(x.ffn),
      placement,
    );
  const layers = x.nopeEvery
    ? pattern([...Array.from({ length: x.nopeEvery - 1 }, () => block(false)), block(true)], x.layers / x.nopeEvery)
    : pattern(block(false), x.layers);
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: rope(x.theta, 1, x.scaling ?? null),
    layers,
    finalNorm: norm,
    head: { tied: x.tied, bias: false },
  });
}
