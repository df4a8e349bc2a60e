/**
 * Grok 2.5 (xai-org/grok-2; architectures.json "Grok-2.5", whose config is partial: d 8192, GQA
 * 64/8 × 128, 8 experts top-2, `residual_moe`, vocab 131,072, RoPE θ 208,533,496 with YaRN-style
 * ×16 from 8192 (β_fast 8, β_slow 1), RMSNorm eps 1e-5). The sizes it lacks come from public
 * copies of the HF config.json: expert width (`moe_intermediate_size`) 16,384 (a FLOP-counter
 * table citing huggingface.co/xai-org/grok-2/blob/main/config.json) and the dense residual MLP
 * 32,768 × 64 layers (a parameter breakdown of the released tensors on the model's HF discussion
 * #6, giving 269,515,497,472 total / 115,019,056,768 active). Ours: 269,515,497,472 (exact) and
 * 114,896,674,816 active (−0.1%). xAI publishes no official count (~270B is the usual figure).
 *
 * Structure: few large experts plus an always-on dense MLP — `residual_moe` adds a dense GeGLU
 * MLP of 32,768 beside the 8 routed GeGLU experts × 16,384 (top-2 of a softmax router); here that
 * MLP is the MoE's shared expert (same tensors). Sandwich norms: pre and post RMSNorm around
 * attention and around the MoE (Grok-1 layout, 4 norms per layer). Untied head.
 *
 * Not modelled (no parameters): the 1/√2 averaging of the routed and residual outputs, the
 * soft-capping of attention logits (30), router logits (30) and final logits (50), the embedding
 * (×90.5) and output (×0.5) multipliers, attention temperature; the top-2 weights are
 * renormalised here (not pinned by the reference).
 *
 * grok-tiny keeps the structure (sandwich norms, 8 GeGLU experts top-2 + wide dense residual
 * MLP, GQA, untied head) at d 128.
 */
import { model, sandwich, transformerBlock } from "../build.js";
import { gqa } from "../components/gqa.js";
import { moe } from "../components/moe.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope, type RopeSpec } from "../components/rope.js";
import { pattern } from "../pattern.js";
import type { ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface GrokDims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  expertHidden: number;
  residualHidden: number;
  context: number;
  positional: RopeSpec;
}

function grok(name: string, description: string, source: string, x: GrokDims): ModelConfig {
  const norm = rmsnorm(1e-5);
  const ffn = moe({
    numExperts: 8,
    topK: 2,
    expertHidden: x.expertHidden,
    activation: "gelu_tanh",
    shared: { count: 1, hidden: x.residualHidden, gated: false },
  });
  const attention = gqa({ numHeads: x.heads, numKvHeads: x.kvHeads, headDim: x.headDim });
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: x.positional,
    layers: pattern(transformerBlock(attention, ffn, sandwich(norm)), x.layers),
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

export const GROK_PRESETS: PresetDef[] = [
  {
    name: "grok-2.5",
    family: "grok",
    description: "Grok 2.5: 64 × 8192, 8 experts × 16384 top-2 + dense residual MLP 32768, sandwich norms, GQA 64/8",
    build: () =>
      grok(
        "grok-2.5",
        "Grok 2.5 (xai-org/grok-2)",
        "grok-2 config.json via architectures.json + public copies (expert width 16,384; residual MLP 32,768; 64 layers)",
        {
          vocabSize: 131_072,
          dModel: 8_192,
          layers: 64,
          heads: 64,
          kvHeads: 8,
          headDim: 128,
          expertHidden: 16_384,
          residualHidden: 32_768,
          context: 131_072,
          positional: rope(208_533_496, 1, { kind: "yarn", factor: 16, originalContext: 8_192, betaFast: 8, betaSlow: 1 }),
        },
      ),
  },
  {
    name: "grok-tiny",
    family: "grok",
    description: "trainable Grok-2.5-style model: 4 × 128, sandwich norms, 8 GeGLU experts top-2 + dense residual MLP",
    build: () =>
      grok("grok-tiny", "Grok 2.5 structure at tiny size for CPU training and tests", "grok-2.5 structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4, // Grok 2.5: 64
        heads: 4, // Grok 2.5: 64 / 8 × 128
        kvHeads: 2,
        headDim: 32,
        expertHidden: 128, // Grok 2.5: 16,384
        residualHidden: 256, // Grok 2.5: 32,768 (twice the expert width)
        context: 256,
        positional: rope(10_000),
      }),
  },
];
