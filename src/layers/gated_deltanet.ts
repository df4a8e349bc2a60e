/**
 * Gated DeltaNet linear attention, Qwen3-Next wiring (arXiv 2412.06464; components.md §11;
 * HF `Qwen3NextGatedDeltaNet`). O(T) time, fixed-size decode state.
 *
 * Shape legend: B batch, T tokens, d width, H_k key heads, H_v value heads (r = H_v/H_k),
 * d_k / d_v head dims, C = 2·H_k·d_k + H_v·d_v conv channels, K conv kernel.
 *
 *   [q|k|v|z] = in_proj_qkvz(x) viewed per key-head group [B,T,H_k, d_k|d_k|r·d_v|r·d_v]
 *   [b|a]     = in_proj_ba(x)   viewed per key-head group [B,T,H_k, r|r]
 *   [q;k;v]   = SiLU(causal depthwise conv_K([q;k;v]))           [B,T,C] (no bias)
 *   β = σ(b),  g = −exp(A_log) · softplus(a + dt_bias)            [B,T,H_v] (log-decay ≤ 0)
 *   q, k repeated r times per key head (GVA); L2-normalised inside the op (eps 1e-6), q·d_k^−½
 *   S ← e^g S + k ⊗ β(v − Sᵀk),  o = Sᵀq                          (gatedDeltaRule, fp32 state)
 *   o = RMSNorm_w(o) ⊙ SiLU(z) per head over d_v                 (norm first, then gate)
 *   out = out_proj(o)
 * The op picks the chunked WY/UT form (chunk 64, log-space decays) for T > 16 (training, prefill)
 * and the recurrent form for short calls (decode); both give the same result.
 *
 * Decode state (`DeltaNetState`): S [B, H_v, d_k, d_v] and the conv state [B, K−1, C] (the last
 * K−1 pre-activation conv inputs).
 *
 * Parameters: in_proj_qkvz [2·H_k·d_k + 2·H_v·d_v, d], in_proj_ba [2·H_v, d], conv1d.weight [C, 1, K],
 * dt_bias [H_v], A_log [H_v], norm.weight [d_v], out_proj [d, H_v·d_v].
 * Init: A_log = log U(1, 16); dt_bias = softplus⁻¹(dt) with dt log-uniform in [1e-3, 0.1] (fla's
 * GDN init; HF uses 1); conv weights U(±1/√K) (PyTorch's Conv1d default); norm weight 1.
 */
import { add, exp, mul, neg, sigmoid, silu, softplus } from "../ops/elementwise.js";
import { causalConv1d } from "../ops/conv.js";
import { gatedDeltaRule } from "../ops/gated_delta.js";
import { rmsNormGated } from "../ops/norm.js";
import { concat, repeatInterleave, split } from "../ops/shape.js";
import { reshape } from "../ops/view.js";
import { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { zeros } from "../tensor/creation.js";
import { convChannels, type GatedDeltaNetSpec } from "../config/components/gated_deltanet.js";
import { Layer, type LayerContext, type LayerState } from "./context.js";
import { constInit, dtBiasInit, uniformInit, type Init } from "./init.js";
import { WeightOnly } from "./weight_only.js";
import { Linear } from "./linear.js";

export interface DeltaNetState extends LayerState {
  readonly kind: "gated_deltanet";
  /** Recurrent state S [B, H_v, d_k, d_v]. */
  S: Tensor;
  /** Conv inputs of the last K−1 positions [B, K−1, C]. */
  conv: Tensor;
}

export class GatedDeltaNet extends Layer {
  readonly in_proj_qkvz: Linear;
  readonly in_proj_ba: Linear;
  readonly conv1d: WeightOnly;
  readonly dt_bias: Tensor;
  readonly A_log: Tensor;
  readonly norm: WeightOnly;
  readonly out_proj: Linear;
  private readonly C: number;

  constructor(
    readonly spec: GatedDeltaNetSpec,
    readonly d: number,
    init: Init,
  ) {
    super();
    const { numKeyHeads: Hk, numValueHeads: Hv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K } = spec;
    this.C = convChannels(spec);
    this.in_proj_qkvz = this.child("in_proj_qkvz", new Linear(d, 2 * Hk * dk + 2 * Hv * dv, false, init));
    this.in_proj_ba = this.child("in_proj_ba", new Linear(d, 2 * Hv, false, init));
    const bound = 1 / Math.sqrt(K);
    this.conv1d = this.child("conv1d", new WeightOnly(uniformInit([this.C, 1, K], init, -bound, bound)));
    this.dt_bias = this.param("dt_bias", dtBiasInit(Hv, init));
    const A = uniformInit([Hv], init, 1, 16);
    for (let i = 0; i < Hv; i++) A.data[i] = Math.log(A.data[i]!);
    this.A_log = this.param("A_log", A);
    this.norm = this.child("norm", new WeightOnly(constInit([dv], init, 1)));
    this.out_proj = this.child("out_proj", new Linear(Hv * dv, d, false, init, init.std * init.outScale));
  }

  override newState(B: number, dtype: DType): DeltaNetState {
    const { numValueHeads: Hv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K } = this.spec;
    return {
      kind: "gated_deltanet",
      S: zeros([B, Hv, dk, dv], { dtype }),
      conv: zeros([B, K - 1, this.C], { dtype }),
    };
  }

  /**
   * Everything before the delta rule, on x [B, T, d]: the projections, the short causal conv over
   * [q; k; v] (continuing `convState` when given) + SiLU, and the gates. q, k are not yet
   * L2-normalised. Shared by `forward` and the speculative verify path (src/inference/deltanet.ts).
   */
  inputs(x: Tensor, B: number, T: number, convState: Tensor | null): DeltaNetInputs {
    const { numKeyHeads: Hk, numValueHeads: Hv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K } = this.spec;
    const r = Hv / Hk;
    // projections, per key-head group
    const qkvz = reshape(this.in_proj_qkvz.forward(x), [B, T, Hk, 2 * dk + 2 * r * dv]);
    const [q0, k0, v0, z0] = split(qkvz, [dk, dk, r * dv, r * dv], 3) as [Tensor, Tensor, Tensor, Tensor];
    const ba = reshape(this.in_proj_ba.forward(x), [B, T, Hk, 2 * r]);
    const [b0, a0] = split(ba, [r, r], 3) as [Tensor, Tensor];
    const z = reshape(z0, [B, T, Hv, dv]);
    const b = reshape(b0, [B, T, Hv]);
    const a = reshape(a0, [B, T, Hv]);
    // short causal conv over [q; k; v] + SiLU
    const mixed = concat([reshape(q0, [B, T, Hk * dk]), reshape(k0, [B, T, Hk * dk]), reshape(v0, [B, T, Hv * dv])], 2); // [B, T, C]
    const conv = causalConv1d(mixed, reshape(this.conv1d.weight, [this.C, K]), null, convState);
    const act = silu(conv.out);
    const [qc, kc, vc] = split(act, [Hk * dk, Hk * dk, Hv * dv], 2) as [Tensor, Tensor, Tensor];
    let q = reshape(qc, [B, T, Hk, dk]);
    let k = reshape(kc, [B, T, Hk, dk]);
    const v = reshape(vc, [B, T, Hv, dv]);
    if (r > 1) {
      q = repeatInterleave(q, r, 2); // [B, T, H_v, d_k]
      k = repeatInterleave(k, r, 2);
    }
    // gates
    const beta = sigmoid(b);
    const g = mul(neg(exp(this.A_log)), softplus(add(a, this.dt_bias))); // [B, T, H_v]
    return { q, k, v, g, beta, z, mixed, convState: conv.newState };
  }

  /** Gated RMSNorm of the delta rule's output o [B, T, H_v, d_v] with z, then the output projection → [B, T, d]. */
  output(o: Tensor, z: Tensor, B: number, T: number): Tensor {
    const { numValueHeads: Hv, valueHeadDim: dv, normEps } = this.spec;
    const n = rmsNormGated(o, z, this.norm.weight, normEps); // [B, T, H_v, d_v]
    return this.out_proj.forward(reshape(n, [B, T, Hv * dv]));
  }

  forward(x: Tensor, ctx: LayerContext, state: LayerState | null): Tensor {
    const { B, T } = ctx;
    const st = state as DeltaNetState | null;
    const inp = this.inputs(x, B, T, st ? st.conv : null);
    const res = gatedDeltaRule(inp.q, inp.k, inp.v, inp.g, inp.beta, {
      initialState: st ? st.S : null,
      useQkL2Norm: true,
      mode: "auto",
      outputFinalState: st !== null,
    });
    if (st) {
      st.S = res.finalState!.detach();
      st.conv = inp.convState.detach();
    }
    return this.output(res.out, inp.z, B, T);
  }
}

/** What `GatedDeltaNet.inputs` returns (shapes for x [B, T, d]). */
export interface DeltaNetInputs {
  /** [B, T, H_v, d_k] each (key heads repeated to the value heads; not L2-normalised). */
  q: Tensor;
  k: Tensor;
  /** [B, T, H_v, d_v] */
  v: Tensor;
  /** log-decay g and write strength β [B, T, H_v] */
  g: Tensor;
  beta: Tensor;
  /** output gate [B, T, H_v, d_v] */
  z: Tensor;
  /** conv inputs [q; k; v] [B, T, C] */
  mixed: Tensor;
  /** the conv state after the last token [B, K−1, C] */
  convState: Tensor;
}
