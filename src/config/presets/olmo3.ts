/**
 * Olmo 3 (architectures.json "Olmo-3 7B" / "Olmo-3 32B" from rasbt/LLMs-from-scratch
 * standalone-olmo3 OLMO3_CONFIG_7B / _32B, cross-checked with HF configuration_olmo3.py): OLMo 2's
 * block — reordered post-norm x + RMSNorm(F(x)) (eps 1e-6), QK RMSNorm over the full q / k
 * projection width, SwiGLU, untied, vocab 100,278 — plus sliding-window attention in a
 * 3 sliding : 1 full pattern (window 4096) and YaRN context extension (×8 from 8192, β 32 / 1, to
 * 65,536) on the full-attention layers only; sliding layers use plain RoPE θ 5e5.
 *   7B:  32 × 4096, MHA 32 × 128, SwiGLU 11,008.
 *   32B: 64 × 5120, GQA 40/8 × 128, SwiGLU 27,648.
 * Published: "7B" and "32B" (nominal names; no exact count in the reference). The exact totals
 * follow from the config (test/config/cost.test.ts recomputes them by hand).
 *
 * olmo3-tiny keeps the structure (post-norm, full-width QK-norm, 3 sliding : 1 full) at d 128;
 * without YaRN (trained from scratch at 256 tokens).
 */
import { model, post, transformerBlock } from "../build.js";
import { gqa } from "../components/gqa.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope, type RopeScaling } from "../components/rope.js";
import { swiglu } from "../components/swiglu.js";
import { pattern } from "../pattern.js";
import type { BlockSpec, ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface Olmo3Dims {
  vocabSize: number;
  dModel: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  window: number;
  context: number;
  theta: number;
  /** Context extension of the full-attention layers. */
  scaling: RopeScaling | null;
}

function olmo3(name: string, description: string, source: string, x: Olmo3Dims): ModelConfig {
  const norm = rmsnorm(1e-6);
  const block = (sliding: boolean): BlockSpec =>
    transformerBlock(
      gqa({
        numHeads: x.heads,
        numKvHeads: x.kvHeads,
        headDim: x.headDim,
        qkNorm: { scope: "full", ...norm },
        ...(sliding ? { slidingWindow: x.window, rope: { theta: x.theta, fraction: 1, scaling: null } } : {}),
      }),
      swiglu(x.ffn),
      post(norm),
    );
  return model({
    name,
    description,
    source,
    vocabSize: x.vocabSize,
    dModel: x.dModel,
    contextLength: x.context,
    positional: rope(x.theta, 1, x.scaling),
    layers: pattern([block(true), block(true), block(true), block(false)], x.layers / 4),
    finalNorm: norm,
    head: { tied: false, bias: false },
  });
}

const SRC = "rasbt/LLMs-from-scratch ch05/13_olmo3 standalone-olmo3 + HF configuration_olmo3.py (architectures.json)";
const YARN: RopeScaling = { kind: "yarn", factor: 8, originalContext: 8_192, betaFast: 32, betaSlow: 1 };

export const OLMO3_PRESETS: PresetDef[] = [
  {
    name: "olmo3-7b",
    family: "olmo3",
    description: "Olmo 3 7B: 32 × 4096, sliding window 4096 (3:1), YaRN on full layers, post-norm, full-width QK-norm, MHA",
    build: () =>
      olmo3("olmo3-7b", "Olmo 3 7B", `${SRC} OLMO3_CONFIG_7B`, {
        vocabSize: 100_278,
        dModel: 4_096,
        layers: 32,
        heads: 32,
        kvHeads: 32,
        headDim: 128,
        ffn: 11_008,
        window: 4_096,
        context: 65_536,
        theta: 500_000,
        scaling: YARN,
      }),
  },
  {
    name: "olmo3-32b",
    family: "olmo3",
    description: "Olmo 3 32B: 64 × 5120, GQA 40/8, sliding window 4096 (3:1), YaRN on full layers, post-norm",
    build: () =>
      olmo3("olmo3-32b", "Olmo 3 32B", `${SRC} OLMO3_CONFIG_32B`, {
        vocabSize: 100_278,
        dModel: 5_120,
        layers: 64,
        heads: 40,
        kvHeads: 8,
        headDim: 128,
        ffn: 27_648,
        window: 4_096,
        context: 65_536,
        theta: 500_000,
        scaling: YARN,
      }),
  },
  {
    name: "olmo3-tiny",
    family: "olmo3",
    description: "trainable Olmo-3-style model: 4 × 128 (3 sliding-window 64 + 1 full), post-norm, full-width QK-norm",
    build: () =>
      olmo3("olmo3-tiny", "Olmo 3 structure at tiny size for CPU training and tests", "olmo3-7b structure, reduced dims", {
        vocabSize: 4_096,
        dModel: 128,
        layers: 4, // 7B: 32
        heads: 4, // 7B: 32 × 128 (MHA)
        kvHeads: 4,
        headDim: 32,
        ffn: 384, // 7B: 11,008
        window: 64, // 7B: 4096
        context: 256,
        theta: 10_000,
        scaling: null,
      }),
  },
];
