/**
 * OLMo 2 (arXiv 2501.00656; architectures.json "OLMo-2 7B", litgpt 'OLMo-2-1124-7B' citing
 * huggingface.co/allenai/OLMo-2-1124-7B config.json): "reordered" post-norm — x + RMSNorm(F(x)),
 * no input norms — with QK RMSNorm over the full q / k projection width, MHA 32 × 128, SwiGLU
 * 11,008, RoPE θ 5e5, untied, vocab 100,352 (padded). Published size: 7.3B.
 * OLMo 2 13B (architectures.json "OLMo-2 13B", litgpt 'OLMo-2-1124-13B'): 40 × 5120, MHA 40 × 128,
 * SwiGLU 13,824, the same norms, RoPE and vocabulary. Published as "13B" (a nominal name; the
 * config gives 13.72B, which test/config/cost.test.ts recomputes by hand).
 * olmo2-tiny keeps the structure (post-norm inside the residual, full-width QK-norm, MHA) at d 128.
 */
import { dense } from "./dense.js";
import type { PresetDef } from "./types.js";

export const OLMO2_PRESETS: PresetDef[] = [
  {
    name: "olmo2-7b",
    family: "olmo2",
    description: "OLMo 2 7B: post-norm RMSNorm inside the residual, full-width QK-norm, MHA 32 × 128",
    build: () =>
      dense("olmo2-7b", "OLMo 2 7B (1124)", "Lightning-AI/litgpt config.py 'OLMo-2-1124-7B' (architectures.json)", {
        vocabSize: 100_352,
        dModel: 4_096,
        layers: 32,
        heads: 32,
        kvHeads: 32,
        headDim: 128,
        ffn: 11_008,
        context: 4_096,
        theta: 500_000,
        eps: 1e-6,
        tied: false,
        placement: "post",
        qkNorm: "full",
      }),
  },
  {
    name: "olmo2-13b",
    family: "olmo2",
    description: "OLMo 2 13B: 40 × 5120, post-norm RMSNorm inside the residual, full-width QK-norm, MHA 40 × 128",
    build: () =>
      dense("olmo2-13b", "OLMo 2 13B (1124)", "Lightning-AI/litgpt config.py 'OLMo-2-1124-13B' (architectures.json)", {
        vocabSize: 100_352,
        dModel: 5_120,
        layers: 40,
        heads: 40,
        kvHeads: 40,
        headDim: 128,
        ffn: 13_824,
        context: 4_096,
        theta: 500_000,
        eps: 1e-6,
        tied: false,
        placement: "post",
        qkNorm: "full",
      }),
  },
  {
    name: "olmo2-tiny",
    family: "olmo2",
    description: "trainable OLMo-2-style model: 4 × 128, reordered post-norm, full-width QK-norm, MHA 4 × 32, vocab 4096",
    build: () =>
      dense("olmo2-tiny", "OLMo 2 structure at tiny size for CPU training and tests", "olmo2-7b structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4,
        heads: 4,
        kvHeads: 4,
        headDim: 32,
        ffn: 384,
        context: 256,
        theta: 500_000,
        eps: 1e-6,
        tied: false,
        placement: "post",
        qkNorm: "full",
      }),
  },
];
