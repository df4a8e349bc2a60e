/**
 * Gemma 3 (arXiv 2503.19786; architectures.json "Gemma-3 270M" from rasbt standalone-gemma3 and
 * "Gemma-3 1B" from litgpt citing huggingface.co/google/gemma-3-1b-it config.json): sliding-window
 * attention 5 local : 1 global (layer i global iff (i+1) % 6 == 0), window 512 with RoPE θ 1e4 on
 * local layers and θ 1e6 on global ones, sandwich norms (pre and post around attention and MLP,
 * zero-centred "(1+w)" RMSNorm eps 1e-6), per-head QK-norm, GeGLU, MQA (1 KV head × 256),
 * embeddings × sqrt(d), tied head, vocab 262,144. Published sizes: ~270M and ~1B.
 */
import { ffnSub, attnSub, model, sandwich } from "../build.js";
import { geglu } from "../components/geglu.js";
import { gqa } from "../components/gqa.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope } from "../components/rope.js";
import { pattern } from "../pattern.js";
import type { BlockSpec, ModelConfig } from "../types.js";
import type { PresetDef } from "./types.js";

interface GemmaDims {
  dModel: number;
  layers: number;
  heads: number;
  ffn: number;
  window: number;
  context: number;
}

function gemma3(name: string, description: string, source: string, x: GemmaDims): ModelConfig {
  const norm = rmsnorm(1e-6, true);
  const block = (local: boolean): BlockSpec => ({
    sublayers: [
      attnSub(
        gqa({
          numHeads: x.heads,
          numKvHeads: 1,
          headDim: 256,
          qkNorm: { scope: "head", ...norm },
          ...(local ? { slidingWindow: x.window, rope: { theta: 10_000, fraction: 1, scaling: null } } : {}),
        }),
        sandwich(norm),
      ),
      ffnSub(geglu(x.ffn), sandwich(norm)),
    ],
  });
  const period = [...Array.from({ length: 5 }, () => block(true)), block(false)];
  const full = Math.floor(x.layers / 6);
  return model({
    name,
    description,
    source,
    vocabSize: 262_144,
    dModel: x.dModel,
    contextLength: x.context,
    embedding: { dropout: 0, scaleBySqrtD: true },
    positional: rope(1_000_000),
    layers: [...pattern(period, full), ...pattern(block(true), x.layers - 6 * full)],
    finalNorm: norm,
    head: { tied: true, bias: false },
  });
}

export const GEMMA3_PRESETS: PresetDef[] = [
  {
    name: "gemma3-270m",
    family: "gemma3",
    description: "Gemma 3 270M: 18 × 640, sliding window 512 in a 5:1 local:global pattern, sandwich norms, MQA",
    build: () =>
      gemma3("gemma3-270m", "Gemma 3 270M", "rasbt/LLMs-from-scratch standalone-gemma3 GEMMA3_CONFIG_270M (architectures.json)", {
        dModel: 640,
        layers: 18,
        heads: 4,
        ffn: 2_048,
        window: 512,
        context: 32_768,
      }),
  },
  {
    name: "gemma3-1b",
    family: "gemma3",
    description: "Gemma 3 1B: 26 × 1152, sliding window 512 (5:1), sandwich norms, MQA, tied",
    build: () =>
      gemma3("gemma3-1b", "Gemma 3 1B", "Lightning-AI/litgpt config.py 'Gemma-3-1b-it' (architectures.json)", {
        dModel: 1_152,
        layers: 26,
        heads: 4,
        ffn: 6_912,
        window: 512,
        context: 32_768,
      }),
  },
];
