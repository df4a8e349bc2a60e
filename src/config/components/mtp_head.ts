/**
 * Per-superblock multi-token-prediction head (Chimera's default MTP wiring, MISSION §1 step 8):
 * after the sublayer's norm, for each offset k = 1…D a projection `proj.{k−1}` (d → d) feeds the
 * model's shared unembedding to predict token t+k. The residual stream passes through unchanged;
 * the heads' cross-entropy losses are averaged and weighted by `lossWeight` (λ).
 * Parameters: proj.{i}.weight [d, d] (+ bias [d]) for i < D. The unembedding is shared (no
 * parameters here) but its use costs 2·d·V FLOPs per offset per token.
 */
import type { Obj } from "../reader.js";
import { linear, linearParams, NO_CACHE, whole, type ComponentKind, type ParamShape } from "./kind.js";

export interface ParallelMtpHeadSpec {
  kind: "parallel_head";
  /** Number of future offsets predicted (t+1 … t+depth). */
  depth: number;
  lossWeight: number;
  bias: boolean;
}

export function parallelMtpHead(depth: number, lossWeight = 0.3, bias = false): ParallelMtpHeadSpec {
  return { kind: "parallel_head", depth, lossWeight, bias };
}

export const parallelMtpHeadKind: ComponentKind<ParallelMtpHeadSpec> = {
  kind: "parallel_head",
  about: "per-offset d→d projections into the shared unembedding, predicting t+1…t+D; residual unchanged",
  parse: (o: Obj) => ({
    kind: "parallel_head",
    depth: o.int("depth"),
    lossWeight: o.num("lossWeight", { min: 0 }, 0.3),
    bias: o.bool("bias", false),
  }),
  describe: (s) => `mtp parallel_head, offsets t+1…t+${s.depth}, λ ${s.lossWeight}`,
  shapes(s, env) {
    const out: ParamShape[] = [];
    for (let i = 0; i < s.depth; i++) out.push(...linear(`proj.${i}`, env.dModel, env.dModel, s.bias));
    return out;
  },
  params: (s, env) => whole(s.depth * linearParams(env.dModel, env.dModel, s.bias)),
  extraFlops: (s, env) => s.depth * 2 * env.dModel * env.vocabSize,
  cache: () => NO_CACHE,
};
