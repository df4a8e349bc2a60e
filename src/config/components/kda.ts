/**
 * Kimi Delta Attention (KDA; Kimi Linear, arXiv 2510.26692; components.md §12): the delta rule
 * with a per-key-channel (diagonal) decay in place of Gated DeltaNet's scalar one. Per token:
 * q, k, v = SiLU(ShortConv(W x)), each with its own depthwise causal conv (kernel K, no bias);
 * log-decay g = −exp(A_log[h]) · softplus(f_b(f_a(x)) + dt_bias) per key channel, from a low-rank
 * projection d → r → H·d_k; β = σ(b_proj x) per head; L2-normalised q, k;
 * S ← Diag(e^g) S + k ⊗ β(v − Sᵀk), o = Sᵀq; output RMSNorm(o) ⊙ σ(g_b(g_a(x))) per head over
 * d_v (norm first, sigmoid gate); o_proj. Parameter names are those of the released Kimi Linear
 * checkpoint (`KimiDeltaAttention` of its modeling code; fla names the low-rank pairs f_proj.0/1,
 * g_proj.0/1).
 *
 * Parameters (d width, H heads, d_k / d_v head dims, r gate rank, K conv kernel):
 *   q_proj [H·d_k, d]   k_proj [H·d_k, d]   v_proj [H·d_v, d]
 *   q_conv1d.weight [H·d_k, 1, K]   k_conv1d.weight [H·d_k, 1, K]   v_conv1d.weight [H·d_v, 1, K]
 *   A_log [H]            (the checkpoint stores the same H numbers viewed as [1, 1, H, 1])
 *   f_a_proj [r, d]   f_b_proj [H·d_k, r]   dt_bias [H·d_k]   b_proj [H, d]
 *   g_a_proj [r, d]   g_b_proj [H·d_v, r] (+ bias [H·d_v] when outputGateBias: fla's layer has
 *   one, Kimi Linear's checkpoint does not)   o_norm.weight [d_v]   o_proj [d, H·d_v]
 * State per sequence: H·d_k·d_v fp32 (S, the same size as Gated DeltaNet's) + (K−1)·(2·H·d_k +
 * H·d_v) conv inputs at activation dtype.
 */
import type { Obj } from "../reader.js";
import { linear, linearParams, whole, type ComponentKind } from "./kind.js";

export interface KdaSpec {
  kind: "kda";
  numHeads: number;
  /** d_k: key (and query) head dim; the decay has one channel per key dim. */
  headDim: number;
  /** d_v (Kimi Linear: = headDim). */
  valueHeadDim: number;
  /** r: inner width of the low-rank decay (f_a → f_b) and output-gate (g_a → g_b) projections. */
  gateRank: number;
  convKernel: number;
  /** eps of the gated output RMSNorm (Kimi Linear rms_norm_eps 1e-5). */
  normEps: number;
  /** Bias on g_b_proj (fla's KimiDeltaAttention: true; the released Kimi Linear: false). */
  outputGateBias: boolean;
}

type KdaInput = Pick<KdaSpec, "numHeads" | "headDim"> & Partial<KdaSpec>;

export function kda(p: KdaInput): KdaSpec {
  const valueHeadDim = p.valueHeadDim ?? p.headDim;
  return { kind: "kda", valueHeadDim, gateRank: valueHeadDim, convKernel: 4, normEps: 1e-5, outputGateBias: false, ...p };
}

/** Channels of the short convolutions together: q, k and v. */
export function kdaConvChannels(s: KdaSpec): number {
  return 2 * s.numHeads * s.headDim + s.numHeads * s.valueHeadDim;
}

export const kdaKind: ComponentKind<KdaSpec> = {
  kind: "kda",
  about: "Kimi Delta Attention: delta rule with a per-channel decay (Kimi Linear); O(T) time, fixed-size state",
  parse(o: Obj): KdaSpec {
    const headDim = o.int("headDim");
    const valueHeadDim = o.int("valueHeadDim", {}, headDim);
    return {
      kind: "kda",
      numHeads: o.int("numHeads"),
      headDim,
      valueHeadDim,
      gateRank: o.int("gateRank", {}, valueHeadDim),
      convKernel: o.int("convKernel", {}, 4),
      normEps: o.num("normEps", { above: 0, below: 1 }, 1e-5),
      outputGateBias: o.bool("outputGateBias", false),
    };
  },
  describe: (s) =>
    `kda ${s.numHeads} heads × ${s.headDim}` +
    (s.valueHeadDim !== s.headDim ? ` (v ${s.valueHeadDim})` : "") +
    `, gate rank ${s.gateRank}, conv ${s.convKernel}`,
  shapes(s, env) {
    const d = env.dModel;
    const qk = s.numHeads * s.headDim;
    const v = s.numHeads * s.valueHeadDim;
    const K = s.convKernel;
    return [
      ...linear("q_proj", d, qk, false),
      ...linear("k_proj", d, qk, false),
      ...linear("v_proj", d, v, false),
      { name: "q_conv1d.weight", shape: [qk, 1, K] },
      { name: "k_conv1d.weight", shape: [qk, 1, K] },
      { name: "v_conv1d.weight", shape: [v, 1, K] },
      { name: "A_log", shape: [s.numHeads] },
      ...linear("f_a_proj", d, s.gateRank, false),
      ...linear("f_b_proj", s.gateRank, qk, false),
      { name: "dt_bias", shape: [qk] },
      ...linear("b_proj", d, s.numHeads, false),
      ...linear("g_a_proj", d, s.gateRank, false),
      ...linear("g_b_proj", s.gateRank, v, s.outputGateBias),
      { name: "o_norm.weight", shape: [s.valueHeadDim] },
      ...linear("o_proj", v, d, false),
    ];
  },
  params(s, env) {
    const d = env.dModel;
    const qk = s.numHeads * s.headDim;
    const v = s.numHeads * s.valueHeadDim;
    const r = s.gateRank;
    const proj = d * (2 * qk + v) + v * d; // q, k, v, o
    const gates = linearParams(d, r, false) + linearParams(r, qk, false) + linearParams(d, s.numHeads, false) + linearParams(d, r, false) + linearParams(r, v, s.outputGateBias);
    return whole(proj + kdaConvChannels(s) * s.convKernel + gates + s.numHeads + qk + s.valueHeadDim);
  },
  // Recurrent form per head and token: per-row decay of S (d_k·d_v), Sᵀk (2·d_k·d_v), rank-1
  // update (2·d_k·d_v), Sᵀq (2·d_k·d_v) = 7·d_k·d_v, as for Gated DeltaNet. Independent of context.
  extraFlops: (s) => 7 * s.numHeads * s.headDim * s.valueHeadDim,
  cache: (s) => ({
    kvElemsPerToken: 0,
    window: null,
    stateElemsFp32: s.numHeads * s.headDim * s.valueHeadDim,
    convStateElems: (s.convKernel - 1) * kdaConvChannels(s),
  }),
};
