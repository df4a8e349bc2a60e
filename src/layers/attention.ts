/**
 * Grouped-query softmax attention (components.md §3, §5–8): MHA when H_kv = H, MQA when H_kv = 1.
 *
 * Shape legend: B batch, T tokens of this call, L = past + T keys, d width, H query heads,
 * K kv heads, h head dim.
 *
 *   q = x W_qᵀ [B,T,H,h] (elementwise gate: q_proj gives [B,T,H,2h], split per head into q | gate)
 *   k, v = x W_kᵀ, x W_vᵀ [B,T,K,h]
 *   QK-norm (optional): per head over h, or over the full H·h / K·h projection (OLMo 2), before RoPE
 *   RoPE (optional, partial): positions startPos … startPos+T−1
 *   o = softmax(q kᵀ/√h + causal/window mask [+ sink logit]) v   — the fused attention op
 *   gate: o ⊙ σ(gate) (elementwise, Qwen3-Next) or o ⊙ σ(x W_gᵀ) per head (headwise, Trinity)
 *   out = o W_oᵀ
 *
 * Decode: the layer's `AttentionState` holds a `KVCache`; a call appends its k, v and attends its
 * T queries (query i at absolute position startPos + i) over all cached keys.
 * Parameters: q_proj, k_proj, v_proj, q_norm, k_norm, gate_proj, sinks [H], o_proj (see gqa.ts).
 */
import { mul, sigmoid } from "../ops/elementwise.js";
import { attention } from "../ops/attention.js";
import { rope } from "../ops/rope.js";
import { concat, split } from "../ops/shape.js";
import { reshape, unsqueeze } from "../ops/view.js";
import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import type { GqaSpec } from "../config/components/gqa.js";
import type { NormSpec } from "../config/components/norms.js";
import type { RopeParams } from "../config/components/rope.js";
import { Layer, type LayerContext, type LayerState } from "./context.js";
import { zerosInit, type Init } from "./init.js";
import { ContiguousKVCache, type AttentionState } from "./kv_cache.js";
import { Linear } from "./linear.js";
import { buildNorm, type Norm } from "./norm.js";
import { RopeCache } from "./positional.js";

export class GroupedQueryAttention extends Layer {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_norm: Norm | null = null;
  readonly k_norm: Norm | null = null;
  readonly gate_proj: Linear | null = null;
  readonly sinks: Tensor | null = null;
  readonly o_proj: Linear;
  private readonly rope: RopeCache | null;

  /** `rope`: the layer's effective RoPE (spec override or the model's), null for NoPE. */
  constructor(
    readonly spec: GqaSpec,
    readonly d: number,
    rope: RopeParams | null,
    init: Init,
    contextLength: number,
  ) {
    super();
    const { numHeads: H, numKvHeads: K, headDim: h } = spec;
    const g = spec.outputGate === "elementwise" ? 2 : 1;
    this.q_proj = this.child("q_proj", new Linear(d, g * H * h, spec.qkvBias, init));
    this.k_proj = this.child("k_proj", new Linear(d, K * h, spec.qkvBias, init));
    this.v_proj = this.child("v_proj", new Linear(d, K * h, spec.qkvBias, init));
    if (spec.qkNorm) {
      const { scope, ...n } = spec.qkNorm;
      const norm = n as NormSpec;
      this.q_norm = this.child("q_norm", buildNorm(norm, scope === "head" ? h : H * h, init));
      this.k_norm = this.child("k_norm", buildNorm(norm, scope === "head" ? h : K * h, init));
    }
    if (spec.outputGate === "headwise") this.gate_proj = this.child("gate_proj", new Linear(d, H, false, init));
    if (spec.sink) this.sinks = this.param("sinks", zerosInit([H], init));
    this.o_proj = this.child("o_proj", new Linear(H * h, d, spec.outBias, init, init.std * init.outScale));
    this.rope = rope ? RopeCache.shared(rope, h, contextLength) : null;
  }

  override newState(B: number, dtype: DType): AttentionState {
    const { numKvHeads: K, headDim: h } = this.spec;
    return { kind: "attention", cache: new ContiguousKVCache(B, K, h, h, dtype) };
  }

  forward(x: Tensor, ctx: LayerContext, state: LayerState | null): Tensor {
    const { B, T } = ctx;
    const { numHeads: H, numKvHeads: K, headDim: h } = this.spec;
    const full = this.spec.qkNorm?.scope === "full";
    let qp = this.q_proj.forward(x); // [B, T, g·H·h]
    let gate: Tensor | null = null;
    if (this.spec.outputGate === "elementwise") {
      [qp, gate] = split(reshape(qp, [B, T, H, 2 * h]), [h, h], 3) as [Tensor, Tensor]; // per-head [q | gate]
    }
    let kp = this.k_proj.forward(x); // [B, T, K·h]
    const v = reshape(this.v_proj.forward(x), [B, T, K, h]);
    if (full) {
      qp = this.q_norm!.forward(reshape(qp, [B, T, H * h]));
      kp = this.k_norm!.forward(kp);
    }
    let q = reshape(qp, [B, T, H, h]);
    let k = reshape(kp, [B, T, K, h]);
    if (this.q_norm && !full) {
      q = this.q_norm.forward(q);
      k = this.k_norm!.forward(k);
    }
    if (this.rope) {
      const tables = this.rope.get(ctx.startPos + T, x.dtype);
      q = rope(q, ctx.positions, tables);
      k = rope(k, ctx.positions, tables);
    }
    let keys = k;
    let values = v;
    let paged: Tensor | null = null;
    const cache = state ? (state as AttentionState).cache : null;
    if (cache?.attend) paged = cache.attend(q, k.detach(), v.detach(), { window: this.spec.slidingWindow ?? 0, sinks: this.sinks });
    else if (cache) {
      if (cache.length !== ctx.startPos)
        throw new ChimeraError(`attention: the KV cache holds ${cache.length} positions but this call starts at position ${ctx.startPos}`);
      if (cache.length > 0) {
        keys = concat([cache.keys(), k], 1); // [B, L, K, h]
        values = concat([cache.values(), v], 1);
      }
      cache.append(k.detach(), v.detach());
    }
    let o = paged ?? attention(q, keys, values, {
      causal: true,
      window: this.spec.slidingWindow ?? 0,
      sinks: this.sinks,
      qStart: ctx.startPos,
    }); // [B, T, H, h]
    if (gate) o = mul(o, sigmoid(gate));
    else if (this.gate_proj) o = mul(o, unsqueeze(sigmoid(this.gate_proj.forward(x)), 3));
    return this.o_proj.forward(reshape(o, [B, T, H * h]));
  }
}
