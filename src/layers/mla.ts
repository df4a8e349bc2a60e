/**
 * Multi-head latent attention (DeepSeek-V2 arXiv 2405.04434, DeepSeek-V3 arXiv 2412.19437;
 * components.md §9, DeepSeek-V3 `inference/model.py`). Keys and values are up-projected from a
 * small normalised latent c_kv, and one rotary key k_rope is shared by all heads, so decoding
 * caches only [c_kv ; k_rope] per token.
 *
 * Shape legend: B batch, T tokens of this call, L = past + T keys, d width, H heads, r_q q rank,
 * r kv rank (kvLoraRank), n nope dim, p rope dim, v value dim (per head).
 *
 *   q        = W_qb RMSNorm(W_qa x)  (or W_q x when r_q = 0)          [B, T, H, n + p] = [q_nope | q_rope]
 *   [c ; k̃]  = W_kva x;  c ← RMSNorm(c)                               [B, T, r], [B, T, 1, p]
 *   q_rope, k_rope = RoPE(q_rope), RoPE(k̃)   positions startPos … startPos+T−1, interleaved pairs
 *   training / uncached (non-absorbed):
 *     [k_nope | v]_h = (W_kvb c)_h                                      [B, T, H, n], [B, T, H, v]
 *     k_h = [k_nope,h | k_rope]   (k_rope broadcast to every head)     [B, T, H, n + p]
 *     o_h = softmax(q_h·k_hᵀ · scale + causal mask) v_h                 [B, T, H, v]
 *   cached (absorbed, "MQA mode"): with W_kvb = per head [W_UK,h (n × r) ; W_UV,h (v × r)]
 *     q̃_h = [W_UK,hᵀ q_nope,h | q_rope,h]                              [B, T, H, r + p]
 *     key = [c | k_rope] (cached), value = c (the key's first r channels) [B, L, 1, r + p] / [B, L, 1, r]
 *     õ_h = softmax(q̃_h·keyᵀ · scale + mask) value                     [B, T, H, r]
 *     o_h = W_UV,h õ_h                                                 [B, T, H, v]
 *     — the same scores, since q̃_h·[c | k_rope] = q_nope,h·(W_UK,h c) + q_rope,h·k_rope.
 *   out = W_o concat_h(o_h)                                            [B, T, d]
 *
 * Softmax scale: (n+p)^−½ · mscale², mscale = 0.1·ln(s) + 1 when the RoPE uses YaRN with factor
 * s > 1 (mscale_all_dim = 1 as in DeepSeek-V3; components.md §4.2), else 1. The RoPE tables are
 * built with attention factor 1 so the temperature is applied once, to the whole logit (nope and
 * rope parts), as DeepSeek's reference and HF DeepSeek-V3 do — not baked into cos/sin as the GQA
 * layer does (that would scale only the rope part here).
 *
 * RoPE pairing: interleaved (2i, 2i+1), as DeepSeek's reference code (`view_as_complex`) and the
 * released checkpoints' wq_b / wkv_a rope rows (HF DeepSeek-V3 de-interleaves them at run time).
 * All p rope dims rotate: MLA's partial rotation is its n | p split, so theta and scaling come from
 * the RoPE and its `fraction` (a GQA notion; e.g. inherited from a partial-RoPE model) does not
 * apply. `rope: null` = NoPE (the rope dims stay as unrotated shared-key dims, Kimi Linear's MLA).
 *
 * Decode: `newState` gives a ContiguousKVCache of one kv head, key dim r + p and value dim r with
 * values served from the keys (`valuesInKeys`): r + p elements per token, as MlaSpec's cost
 * accounting says. Every call with a state (prefill, decode steps, verify passes) takes the
 * absorbed path; the paged cache of the inference engine holds the same [c | k_rope] rows
 * (`kvLayerSpec`). Calls without a state (training) take the non-absorbed path, which is cheaper
 * when every query attends to fresh keys: per key-query pair it costs n+p+v instead of 2r+p.
 *
 * Parameters (names and shapes as `mlaKind.shapes`): wq_a [r_q, d], q_norm [r_q], wq_b [H·(n+p), r_q]
 * (or wq [H·(n+p), d]); wkv_a [r + p, d], kv_norm [r], wkv_b [H·(n+v), r], wo [d, H·v]. No biases.
 */
import { attention } from "../ops/attention.js";
import { matmul } from "../ops/matmul.js";
import { rope, yarnMscale } from "../ops/rope.js";
import { concat, split } from "../ops/shape.js";
import { expand, permute, reshape, slice, transpose } from "../ops/view.js";
import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import type { MlaSpec } from "../config/components/mla.js";
import type { RopeParams } from "../config/components/rope.js";
import { Layer, type LayerContext, type LayerState } from "./context.js";
import type { Init } from "./init.js";
import { ContiguousKVCache, type AttentionState } from "./kv_cache.js";
import { Linear } from "./linear.js";
import { RMSNorm } from "./norm.js";
import { RopeCache } from "./positional.js";

/** The MLA softmax scale: (n+p)^−½ times mscale² for YaRN with factor > 1 (DeepSeek-V3 `softmax_scale`). */
export function mlaSoftmaxScale(spec: Pick<MlaSpec, "qkNopeHeadDim" | "qkRopeHeadDim">, rope: RopeParams | null): number {
  const m = rope?.scaling?.kind === "yarn" ? yarnMscale(rope.scaling.factor) : 1;
  return (m * m) / Math.sqrt(spec.qkNopeHeadDim + spec.qkRopeHeadDim);
}

export class MultiHeadLatentAttention extends Layer {
  readonly wq_a: Linear | null = null;
  readonly q_norm: RMSNorm | null = null;
  readonly wq_b: Linear | null = null;
  readonly wq: Linear | null = null;
  readonly wkv_a: Linear;
  readonly kv_norm: RMSNorm;
  readonly wkv_b: Linear;
  readonly wo: Linear;
  /** Logit scale (n+p)^−½ · mscale². */
  readonly scale: number;
  private readonly rope: RopeCache | null;

  /** `rope`: the layer's effective RoPE (spec override or the model's), null for NoPE. */
  constructor(
    readonly spec: MlaSpec,
    readonly d: number,
    rope: RopeParams | null,
    init: Init,
    contextLength: number,
  ) {
    super();
    const { numHeads: H, qLoraRank: rq, kvLoraRank: r, qkNopeHeadDim: n, qkRopeHeadDim: p, vHeadDim: v, normEps } = spec;
    if (rq > 0) {
      this.wq_a = this.child("wq_a", new Linear(d, rq, false, init));
      this.q_norm = this.child("q_norm", new RMSNorm(rq, normEps, false, init));
      this.wq_b = this.child("wq_b", new Linear(rq, H * (n + p), false, init));
    } else this.wq = this.child("wq", new Linear(d, H * (n + p), false, init));
    this.wkv_a = this.child("wkv_a", new Linear(d, r + p, false, init));
    this.kv_norm = this.child("kv_norm", new RMSNorm(r, normEps, false, init));
    this.wkv_b = this.child("wkv_b", new Linear(r, H * (n + v), false, init));
    this.wo = this.child("wo", new Linear(H * v, d, false, init, init.std * init.outScale));
    this.rope = rope ? RopeCache.shared({ theta: rope.theta, fraction: 1, scaling: rope.scaling }, p, contextLength, 1) : null;
    this.scale = mlaSoftmaxScale(spec, rope);
  }

  /** Cache geometry (the paged pool's `KvLayerSpec`): one kv head, key [c | k_rope], value c inside the key. */
  kvLayerSpec(): { heads: number; headDim: number; valueDim: number; window: number; valuesInKeys: boolean } {
    const { kvLoraRank: r, qkRopeHeadDim: p } = this.spec;
    return { heads: 1, headDim: r + p, valueDim: r, window: 0, valuesInKeys: true };
  }

  override newState(B: number, dtype: DType): AttentionState {
    const { kvLoraRank: r, qkRopeHeadDim: p } = this.spec;
    return { kind: "attention", cache: new ContiguousKVCache(B, 1, r + p, r, dtype, { valuesInKeys: true }) };
  }

  forward(x: Tensor, ctx: LayerContext, state: LayerState | null): Tensor {
    const { B, T } = ctx;
    const { numHeads: H, kvLoraRank: r, qkNopeHeadDim: n, qkRopeHeadDim: p, vHeadDim: v } = this.spec;
    const qp = this.wq ? this.wq.forward(x) : this.wq_b!.forward(this.q_norm!.forward(this.wq_a!.forward(x))); // [B, T, H·(n+p)]
    let [qNope, qPe] = split(reshape(qp, [B, T, H, n + p]), [n, p], 3) as [Tensor, Tensor]; // [B, T, H, n], [B, T, H, p]
    const [cRaw, kPeRaw] = split(this.wkv_a.forward(x), [r, p], 2) as [Tensor, Tensor]; // [B, T, r], [B, T, p]
    const c = this.kv_norm.forward(cRaw); // [B, T, r]
    let kPe = reshape(kPeRaw, [B, T, 1, p]); // one rope key shared by the heads
    if (this.rope) {
      const tables = this.rope.get(ctx.startPos + T, x.dtype);
      qPe = rope(qPe, ctx.positions, tables, { interleaved: true });
      kPe = rope(kPe, ctx.positions, tables, { interleaved: true });
    }
    if (!state) {
      // non-absorbed: per-head keys and values from the latent
      const [kNope, vals] = split(reshape(this.wkv_b.forward(c), [B, T, H, n + v]), [n, v], 3) as [Tensor, Tensor]; // [B, T, H, n], [B, T, H, v]
      const q = concat([qNope, qPe], 3); // [B, T, H, n+p]
      const k = concat([kNope, expand(kPe, [B, T, H, p])], 3); // [B, T, H, n+p]
      const o = attention(q, k, vals, { causal: true, scale: this.scale, qStart: 0 }); // [B, T, H, v]
      return this.wo.forward(reshape(o, [B, T, H * v]));
    }
    // absorbed: MQA over the cached latent rows
    const [wUK, wUV] = split(reshape(this.wkv_b.weight, [H, n + v, r]), [n, v], 1) as [Tensor, Tensor]; // [H, n, r], [H, v, r]
    qNope = reshape(permute(qNope, [2, 0, 1, 3]), [H, B * T, n]); // [H, B·T, n]
    const qAbs = permute(reshape(matmul(qNope, wUK), [H, B, T, r]), [1, 2, 0, 3]); // W_UK,hᵀ q_nope,h: [B, T, H, r]
    const q = concat([qAbs, qPe], 3); // [B, T, H, r+p]
    const key = concat([reshape(c, [B, T, 1, r]), kPe], 3); // [c | k_rope]: [B, T, 1, r+p]
    const value = slice(key, 3, 0, r); // c: [B, T, 1, r]
    const cache = (state as AttentionState).cache;
    let oLat: Tensor;
    if (cache.attend) oLat = cache.attend(q, key.detach(), value.detach(), { window: 0, sinks: null, scale: this.scale });
    else {
      if (cache.length !== ctx.startPos)
        throw new ChimeraError(`mla: the KV cache holds ${cache.length} positions but this call starts at position ${ctx.startPos}`);
      let keys = key;
      let values = value;
      if (cache.length > 0) {
        keys = concat([cache.keys(), key], 1); // [B, L, 1, r+p]
        values = concat([cache.values(), value], 1); // [B, L, 1, r]
      }
      cache.append(key.detach(), value.detach());
      oLat = attention(q, keys, values, { causal: true, scale: this.scale, qStart: ctx.startPos }); // [B, T, H, r]
    }
    const oL = reshape(permute(oLat, [2, 0, 1, 3]), [H, B * T, r]); // [H, B·T, r]
    const o = permute(reshape(matmul(oL, transpose(wUV, 1, 2)), [H, B, T, v]), [1, 2, 0, 3]); // W_UV,h õ_h: [B, T, H, v]
    return this.wo.forward(reshape(o, [B, T, H * v]));
  }
}
