/**
 * gpt-oss (arXiv 2508.10925; components.md §6, §7, §14, §15.1; architectures.json "gpt-oss-120b"
 * from openai/gpt-oss gpt_oss/torch/model.py ModelConfig defaults + HF configuration_gpt_oss.py, and
 * "gpt-oss-20b" from the model card): width over depth — d 2880, 36 layers (20b: 24); attention
 * alternates sliding window 128 (even layers, from layer 0) and full causal; GQA 64/8 × 64 with
 * biases on q, k, v and o and a learned sink logit per head on every layer; pre-RMSNorm eps 1e-5;
 * RoPE θ 1.5e5 with YaRN ×32 from 4096 (131,072 context); every layer MoE: 128 experts (20b: 32)
 * × 2880 with biases, top-4, softmax over the 4 selected logits (= softmax then renormalise) of a
 * router with a bias, no shared expert; untied, vocab 201,088.
 * Published (model card): 120b 116.83B total / 5.13B active, 20b 20.91B / 3.61B; the card's active
 * count includes the unembedding but not the embedding table (a lookup). Ours: 116,829,156,672 /
 * 5.133B and 20,914,757,184 / 3.608B on that convention (all within 0.1%).
 *
 * Approximated: the experts' clamped SwiGLU (gate ≤ 7, up ∈ [−7, 7], gate·σ(1.702·gate)·(up + 1))
 * is a plain SwiGLU here (same parameters); gpt-oss's YaRN does not truncate the ramp bounds.
 *
 * gpt-oss-tiny keeps the structure (sliding/full alternation, sinks, attention and expert biases,
 * biased softmax router, wide-head GQA) at d 128.
 */
import { model, pre, transformerBlock } from "../build.js";
import { gqa } from "../components/gqa.js";
import { moe } from "../components/moe.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope, type RopeSpec } from "../components/rope.js";
import { pattern } from "../pattern.js";
import type { BlockSpec, ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface GptOssDims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  window: number;
  experts: number;
  topK: number;
  expertHidden: number;
  context: number;
  positional: RopeSpec;
}

function gptOss(name: string, description: string, source: string, x: GptOssDims): ModelConfig {
  const norm = rmsnorm(1e-5);
  const ffn = moe({ numExperts: x.experts, topK: x.topK, expertHidden: x.expertHidden, expertBias: true, router: { bias: true } });
  const block = (sliding: boolean): BlockSpec =>
    transformerBlock(
      gqa({
        numHeads: x.heads,
        numKvHeads: x.kvHeads,
        headDim: x.headDim,
        qkvBias: true,
        outBias: true,
        sink: true,
        slidingWindow: sliding ? x.window : null,
      }),
      ffn,
      pre(norm),
    );
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: x.positional,
    layers: pattern([block(true), block(false)], x.layers / 2),
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

const FULL = {
  vocabSize: 201_088,
  dModel: 2_880,
  heads: 64,
  kvHeads: 8,
  headDim: 64,
  window: 128,
  topK: 4,
  expertHidden: 2_880,
  context: 131_072,
  positional: rope(150_000, 1, { kind: "yarn", factor: 32, originalContext: 4_096, betaFast: 32, betaSlow: 1 }),
};

export const GPT_OSS_PRESETS: PresetDef[] = [
  {
    name: "gpt-oss-120b",
    family: "gpt-oss",
    description: "gpt-oss-120b: 36 × 2880, sliding 128 / full alternating, attention sinks, 128 experts top-4, YaRN",
    build: () =>
      gptOss("gpt-oss-120b", "gpt-oss-120b", "openai/gpt-oss gpt_oss/torch/model.py ModelConfig @7b58334 (architectures.json)", {
        ...FULL,
        layers: 36,
        experts: 128,
      }),
  },
  {
    name: "gpt-oss-20b",
    family: "gpt-oss",
    description: "gpt-oss-20b: 24 × 2880, sliding 128 / full alternating, attention sinks, 32 experts top-4, YaRN",
    build: () =>
      gptOss("gpt-oss-20b", "gpt-oss-20b", "gpt-oss model card (24 layers, 32 experts; other dims as 120b) (architectures.json)", {
        ...FULL,
        layers: 24,
        experts: 32,
      }),
  },
  {
    name: "gpt-oss-tiny",
    family: "gpt-oss",
    description: "trainable gpt-oss-style model: 4 × 128, sliding 32 / full alternating, sinks, biases, 8 experts top-2",
    build: () =>
      gptOss("gpt-oss-tiny", "gpt-oss structure at tiny size for CPU training and tests", "gpt-oss-120b structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4, // 120b: 36
        heads: 8, // 120b: 64 / 8 × 64 (q width 4096 > d 2880)
        kvHeads: 2,
        headDim: 32,
        window: 32, // 120b: 128
        experts: 8, // 120b: 128 × 2880 top-4
        topK: 2,
        expertHidden: 128,
        context: 256,
        positional: rope(150_000), // no YaRN: trained from scratch at 256 tokens
      }),
  },
];
