/**
 * Mistral Small 3.1 24B text backbone (architectures.json, from the Devstral-Small-2507 params.json:
 * same text architecture): 40 × 5120, GQA 32/8 × 128, SwiGLU 32,768, RMSNorm eps 1e-5, RoPE θ 1e9,
 * untied, vocab 131,072. Text parameters: 23,572,403,200 (the vision encoder is not modelled).
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
];
