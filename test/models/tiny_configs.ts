/**
 * Very small configs for model tests (reference backend friendly): the hybrid superblock
 * (DeltaNet, MoE, GQA, MoE, MTP head) at d = 32, and variants. Built with the config builders,
 * so they are complete, valid configs.
 */
import { attnSub, ffnSub, model, mtpSub, pre } from "../../src/config/build.js";
import { gatedDeltaNet } from "../../src/config/components/gated_deltanet.js";
import { gqa, type GqaSpec } from "../../src/config/components/gqa.js";
import { moe, type MoeSpec } from "../../src/config/components/moe.js";
import { parallelMtpHead } from "../../src/config/components/mtp_head.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { rope } from "../../src/config/components/rope.js";
import { pattern } from "../../src/config/pattern.js";
import type { BlockSpec, ModelConfig } from "../../src/config/types.js";

export interface TinyOptions {
  d?: number;
  vocab?: number;
  superblocks?: number;
  dropout?: number;
  moe?: Partial<MoeSpec>;
  gqa?: Partial<GqaSpec>;
  mtpDepth?: number;
  mtpWeight?: number;
  tied?: boolean;
  sequentialMtp?: boolean;
}

export function tinyHybrid(o: TinyOptions = {}): ModelConfig {
  const d = o.d ?? 32;
  const norm = rmsnorm(1e-6);
  const ffn = () => moe({ numExperts: 4, topK: 2, expertHidden: d, aux: { loadBalance: 0.01, zLoss: 0.001 }, ...o.moe });
  const attention = gqa({ numHeads: 4, numKvHeads: 2, headDim: d / 4, qkNorm: { scope: "head", ...norm }, ...o.gqa });
  const sb: BlockSpec = {
    sublayers: [
      attnSub(gatedDeltaNet({ numKeyHeads: 2, numValueHeads: 4, keyHeadDim: d / 4, valueHeadDim: d / 4 }), pre(norm), "linear_attn"),
      ffnSub(ffn(), pre(norm), "ffn1"),
      attnSub(attention, pre(norm), "attn"),
      ffnSub(ffn(), pre(norm), "ffn2"),
    ],
  };
  if (!o.sequentialMtp) sb.sublayers.push(mtpSub(parallelMtpHead(o.mtpDepth ?? 2, o.mtpWeight ?? 0.3), pre(norm), "mtp"));
  return model({
    name: "test-hybrid",
    description: "tiny hybrid for tests",
    source: "test",
    vocabSize: o.vocab ?? 64,
    dModel: d,
    contextLength: 64,
    embedding: { dropout: o.dropout ?? 0, scaleBySqrtD: false },
    positional: rope(10_000, 0.5),
    layers: pattern(sb, o.superblocks ?? 1),
    finalNorm: norm,
    head: { tied: o.tied ?? false, bias: false },
    mtp: o.sequentialMtp
      ? { kind: "sequential", depth: 2, lossWeight: o.mtpWeight ?? 0.3, norm, block: { sublayers: [attnSub(attention, pre(norm)), ffnSub(ffn(), pre(norm), "ffn")] } }
      : null,
    init: { std: 0.02 },
  });
}

/** Deterministic token ids in [0, V). */
export function tokens(n: number, V: number, seed = 1): Int32Array {
  const out = new Int32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % V;
  }
  return out;
}

/** Next-token targets for ids laid out [B, T]: targets[b, t] = ids[b, t+1], last = ignore. */
export function nextTokenTargets(ids: Int32Array, B: number, T: number, ignore = -100): Int32Array {
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = t + 1 < T ? ids[b * T + t + 1]! : ignore;
  return out;
}
