/**
 * Gated DeltaNet linear attention with Qwen3-Next wiring (arXiv 2412.06464; components.md §11.1,
 * HF `Qwen3NextGatedDeltaNet`). Per token: in_proj_qkvz → q, k, v, z; in_proj_ba → β = σ(b),
 * g = −exp(A_log)·softplus(a + dt_bias); depthwise causal conv (kernel K, no bias) + SiLU on
 * [q;k;v]; L2-norm q, k; gated delta rule S ← e^g S + k ⊗ β(v − Sᵀk), o = Sᵀq per value head;
 * RMSNormGated(o, z) = RMSNorm(o) ⊙ SiLU(z) per head over d_v; out_proj.
 *
 * Parameters (d width, H_k key heads, H_v value heads, d_k, d_v head dims, K conv kernel):
 *   in_proj_qkvz [2·H_k·d_k + 2·H_v·d_v, d]     in_proj_ba [2·H_v, d]
 *   conv1d.weight [C, 1, K] with C = 2·H_k·d_k + H_v·d_v
 *   dt_bias [H_v], A_log [H_v], norm.weight [d_v], out_proj [d, H_v·d_v]
 * State per sequence: H_v·d_k·d_v fp32 (recurrent S) + (K−1)·C (conv inputs, activation dtype).
 */
import type { Obj } from "../reader.js";
import { linear, whole, type ComponentKind } from "./kind.js";

export interface GatedDeltaNetSpec {
  kind: "gated_deltanet";
  numKeyHeads: number;
  numValueHeads: number;
  keyHeadDim: number;
  valueHeadDim: number;
  convKernel: number;
  /** eps of the gated output RMSNorm. */
  normEps: number;
}

type GdnInput = Pick<GatedDeltaNetSpec, "numKeyHeads" | "numValueHeads" | "keyHeadDim" | "valueHeadDim"> &
  Partial<GatedDeltaNetSpec>;

export function gatedDeltaNet(p: GdnInput): GatedDeltaNetSpec {
  return { kind: "gated_deltanet", convKernel: 4, normEps: 1e-6, ...p };
}

/** Channels of the short convolution: q, k and v. */
export function convChannels(s: GatedDeltaNetSpec): number {
  return 2 * s.numKeyHeads * s.keyHeadDim + s.numValueHeads * s.valueHeadDim;
}

export const gatedDeltaNetKind: ComponentKind<GatedDeltaNetSpec> = {
  kind: "gated_deltanet",
  about: "Gated DeltaNet linear attention (Qwen3-Next wiring): O(T) time, fixed-size state",
  parse(o: Obj): GatedDeltaNetSpec {
    const numKeyHeads = o.int("numKeyHeads");
    const numValueHeads = o.int("numValueHeads");
    if (numValueHeads % numKeyHeads !== 0)
      throw o.error("numValueHeads", `must be a multiple of numKeyHeads (${numValueHeads} value heads, ${numKeyHeads} key heads)`);
    return {
      kind: "gated_deltanet",
      numKeyHeads,
      numValueHeads,
      keyHeadDim: o.int("keyHeadDim"),
      valueHeadDim: o.int("valueHeadDim"),
      convKernel: o.int("convKernel", {}, 4),
      normEps: o.num("normEps", { above: 0, below: 1 }, 1e-6),
    };
  },
  describe: (s) =>
    `gated_deltanet ${s.numKeyHeads} key heads × ${s.keyHeadDim}, ${s.numValueHeads} value heads × ${s.valueHeadDim}, conv ${s.convKernel}`,
  shapes(s, env) {
    const d = env.dModel;
    const qk = s.numKeyHeads * s.keyHeadDim;
    const v = s.numValueHeads * s.valueHeadDim;
    return [
      ...linear("in_proj_qkvz", d, 2 * qk + 2 * v, false),
      ...linear("in_proj_ba", d, 2 * s.numValueHeads, false),
      { name: "conv1d.weight", shape: [convChannels(s), 1, s.convKernel] },
      { name: "dt_bias", shape: [s.numValueHeads] },
      { name: "A_log", shape: [s.numValueHeads] },
      { name: "norm.weight", shape: [s.valueHeadDim] },
      ...linear("out_proj", v, d, false),
    ];
  },
  params(s, env) {
    const d = env.dModel;
    const qk = s.numKeyHeads * s.keyHeadDim;
    const v = s.numValueHeads * s.valueHeadDim;
    const proj = d * (2 * qk + 2 * v) + d * 2 * s.numValueHeads + v * d;
    return whole(proj + convChannels(s) * s.convKernel + 2 * s.numValueHeads + s.valueHeadDim);
  },
  // Recurrent form per value head and token: decay S (d_k·d_v), Sᵀk (2·d_k·d_v), rank-1 update
  // (2·d_k·d_v), Sᵀq (2·d_k·d_v) = 7·d_k·d_v. Independent of the context length.
  extraFlops: (s) => 7 * s.numValueHeads * s.keyHeadDim * s.valueHeadDim,
  cache: (s) => ({
    kvElemsPerToken: 0,
    window: null,
    stateElemsFp32: s.numValueHeads * s.keyHeadDim * s.valueHeadDim,
    convStateElems: (s.convKernel - 1) * convChannels(s),
  }),
};
