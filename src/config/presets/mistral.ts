/**
 * Mistral Small 3.1 24B text backbone (architectures.json, from the Devstral-Small-2507 params.json:
 * same text architecture): 40 × 5120, GQA 32/8 × 128, SwiGLU 32,768, RMSNorm eps 1e-5, RoPE θ 1e9,
 * untied, vocab 131,072. Text parameters: 23,572,403,200 (the vision encoder is not modelled).
 * mistral-tiny keeps the structure at d 128 with the published 4:1 query-to-KV head ratio (4 query
 * heads over 1 KV head), so its KV cache is as small relative to d as the full model's.
 */
import { dense } from "./dense.js";
import type { PresetDef } from "./types.js";

export const MISTRAL_PRESETS: PresetDef[] = [
  {
    name: "mistral-small-3.1-24b",
    family: "mistral",
    description: "Mistral Small 3.1 text backbone: 40 × 5120, GQA 32/8, SwiGLU 32768, small KV cache",
    build: () =>
      dense("mistral-small-3.1-24b", "Mistral Small 3.1 24B (text backbone)", "Devstral-Small-2507 params.json (architectures.json)", {
        vocabSize: 131_072,
        dModel: 5_120,
        layers: 40,
        heads: 32,
        kvHeads: 8,
        headDim: 128,
        ffn: 32_768,
        context: 131_072,
        theta: 1_000_000_000,
        eps: 1e-5,
        tied: false,
      }),
  },
  {
    name: "mistral-tiny",
    family: "mistral",
    description: "trainable Mistral-Small-style model: 4 × 128, GQA 4/1 × 32 (small KV cache), SwiGLU 512, vocab 4096",
    build: () =>
      dense("mistral-tiny", "Mistral Small 3.1 structure at tiny size for CPU training and tests", "mistral-small-3.1-24b structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4,
        heads: 4,
        kvHeads: 1,
        headDim: 32,
        ffn: 512,
        context: 256,
        theta: 1_000_000_000,
        eps: 1e-5,
        tied: false,
      }),
  },
];
