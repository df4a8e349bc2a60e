/**
 * Mamba-2 selective state-space mixer, SSD form (Dao & Gu, arXiv 2405.21060), with the Nemotron-H
 * wiring (components.md §13, §1.4; HF `NemotronHMamba2Mixer`). Per token:
 *   [z | xBC | dt] = in_proj(x);  xBC ← SiLU(causal depthwise conv_K(xBC) + bias);  [x | B | C] = xBC
 *   Δ = clamp(softplus(dt + dt_bias), dtMin, dtMax),  A = −exp(A_log)            (per head)
 *   h ← exp(Δ·A) h + Δ · x ⊗ B,  y = h C + D ⊙ x         (h [P, N] per head; B, C shared per group)
 *   y ← RMSNorm_group(y ⊙ SiLU(z)) · w                  (gate first, then norm over d_inner / G)
 *   out = out_proj(y)
 *
 * Parameters (d width, H heads of dim P, d_inner = H·P, N state size, G groups, K conv kernel,
 * C = d_inner + 2·G·N conv channels) — names as in the reference implementation:
 *   in_proj [2·d_inner + 2·G·N + H, d] (+ bias [..] when projBias)
 *   conv1d.weight [C, 1, K] (+ conv1d.bias [C] when convBias)
 *   dt_bias [H], A_log [H], D [H], norm.weight [d_inner], out_proj [d, d_inner] (+ bias [d])
 * State per sequence: H·P·N fp32 (the SSM state) + (K−1)·C (conv inputs, activation dtype).
 * FLOPs beyond the parameters: 5·P·N per head and token for the recurrent update (decay, outer
 * product + add, read-out); independent of the context length.
 */
import type { Obj } from "../reader.js";
import { linear, linearParams, whole, type ComponentKind } from "./kind.js";

export interface Mamba2Spec {
  kind: "mamba2";
  /** H: SSM heads (HF `mamba_num_heads`). */
  numHeads: number;
  /** P: channels per head (HF `mamba_head_dim`); d_inner = H·P. */
  headDim: number;
  /** N: state size per head and channel (HF `ssm_state_size`). */
  stateSize: number;
  /** G: groups sharing one B and one C (HF `n_groups`); also the groups of the gated norm. */
  numGroups: number;
  convKernel: number;
  /** Bias on the depthwise conv (HF `use_conv_bias`). */
  convBias: boolean;
  /** Bias on in_proj and out_proj (HF `use_bias` / `mamba_proj_bias`). */
  projBias: boolean;
  /** Chunk length of the SSD form used for training and prefill (HF `chunk_size`). */
  chunkSize: number;
  /** eps of the grouped gated output RMSNorm (HF `layer_norm_epsilon`). */
  normEps: number;
  /** Clamp of Δ after the softplus (HF `time_step_limit`, default (0, ∞)); null = no upper bound. */
  dtMin: number;
  dtMax: number | null;
}

type Mamba2Input = Pick<Mamba2Spec, "numHeads" | "headDim" | "stateSize"> & Partial<Mamba2Spec>;

export function mamba2(p: Mamba2Input): Mamba2Spec {
  return {
    kind: "mamba2",
    numGroups: 1,
    convKernel: 4,
    convBias: true,
    projBias: false,
    chunkSize: 128,
    normEps: 1e-5,
    dtMin: 0,
    dtMax: null,
    ...p,
  };
}

/** d_inner = H·P: the width of x, z and y. */
export function innerDim(s: Mamba2Spec): number {
  return s.numHeads * s.headDim;
}

/** Channels of the short convolution: x, B and C. */
export function mambaConvChannels(s: Mamba2Spec): number {
  return innerDim(s) + 2 * s.numGroups * s.stateSize;
}

/** Output width of in_proj: z, xBC and dt. */
export function inProjWidth(s: Mamba2Spec): number {
  return innerDim(s) + mambaConvChannels(s) + s.numHeads;
}

export const mamba2Kind: ComponentKind<Mamba2Spec> = {
  kind: "mamba2",
  about: "Mamba-2 selective state-space mixer (SSD; Nemotron-H wiring): O(T) time, fixed-size state",
  parse(o: Obj): Mamba2Spec {
    const numHeads = o.int("numHeads");
    const numGroups = o.int("numGroups", {}, 1);
    if (numHeads % numGroups !== 0)
      throw o.error("numGroups", `must divide numHeads (${numHeads} heads into ${numGroups} groups)`);
    const dtMin = o.num("dtMin", { min: 0 }, 0);
    const dtMax = o.numOrNull("dtMax", { above: 0 });
    if (dtMax !== null && dtMax <= dtMin) throw o.error("dtMax", `must exceed dtMin (${dtMax} ≤ ${dtMin})`);
    return {
      kind: "mamba2",
      numHeads,
      headDim: o.int("headDim"),
      stateSize: o.int("stateSize"),
      numGroups,
      convKernel: o.int("convKernel", {}, 4),
      convBias: o.bool("convBias", true),
      projBias: o.bool("projBias", false),
      chunkSize: o.int("chunkSize", {}, 128),
      normEps: o.num("normEps", { above: 0, below: 1 }, 1e-5),
      dtMin,
      dtMax,
    };
  },
  describe: (s) =>
    `mamba2 ${s.numHeads} heads × ${s.headDim}, state ${s.stateSize}, ${s.numGroups} group${s.numGroups > 1 ? "s" : ""}, conv ${s.convKernel}, chunk ${s.chunkSize}`,
  shapes(s, env) {
    const d = env.dModel;
    const C = mambaConvChannels(s);
    return [
      ...linear("in_proj", d, inProjWidth(s), s.projBias),
      { name: "conv1d.weight", shape: [C, 1, s.convKernel] },
      ...(s.convBias ? [{ name: "conv1d.bias", shape: [C] }] : []),
      { name: "dt_bias", shape: [s.numHeads] },
      { name: "A_log", shape: [s.numHeads] },
      { name: "D", shape: [s.numHeads] },
      { name: "norm.weight", shape: [innerDim(s)] },
      ...linear("out_proj", innerDim(s), d, s.projBias),
    ];
  },
  params(s, env) {
    const d = env.dModel;
    const C = mambaConvChannels(s);
    const proj = linearParams(d, inProjWidth(s), s.projBias) + linearParams(innerDim(s), d, s.projBias);
    return whole(proj + C * s.convKernel + (s.convBias ? C : 0) + 3 * s.numHeads + innerDim(s));
  },
  // Recurrent form per head and token: decay h (P·N), Δ·x ⊗ B and the add (2·P·N), h C (2·P·N).
  extraFlops: (s) => 5 * s.numHeads * s.headDim * s.stateSize,
  cache: (s) => ({
    kvElemsPerToken: 0,
    window: null,
    stateElemsFp32: s.numHeads * s.headDim * s.stateSize,
    convStateElems: (s.convKernel - 1) * mambaConvChannels(s),
  }),
};
