/**
 * Qwen3-Next 80B-A3B (components.md §8, §11, §15.1; architectures.json from HF
 * configuration_qwen3_next.py defaults): 12 × (3 Gated DeltaNet + 1 gated attention) layers, MoE
 * on every layer (512 experts × 512, top-10, one sigmoid-gated shared expert × 512), zero-centred
 * RMSNorm eps 1e-6, gated attention 16 heads / 2 KV × 256 with per-head QK-norm and partial RoPE
 * (25%, θ 1e7), DeltaNet 16 key / 32 value heads × 128, untied, vocab 151,936.
 * Third-party exact count (architectures.json, unofficial): 79,674,391,296 total,
 * 3,874,929,408 active. The shipped MTP module is not part of that count and not modelled here.
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

function qwen3Next() {
  const norm = rmsnorm(1e-6, true);
  const ffn = moe({ numExperts: 512, topK: 10, expertHidden: 512, shared: { count: 1, hidden: 512, gated: true } });
  const linear: BlockSpec = {
    sublayers: [
      attnSub(gatedDeltaNet({ numKeyHeads: 16, numValueHeads: 32, keyHeadDim: 128, valueHeadDim: 128 }), pre(norm), "linear_attn"),
      ffnSub(ffn, pre(norm)),
    ],
  };
  const full: BlockSpec = {
    sublayers: [
      attnSub(gqa({ numHeads: 16, numKvHeads: 2, headDim: 256, qkNorm: { scope: "head", ...norm }, outputGate: "elementwise" }), pre(norm)),
      ffnSub(ffn, pre(norm)),
    ],
  };
  return model({
    name: "qwen3-next-80b-a3b",
    description: "Qwen3-Next 80B-A3B",
    source: "huggingface/transformers configuration_qwen3_next.py defaults (architectures.json)",
    vocabSize: 151_936,
    dModel: 2_048,
    contextLength: 262_144,
    positional: rope(10_000_000, 0.25),
    layers: pattern([linear, linear, linear, full], 12),
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

export const QWEN3_NEXT_PRESETS: PresetDef[] = [
  {
    name: "qwen3-next-80b-a3b",
    family: "qwen3-next",
    description: "Qwen3-Next: Gated DeltaNet + gated attention 3:1, 512 experts top-10 + shared expert",
    build: qwen3Next,
  },
];
