/**
 * Gemma 3 (arXiv 2503.19786; architectures.json "Gemma-3 270M" from rasbt standalone-gemma3,
 * "Gemma-3 1B" / "4B" / "27B" from litgpt citing huggingface.co/google/gemma-3-*-it config.json):
 * sliding-window attention 5 local : 1 global (layer i global iff (i+1) % 6 == 0) with RoPE θ 1e4
 * on local layers and θ 1e6 on global ones, sandwich norms (pre and post around attention and MLP,
 * zero-centred "(1+w)" RMSNorm eps 1e-6), per-head QK-norm, GeGLU, embeddings × sqrt(d), tied head.
 *   270M, 1B: window 512, MQA (1 KV head × 256), vocab 262,144. Published sizes: ~270M and ~1B.
 *   4B, 27B (text backbone of the multimodal checkpoints): window 1024, linear RoPE scaling ×8 on
 *   global layers (131,072 context), vocab 262,208; 4B GQA 8/4 × 256, 27B GQA 32/16 × 128 (q width
 *   4096 < d 5376). Published split (Gemma 3 report, recalled in architectures.json): 4B = 417M
 *   vision + 675M embedding + 3,209M non-embedding; 27B = 417M + 1,416M + 25,600M. The SigLIP
 *   vision tower is not modelled. Not modelled either: the 27B's attention scale
 *   query_pre_attn_scalar^-1/2 = 168^-1/2 (ours: head_dim^-1/2; no parameters).
 *
 * gemma3-tiny keeps the structure (5 local : 1 global, sandwich (1+w) norms, QK-norm, GeGLU, MQA,
 * √d embeddings, tied head) at d 128.
 */
import { ffnSub, attnSub, model, sandwich } from "../build.js";
import { geglu } from "../components/geglu.js";
import { gqa } from "../components/gqa.js";
import { rmsnorm } from "../components/rmsnorm.js";
import { rope, type RopeScaling } from "../components/rope.js";
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
  /** Defaults: vocab 262,144, 1 KV head, head dim 256, no scaling on global layers. */
  vocabSize?: number;
  kvHeads?: number;
  headDim?: number;
  globalScaling?: RopeScaling;
}

function gemma3(name: string, description: string, source: string, x: GemmaDims): ModelConfig {
  const norm = rmsnorm(1e-6, true);
  const block = (local: boolean): BlockSpec => ({
    sublayers: [
      attnSub(
        gqa({
          numHeads: x.heads,
          numKvHeads: x.kvHeads ?? 1,
          headDim: x.headDim ?? 256,
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
    vocabSize: x.vocabSize ?? 262_144,
    dModel: x.dModel,
    contextLength: x.context,
    embedding: { dropout: 0, scaleBySqrtD: true },
    positional: rope(1_000_000, 1, x.globalScaling ?? null),
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
  {
    name: "gemma3-4b",
    family: "gemma3",
    description: "Gemma 3 4B text backbone: 34 × 2560, GQA 8/4 × 256, window 1024 (5:1), RoPE ×8 on global layers, tied",
    build: () =>
      gemma3("gemma3-4b", "Gemma 3 4B (text backbone)", "Lightning-AI/litgpt config.py 'Gemma-3-4b-it' + HF text_config (architectures.json)", {
        dModel: 2_560,
        layers: 34,
        heads: 8,
        kvHeads: 4,
        ffn: 10_240,
        window: 1_024,
        context: 131_072,
        vocabSize: 262_208,
        globalScaling: { kind: "linear", factor: 8 },
      }),
  },
  {
    name: "gemma3-27b",
    family: "gemma3",
    description: "Gemma 3 27B text backbone: 62 × 5376, GQA 32/16 × 128, window 1024 (5:1), RoPE ×8 on global layers, tied",
    build: () =>
      gemma3("gemma3-27b", "Gemma 3 27B (text backbone)", "Lightning-AI/litgpt config.py 'Gemma-3-27b-it' (architectures.json)", {
        dModel: 5_376,
        layers: 62,
        heads: 32,
        kvHeads: 16,
        headDim: 128,
        ffn: 21_504,
        window: 1_024,
        context: 131_072,
        vocabSize: 262_208,
        globalScaling: { kind: "linear", factor: 8 },
      }),
  },
  {
    name: "gemma3-tiny",
    family: "gemma3",
    description: "trainable Gemma-3-style model: 6 × 128 (5 local window 32 + 1 global), sandwich (1+w) norms, MQA, tied",
    build: () =>
      gemma3("gemma3-tiny", "Gemma 3 structure at tiny size for CPU training and tests", "gemma3-1b structure, reduced dims", {
        dModel: 128,
        layers: 6, // 1B: 26
        heads: 4, // 1B: 4 × 256, 1 KV head
        headDim: 32,
        ffn: 384, // 1B: 6,912
        window: 32, // 1B: 512
        context: 256,
        vocabSize: 4_096,
      }),
  },
];
