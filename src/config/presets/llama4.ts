/**
 * Llama 4 Scout and Maverick, text backbone (architectures.json "Llama-4 Scout (17B-16E)" from HF
 * transformers configuration_llama4.py Llama4TextConfig defaults, and "Llama-4 Maverick (17B-128E)"
 * from the HF Maverick config copied in TensorRT-LLM's tests): 48 layers of d 5120, GQA 40/8 × 128,
 * pre-RMSNorm eps 1e-5, RoPE θ 5e5, untied, vocab 202,048. iRoPE: every 4th layer (0-based 3, 7, …)
 * has no rotation (`no_rope_layer_interval` 4, the SmolLM3 rule). MoE: 1 routed expert of 8,192
 * chosen by a sigmoid of its logit (top-1, no renormalisation) plus one shared expert of 8,192.
 * Scout: 16 experts in all 48 layers. Maverick: 128 experts in odd layers (1, 3, …, 47), dense
 * SwiGLU 16,384 in even ones (`interleave_moe_layer_step` 2).
 *
 * Published: Scout 109B total / 17B active, Maverick 400B / 17B (Meta's totals for the multimodal
 * checkpoints). Ours (text only): Scout 107.77B (−1.1%: the ≈0.8B vision encoder, 34 layers × 1408
 * wide, is not modelled) / 17.17B active, Maverick 400.71B (+0.2%) / 17.18B active.
 *
 * Not expressible, so not modelled (none changes the parameter count):
 * - chunked local attention on the RoPE layers (`attention_chunk_size` 8192: a query sees only keys
 *   of its own 8,192-token chunk): modelled as full causal attention, so FLOPs and the KV cache of
 *   those layers are over-counted beyond 8,192 tokens;
 * - attention temperature tuning on the NoPE layers (logits scaled with log position);
 * - Scout's weightless L2 QK-norm on the RoPE layers (`use_qk_norm`);
 * - the router score multiplies the expert *input* in Llama 4, the expert output here;
 * - Llama-3-style RoPE frequency scaling (not in architectures.json).
 *
 * llama4-tiny keeps the structure (dense/MoE alternation, top-1 sigmoid routing + shared expert,
 * NoPE every 4th layer, GQA, untied head) at d 128.
 */
import { model, pre, transformerBlock } from "../build.js";
import { gqa } from "../components/gqa.js";
import { moe } from "../components/moe.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope } from "../components/rope.js";
import { swiglu } from "../components/swiglu.js";
import type { BlockSpec, FfnSpec, ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface Llama4Dims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  experts: number;
  expertHidden: number;
  /** Dense SwiGLU width of the non-MoE layers. */
  denseHidden: number;
  /** 1: every layer MoE (Scout); 2: odd layers MoE, even layers dense (Maverick). */
  moeStep: number;
  context: number;
  theta: number;
}

function llama4(name: string, description: string, source: string, x: Llama4Dims): ModelConfig {
  const norm = rmsnorm(1e-5);
  const routed = moe({
    numExperts: x.experts,
    topK: 1,
    expertHidden: x.expertHidden,
    shared: { count: 1, hidden: x.expertHidden, gated: false },
    router: { scoring: "sigmoid", normalizeTopK: false },
  });
  const layers: BlockSpec[] = [];
  for (let i = 0; i < x.layers; i++) {
    const nope = (i + 1) % 4 === 0;
    const ffn: FfnSpec = (i + 1) % x.moeStep === 0 ? routed : swiglu(x.denseHidden);
    const attention = gqa({ numHeads: x.heads, numKvHeads: x.kvHeads, headDim: x.headDim, ...(nope ? { rope: null } : {}) });
    layers.push(transformerBlock(attention, structuredClone(ffn), pre(norm)));
  }
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: rope(x.theta),
    layers,
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

const FULL = { vocabSize: 202_048, dModel: 5_120, layers: 48, heads: 40, kvHeads: 8, headDim: 128, expertHidden: 8_192, denseHidden: 16_384, theta: 500_000 };

export const LLAMA4_PRESETS: PresetDef[] = [
  {
    name: "llama4-scout",
    family: "llama4",
    description: "Llama 4 Scout 17B-16E text backbone: 48 × 5120, MoE every layer (16 experts top-1 + shared), NoPE every 4th layer",
    build: () =>
      llama4("llama4-scout", "Llama 4 Scout 17B-16E (text backbone)", "HF transformers configuration_llama4.py Llama4TextConfig defaults (architectures.json)", {
        ...FULL,
        experts: 16,
        moeStep: 1,
        context: 131_072, // transformers default; Scout advertises 10M
      }),
  },
  {
    name: "llama4-maverick",
    family: "llama4",
    description: "Llama 4 Maverick 17B-128E text backbone: dense / MoE alternating (128 experts top-1 + shared), NoPE every 4th layer",
    build: () =>
      llama4("llama4-maverick", "Llama 4 Maverick 17B-128E (text backbone)", "HF Maverick config.json via TensorRT-LLM LLAMA_4_MAVERICK config (architectures.json)", {
        ...FULL,
        experts: 128,
        moeStep: 2,
        context: 1_048_576,
      }),
  },
  {
    name: "llama4-tiny",
    family: "llama4",
    description: "trainable Llama-4-style model: 4 × 128, dense/MoE alternating (8 experts top-1 + shared), NoPE on layer 3",
    build: () =>
      llama4("llama4-tiny", "Llama 4 structure at tiny size for CPU training and tests", "llama4-maverick structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4, // Maverick: 48
        heads: 4, // Maverick: 40 / 8 × 128
        kvHeads: 2,
        headDim: 32,
        experts: 8, // Maverick: 128 × 8192
        expertHidden: 128,
        denseHidden: 384, // Maverick: 16,384
        moeStep: 2,
        context: 256,
        theta: 10_000,
      }),
  },
];
