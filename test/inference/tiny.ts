/**
 * Tiny model configs for inference tests: the hybrid superblock (DeltaNet, MoE, GQA, MoE, MTP
 * head) at d = 32 and variants (sliding window, learned positions, no DeltaNet), built with the
 * config builders so they are complete, valid configs.
 */
import { attnSub, ffnSub, model, mtpSub, pre } from "../../src/config/build.js";
import { gatedDeltaNet } from "../../src/config/components/gated_deltanet.js";
import { gqa } from "../../src/config/components/gqa.js";
import { moe } from "../../src/config/components/moe.js";
import { swiglu } from "../../src/config/components/swiglu.js";
import { parallelMtpHead } from "../../src/config/components/mtp_head.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { rope } from "../../src/config/components/rope.js";
import { pattern } from "../../src/config/pattern.js";
import type { BlockSpec, ModelConfig, PositionalSpec } from "../../src/config/types.js";
import type { Tokenizer } from "../../src/tokenizer/types.js";

export interface TinyOptions {
  d?: number;
  vocab?: number;
  superblocks?: number;
  mtpDepth?: number;
  window?: number | null;
  deltanet?: boolean;
  moe?: boolean;
  positional?: PositionalSpec;
  contextLength?: number;
  std?: number;
  /** Sequential (DeepSeek-style) MTP modules after the stack, each an FFN-only block (0 = none). */
  seqMtp?: number;
  /** Give those modules' blocks an attention sublayer too (they then draft through module caches). */
  seqMtpAttention?: boolean;
}

export function tinyHybrid(o: TinyOptions = {}): ModelConfig {
  const d = o.d ?? 32;
  const norm = rmsnorm(1e-6);
  const ffn = () => (o.moe ?? true ? moe({ numExperts: 4, topK: 2, expertHidden: d, aux: { loadBalance: 0.01, zLoss: 0.001 } }) : swiglu(2 * d));
  const attention = gqa({ numHeads: 4, numKvHeads: 2, headDim: d / 4, qkNorm: { scope: "head", ...norm }, slidingWindow: o.window ?? null });
  const sublayers: BlockSpec["sublayers"] = [];
  if (o.deltanet ?? true)
    sublayers.push(attnSub(gatedDeltaNet({ numKeyHeads: 2, numValueHeads: 4, keyHeadDim: d / 4, valueHeadDim: d / 4 }), pre(norm), "linear_attn"));
  sublayers.push(ffnSub(ffn(), pre(norm), "ffn1"), attnSub(attention, pre(norm), "attn"), ffnSub(ffn(), pre(norm), "ffn2"));
  if ((o.mtpDepth ?? 2) > 0) sublayers.push(mtpSub(parallelMtpHead(o.mtpDepth ?? 2, 0.3), pre(norm), "mtp"));
  return model({
    name: "test-inference-hybrid",
    description: "tiny hybrid for inference tests",
    source: "test",
    vocabSize: o.vocab ?? 64,
    dModel: d,
    contextLength: o.contextLength ?? 128,
    positional: o.positional ?? rope(10_000, 0.5),
    layers: pattern({ sublayers }, o.superblocks ?? 1),
    finalNorm: norm,
    head: { tied: false, bias: false },
    init: { std: o.std ?? 0.02 },
    mtp: o.seqMtp
      ? {
          kind: "sequential",
          depth: o.seqMtp,
          lossWeight: 0.3,
          norm,
          block: { sublayers: [...(o.seqMtpAttention ? [attnSub(attention, pre(norm), "attn")] : []), ffnSub(swiglu(2 * d), pre(norm), "ffn")] },
        }
      : null,
  });
}

/** Deterministic token ids in [0, V). */
export function tokens(n: number, V: number, seed = 1): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % V);
  }
  return out;
}

/** A toy tokenizer for small vocabularies: id i < V−1 is the letter 'a' + i, id V−1 is <|endoftext|>. */
export function letterTokenizer(V: number): Tokenizer {
  const enc = new TextEncoder();
  const sym = (i: number) => (i === V - 1 ? "<|endoftext|>" : String.fromCharCode(97 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : ""));
  const table = Array.from({ length: V }, (_, i) => sym(i));
  return {
    name: `letters-${V}`,
    vocabSize: V,
    eotId: V - 1,
    encode: (text: string) => {
      const out: number[] = [];
      for (const ch of text) {
        const i = table.indexOf(ch);
        if (i >= 0) out.push(i);
      }
      return out;
    },
    decode: (ids) => Array.from(ids as ArrayLike<number>, (i) => table[i] ?? "?").join(""),
    decodeBytes: (ids) => enc.encode(Array.from(ids as ArrayLike<number>, (i) => table[i] ?? "?").join("")),
    idToToken: (id: number) => table[id],
    isSpecial: (id: number) => id === V - 1,
  };
}
