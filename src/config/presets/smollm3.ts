/**
 * SmolLM3 3B (architectures.json, HF config.json mirror): Llama-like with NoPE on every 4th layer
 * (0-based layers 3, 7, …, 35; HF `no_rope_layers`), GQA 16/4 × 128, SwiGLU 11,008, RMSNorm 1e-6,
 * RoPE θ 5e6, tied embeddings (transformers default), vocab 128,256.
 * smollm3-tiny keeps the structure (NoPE on every 4th layer, GQA 4:1, tied) at d 128.
 */
import { dense } from "./dense.js";
import type { PresetDef } from "./types.js";

export const SMOLLM3_PRESETS: PresetDef[] = [
  {
    name: "smollm3-3b",
    family: "smollm3",
    description: "SmolLM3 3B: NoPE on every 4th layer, GQA 16/4, tied",
    build: () =>
      dense("smollm3-3b", "SmolLM3 3B", "HuggingFaceTB/SmolLM3-3B config.json mirror (architectures.json)", {
        vocabSize: 128_256,
        dModel: 2_048,
        layers: 36,
        heads: 16,
        kvHeads: 4,
        headDim: 128,
        ffn: 11_008,
        context: 65_536,
        theta: 5_000_000,
        eps: 1e-6,
        tied: true,
        nopeEvery: 4,
      }),
  },
  {
    name: "smollm3-tiny",
    family: "smollm3",
    description: "trainable SmolLM3-style model: 4 × 128 with NoPE on the 4th layer, GQA 4/1 × 32, tied, vocab 4096",
    build: () =>
      dense("smollm3-tiny", "SmolLM3 structure at tiny size for CPU training and tests", "smollm3-3b structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4,
        heads: 4,
        kvHeads: 1,
        headDim: 32,
        ffn: 384,
        context: 256,
        theta: 5_000_000,
        eps: 1e-6,
        tied: true,
        nopeEvery: 4,
      }),
  },
];
