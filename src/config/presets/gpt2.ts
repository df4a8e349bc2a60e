/**
 * GPT-2 family (components.md §4.4; architectures.json "GPT-2 (124M)", source nanoGPT
 * `GPT.from_pretrained` config_args): learned absolute positions, pre-LayerNorm (eps 1e-5) with a
 * final ln_f, MHA with biases, tanh-GELU MLP 4×d with biases, head tied to the token embedding.
 * gpt2-124m: 124,439,808 parameters (wpe included).
 *
 * gpt-bench mirrors /work/shared/bench/torch_gpt_train.py exactly: vocab 4096, d 256, 4 heads,
 * 4 layers, sequence 256, pre-LN eps 1e-5, fused-qkv MHA with biases (counted here as separate
 * q/k/v projections: same parameters), exact-erf GELU MLP 4× with biases, untied head without
 * bias, learned positions, no dropout. Count: 4096·256 + 256·256 + 4·789,760 + 512 + 4096·256 =
 * 5,322,240.
 */
import { model, pre, transformerBlock } from "../build.js";
import { geluMlp } from "../components/gelu_mlp.js";
import { gqa } from "../components/gqa.js";
import { layernorm } from "../components/layernorm.js";
import { pattern } from "../pattern.js";
import type { ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface GptDims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  context: number;
  tied: boolean;
  gelu: "tanh" | "erf";
  dropout: number;
}

function gpt(name: string, description: string, source: string, x: GptDims): ModelConfig {
  const ln = layernorm(1e-5);
  const block = transformerBlock(
    gqa({ numHeads: x.heads, numKvHeads: x.heads, headDim: x.dModel / x.heads, qkvBias: true, outBias: true }),
    geluMlp(4 * x.dModel, true, x.gelu),
    pre(ln),
  );
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    embedding: { dropout: x.dropout, scaleBySqrtD: false },
    positional: { kind: "learned", maxPositions: x.context },
    layers: pattern(block, x.layers),
    residualDropout: x.dropout,
    finalNorm: ln,
    head: { tied: x.tied, bias: false },
  });
}

const NANOGPT = "karpathy/nanoGPT model.py GPT.from_pretrained config_args (architectures.json)";

export const GPT2_PRESETS: PresetDef[] = [
  {
    name: "gpt2-124m",
    family: "gpt2",
    description: "GPT-2 small: 12 × 768, MHA, learned positions, LayerNorm, GELU, tied head",
    build: () =>
      gpt("gpt2-124m", "GPT-2 small (OpenAI 'gpt2')", NANOGPT, {
        vocabSize: 50_257,
        dModel: 768,
        layers: 12,
        heads: 12,
        context: 1_024,
        tied: true,
        gelu: "tanh",
        dropout: 0.1,
      }),
  },
  {
    name: "gpt2-xl",
    family: "gpt2",
    description: "GPT-2 XL: 48 × 1600, 25 heads, tied head",
    build: () =>
      gpt("gpt2-xl", "GPT-2 XL (OpenAI 'gpt2-xl')", NANOGPT, {
        vocabSize: 50_257,
        dModel: 1_600,
        layers: 48,
        heads: 25,
        context: 1_024,
        tied: true,
        gelu: "tanh",
        dropout: 0.1,
      }),
  },
  {
    name: "gpt-bench",
    family: "gpt2",
    description: "the torch_gpt_train.py benchmark model: vocab 4096, d 256, 4 heads, 4 layers, seq 256, untied head without bias",
    build: () =>
      gpt("gpt-bench", "GPT-2-style benchmark model matching bench/torch_gpt_train.py", "/work/shared/bench/torch_gpt_train.py", {
        vocabSize: 4_096,
        dModel: 256,
        layers: 4,
        heads: 4,
        context: 256,
        tied: false,
        gelu: "erf",
        dropout: 0,
      }),
  },
];
