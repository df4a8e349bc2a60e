/**
 * Qwen3-Next 80B-A3B (components.md §8, §11, §15.1; architectures.json from HF
 * configuration_qwen3_next.py defaults): 12 × (3 Gated DeltaNet + 1 gated attention) layers, MoE
 * on every layer (512 experts × 512, top-10, one sigmoid-gated shared expert × 512), zero-centred
 * RMSNorm eps 1e-6, gated attention 16 heads / 2 KV × 256 with per-head QK-norm and partial RoPE
 * (25%, θ 1e7), DeltaNet 16 key / 32 value heads × 128, untied, vocab 151,936.
 * Third-party exact count (architectures.json, unofficial): 79,674,391,296 total,
 * 3,874,929,408 active. The shipped MTP module is not part of that count and not modelled here.
 * qwen3-next-tiny keeps the structure (3:1 DeltaNet : gated attention, MoE + gated shared expert,
 * zero-centred RMSNorm, partial RoPE) at d 128.
 */
import { ffnSub, attnSub, model, pre } from "../build.js";
import { gatedDeltaNet } from "../components/gated_deltanet.js";
import { gqa } from "../components/gqa.js";
import { moe } from "../components/moe.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope } from "../components/rope.js";
import { pattern } from "../pattern.js";
import type { BlockSpec } from "../types.js";
import type { PresetDef } from "./types.js";

interface Qwen3NextDims {
  name: string;
  description: string;
  source: string;
  vocabSize: number;
  dModel: number;
  context: number;
  /** Superblocks of (3 Gated DeltaNet + 1 gated attention). */
  superblocks: number;
  experts: number;
  topK: number;
  expertHidden: number;
  deltaNet: { numKeyHeads: number; numValueHeads: number; keyHeadDim: number; valueHeadDim: number };
  attn: { numHeads: number; numKvHeads: number; headDim: number };
}

function qwen3Next(x: Qwen3NextDims) {
  const norm = rmsnorm(1e-6, true);
  const ffn = moe({ numExperts: x.experts, topK: x.topK, expertHidden: x.expertHidden, shared: { count: 1, hidden: x.expertHidden, gated: true } });
  const linear: BlockSpec = {
    sublayers: [attnSub(gatedDeltaNet(x.deltaNet), pre(norm), "linear_attn"), ffnSub(ffn, pre(norm))],
  };
  const full: BlockSpec = {
    sublayers: [attnSub(gqa({ ...x.attn, qkNorm: { scope: "head", ...norm }, outputGate: "elementwise" }), pre(norm)), ffnSub(ffn, pre(norm))],
  };
  return model({
    name: x.name,
    description: x.description,
    source: x.source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: rope(10_000_000, 0.25),
    layers: pattern([linear, linear, linear, full], x.superblocks),
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

export const QWEN3_NEXT_PRESETS: PresetDef[] = [
  {
    name: "qwen3-next-80b-a3b",
    family: "qwen3-next",
    description: "Qwen3-Next: Gated DeltaNet + gated attention 3:1, 512 experts top-10 + shared expert",
    build: () =>
      qwen3Next({
        name: "qwen3-next-80b-a3b",
        description: "Qwen3-Next 80B-A3B",
        source: "huggingface/transformers configuration_qwen3_next.py defaults (architectures.json)",
        vocabSize: 151_936,
        dModel: 2_048,
        context: 262_144,
        superblocks: 12,
        experts: 512,
        topK: 10,
        expertHidden: 512,
        deltaNet: { numKeyHeads: 16, numValueHeads: 32, keyHeadDim: 128, valueHeadDim: 128 },
        attn: { numHeads: 16, numKvHeads: 2, headDim: 256 },
      }),
  },
  {
    name: "qwen3-next-tiny",
    family: "qwen3-next",
    description: "trainable Qwen3-Next-style model: 1 × (3 Gated DeltaNet + 1 gated attention) at d 128, 8 experts top-2 + shared, vocab 4096",
    build: () =>
      qwen3Next({
        name: "qwen3-next-tiny",
        description: "Qwen3-Next structure at tiny size for CPU training and tests",
        source: "qwen3-next-80b-a3b structure, reduced dims",
        vocabSize: 4_096,
        dModel: 128,
        context: 256,
        superblocks: 1,
        experts: 8,
        topK: 2,
        expertHidden: 128,
        deltaNet: { numKeyHeads: 2, numValueHeads: 4, keyHeadDim: 32, valueHeadDim: 32 },
        attn: { numHeads: 4, numKvHeads: 2, headDim: 32 },
      }),
  },
];
