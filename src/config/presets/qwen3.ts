/**
 * Qwen3 dense and MoE (architectures.json "Qwen3-*", litgpt config.py / rasbt qwen3.py citing
 * huggingface.co/Qwen/<model> config.json): pre-RMSNorm eps 1e-6, per-head QK RMSNorm, RoPE θ 1e6,
 * GQA with head_dim 128 (independent of d), SwiGLU; MoE variants: softmax top-8 of 128 experts,
 * renormalised, no shared expert, every layer MoE. Tied embeddings for 0.6B and 4B.
 * Published sizes: 0.6B (0.44B non-embedding), 4.0B (3.6B non-embedding), 8.2B, 32.8B (31.2B
 * non-embedding), 30.5B-A3.3B, 235B-A22B.
 * qwen3-tiny keeps the dense structure (per-head QK-norm, GQA, tied embeddings) at d 128.
 */
import { moe } from "../components/moe.js";
import { dense } from "./dense.js";
import type { PresetDef } from "./types.js";

const SRC = "Lightning-AI/litgpt config.py + rasbt/LLMs-from-scratch qwen3.py (cite huggingface.co/Qwen/<model> config.json)";
const base = { vocabSize: 151_936, headDim: 128, context: 40_960, theta: 1_000_000, eps: 1e-6, qkNorm: "head" as const };

export const QWEN3_PRESETS: PresetDef[] = [
  {
    name: "qwen3-0.6b",
    family: "qwen3",
    description: "Qwen3 0.6B dense: 28 × 1024, GQA 16/8 × 128, QK-norm, tied",
    build: () => dense("qwen3-0.6b", "Qwen3 0.6B", SRC, { ...base, dModel: 1_024, layers: 28, heads: 16, kvHeads: 8, ffn: 3_072, tied: true }),
  },
  {
    name: "qwen3-4b",
    family: "qwen3",
    description: "Qwen3 4B dense: 36 × 2560, GQA 32/8 × 128 (q width 4096 > d), QK-norm, tied",
    build: () => dense("qwen3-4b", "Qwen3 4B", SRC, { ...base, dModel: 2_560, layers: 36, heads: 32, kvHeads: 8, ffn: 9_728, tied: true }),
  },
  {
    name: "qwen3-8b",
    family: "qwen3",
    description: "Qwen3 8B dense: 36 × 4096, GQA 32/8 × 128, QK-norm, untied",
    build: () => dense("qwen3-8b", "Qwen3 8B", SRC, { ...base, dModel: 4_096, layers: 36, heads: 32, kvHeads: 8, ffn: 12_288, tied: false }),
  },
  {
    name: "qwen3-32b",
    family: "qwen3",
    description: "Qwen3 32B dense: 64 × 5120, GQA 64/8 × 128, QK-norm, untied",
    build: () => dense("qwen3-32b", "Qwen3 32B", SRC, { ...base, dModel: 5_120, layers: 64, heads: 64, kvHeads: 8, ffn: 25_600, tied: false }),
  },
  {
    name: "qwen3-30b-a3b",
    family: "qwen3",
    description: "Qwen3 30B-A3B MoE: 48 × 2048, 128 experts × 768 top-8, GQA 32/4",
    build: () =>
      dense("qwen3-30b-a3b", "Qwen3 30B-A3B (MoE)", SRC, {
        ...base,
        dModel: 2_048,
        layers: 48,
        heads: 32,
        kvHeads: 4,
        ffn: 6_144,
        tied: false,
        ffnSpec: moe({ numExperts: 128, topK: 8, expertHidden: 768 }),
      }),
  },
  {
    name: "qwen3-235b-a22b",
    family: "qwen3",
    description: "Qwen3 235B-A22B MoE: 94 × 4096, 128 experts × 1536 top-8, GQA 64/4",
    build: () =>
      dense("qwen3-235b-a22b", "Qwen3 235B-A22B (MoE)", SRC, {
        ...base,
        dModel: 4_096,
        layers: 94,
        heads: 64,
        kvHeads: 4,
        ffn: 12_288,
        tied: false,
        ffnSpec: moe({ numExperts: 128, topK: 8, expertHidden: 1_536 }),
      }),
  },
  {
    name: "qwen3-tiny",
    family: "qwen3",
    description: "trainable Qwen3-style model: 4 × 128, GQA 4/2 × 32, per-head QK-norm, SwiGLU 384, tied, vocab 4096",
    build: () =>
      dense("qwen3-tiny", "Qwen3 structure at tiny size for CPU training and tests", "qwen3-0.6b structure, reduced dims", {
        ...base,
        vocabSize: 4_096,
        headDim: 32,
        context: 256,
        dModel: 128,
        layers: 4,
        heads: 4,
        kvHeads: 2,
        ffn: 384,
        tied: true,
      }),
  },
];
