/**
 * DeepSeek Sparse Attention (DSA; DeepSeek-V3.2-Exp, components.md §10; reference
 * `inference/model.py` `Indexer` and the DeepSeek_V3_2 report): the lightning indexer that scores
 * every earlier key for each query, the top-k selection, the masked attention over the selected
 * keys, and the indexer's KL training loss. `MultiHeadLatentAttention` (src/layers/mla.ts) owns an
 * indexer when its spec has one and runs its core attention over the selected keys only.
 *
 * Shape legend: B batch, T queries of this call, L keys, H_I indexer heads, d_I indexer head dim,
 * r_q the MLA q-latent rank, d width, ρ = ropeDims.
 *
 *   q^I   = wq_b(c^Q)                                  [B, T, H_I, d_I]   (c^Q: MLA's normalised q latent)
 *   k^I   = LayerNorm(wk x)                            [B, T, d_I]        one key shared by the heads
 *   RoPE on the first ρ dims of q^I and k^I, rotate-half pairs (j, j + ρ/2): the reference's
 *   indexer is not interleaved (the MLA main path is); same frequencies as the MLA rope dims.
 *   w     = weights_proj(x) · H_I^−½ · d_I^−½          [B, T, H_I]
 *   I_t,s = Σ_j w_t,j · ReLU(q^I_t,j · k^I_s)          [B, T, L]
 * Selection: query t at absolute position pos sees keys s ≤ pos and keeps the min(topK, pos+1)
 * with the highest I_t,s. Ties go to the earlier position (lower s), so the selection is a
 * deterministic function of the scores. Core attention adds −∞ outside the selected set.
 *
 * Not modelled: the reference rotates q^I and k^I by a Hadamard transform (scale d_I^−½, an
 * orthogonal map: q·k is unchanged in exact arithmetic) and quantises both to FP8 with one scale
 * per 128 elements (q's scale folded into w); here they stay at the activation dtype.
 *
 * Indexer loss (paper, both training stages): the target p_t,: is the main attention summed over
 * heads and L1-normalised, detached; L_I = mean_t KL(p_t,: ‖ softmax(I_t,:)) over the selected set
 * S_t (the sparse stage; with every key selected — T ≤ topK, or the dense warm-up — it is the
 * dense form). The paper sums over t; the mean over the B·T tokens keeps the weight per token.
 *
 * Parameters (reference names): wq_b [H_I·d_I, r_q], wk [d_I, d], k_norm.weight / k_norm.bias
 * [d_I], weights_proj [H_I, d]. No biases on the linears.
 */
import { Module } from "../nn/module.js";
import { add, affine, mul, relu, where } from "../ops/elementwise.js";
import { matmul } from "../ops/matmul.js";
import { sum } from "../ops/reduce.js";
import { rope } from "../ops/rope.js";
import { logSoftmax, softmax } from "../ops/softmax.js";
import { permute, reshape, transpose } from "../ops/view.js";
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type DType } from "../tensor/dtype.js";
import type { DsaIndexerSpec } from "../config/components/mla.js";
import type { RopeParams } from "../config/components/rope.js";
import type { Init } from "./init.js";
import { Linear } from "./linear.js";
import { LayerNorm } from "./norm.js";
import { RopeCache } from "./positional.js";

export class LightningIndexer extends Module {
  readonly wq_b: Linear;
  readonly wk: Linear;
  readonly k_norm: LayerNorm;
  readonly weights_proj: Linear;
  /** H_I^−½ · d_I^−½, the factor on the head weights. */
  readonly weightScale: number;
  private readonly rope: RopeCache | null;

  /** `rope`: the MLA layer's effective RoPE (null: NoPE, nothing rotates). */
  constructor(
    readonly spec: DsaIndexerSpec,
    d: number,
    qLoraRank: number,
    rope: RopeParams | null,
    init: Init,
    contextLength: number,
  ) {
    super();
    const { heads: HI, headDim: dI, ropeDims, normEps } = spec;
    this.wq_b = this.child("wq_b", new Linear(qLoraRank, HI * dI, false, init));
    this.wk = this.child("wk", new Linear(d, dI, false, init));
    this.k_norm = this.child("k_norm", new LayerNorm(dI, normEps, true, init));
    this.weights_proj = this.child("weights_proj", new Linear(d, HI, false, init));
    this.weightScale = 1 / Math.sqrt(HI * dI);
    // unit-magnitude tables (attention factor 1): the indexer has no YaRN temperature
    this.rope = rope && ropeDims > 0 ? RopeCache.shared({ theta: rope.theta, fraction: 1, scaling: rope.scaling }, ropeDims, contextLength, 1) : null;
  }

  /** q^I from the q latent cq [B, T, r_q] → [B, T, H_I, d_I] (first ρ dims rotated). */
  queries(cq: Tensor, positions: Int32Array, maxPos: number): Tensor {
    const [B, T] = cq.shape as [number, number];
    const q = reshape(this.wq_b.forward(cq), [B, T, this.spec.heads, this.spec.headDim]);
    return this.rope ? rope(q, positions, this.rope.get(maxPos, q.dtype), { interleaved: false }) : q;
  }

  /** k^I from x [B, T, d] → [B, T, d_I] (LayerNorm, first ρ dims rotated). */
  keys(x: Tensor, positions: Int32Array, maxPos: number): Tensor {
    const [B, T] = x.shape as [number, number];
    const k = this.k_norm.forward(this.wk.forward(x)); // [B, T, d_I]
    if (!this.rope) return k;
    return reshape(rope(reshape(k, [B, T, 1, this.spec.headDim]), positions, this.rope.get(maxPos, k.dtype), { interleaved: false }), [B, T, this.spec.headDim]);
  }

  /** Head weights w = weights_proj(x) · H_I^−½ · d_I^−½: [B, T, H_I]. */
  weights(x: Tensor): Tensor {
    return affine(this.weights_proj.forward(x), this.weightScale);
  }
}

/** I_t,s = Σ_j w_t,j · ReLU(q^I_t,j · k^I_s): qI [B, T, H_I, d_I], w [B, T, H_I], kI [B, L, d_I] → [B, T, L]. */
export function indexScores(qI: Tensor, w: Tensor, kI: Tensor): Tensor {
  const [B, T, HI, dI] = qI.shape as [number, number, number, number];
  const L = kI.shape[1]!;
  const s = relu(matmul(reshape(qI, [B, T * HI, dI]), transpose(kI, 1, 2))); // [B, T·H_I, L]
  return reshape(matmul(reshape(w, [B, T, 1, HI]), reshape(s, [B, T, HI, L])), [B, T, L]); // Σ_j w_j · ReLU(·)
}

/** A top-k selection over R rows of T queries × L keys. */
export interface Selection {
  /** 1 where query t of row r keeps key s, else 0: [R, T, L]. */
  keep: Uint8Array;
  /** Every query keeps all of its causal keys (no key was dropped). */
  all: boolean;
}

/**
 * Per query t of row r (absolute position qStart[r] + t; key s at position s): the
 * min(topK, pos+1) causal keys with the highest scores [R, T, L]; ties go to the lower s.
 */
export function selectTopK(scores: ArrayLike<number>, R: number, T: number, L: number, qStart: ArrayLike<number>, topK: number): Selection {
  const keep = new Uint8Array(R * T * L);
  let all = true;
  let idx = new Int32Array(0);
  for (let r = 0; r < R; r++)
    for (let t = 0; t < T; t++) {
      const row = (r * T + t) * L;
      const n = Math.min(qStart[r]! + t + 1, L); // causal keys 0 … n−1
      if (n <= topK) {
        keep.fill(1, row, row + n);
        continue;
      }
      all = false;
      if (idx.length < n) idx = new Int32Array(n);
      const ids = idx.subarray(0, n);
      for (let s = 0; s < n; s++) ids[s] = s;
      ids.sort((a, b) => {
        const d = scores[row + b]! - scores[row + a]!;
        return d > 0 || d < 0 ? d : a - b; // higher score first; ties (and NaN) by position
      });
      for (let i = 0; i < topK; i++) keep[row + ids[i]!] = 1;
    }
  return { keep, all };
}

/** Additive mask [R, 1, T, L] (0 kept, −∞ dropped) and a 0/1 mask [R, T, L] of a selection, as `dtype` tensors. */
export function selectionMasks(sel: Selection, R: number, T: number, L: number, dtype: DType): { additive: Tensor; keep: Tensor } {
  const n = R * T * L;
  const a = allocArray(dtype, n);
  const k = allocArray(dtype, n);
  for (let i = 0; i < n; i++) {
    const on = sel.keep[i] === 1;
    a[i] = on ? 0 : -Infinity;
    k[i] = on ? 1 : 0;
  }
  return { additive: new Tensor(a, [R, 1, T, L]), keep: new Tensor(k, [R, T, L]) };
}

/**
 * Attention with an explicit additive mask: q [B, Tq, H, D], k [B, Tk, Hk, D], v [B, Tk, Hk, Dv]
 * (Hk = H, or 1 for the absorbed MQA form), mask [B, 1, Tq, Tk] → out [B, Tq, H, Dv] and the
 * probabilities [B, H, Tq, Tk]. Every query row must keep at least one key.
 */
export function maskedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: number): { out: Tensor; probs: Tensor } {
  const s = add(affine(matmul(permute(q, [0, 2, 1, 3]), permute(k, [0, 2, 3, 1])), scale), mask); // [B, H, Tq, Tk]
  const probs = softmax(s, -1);
  const o = matmul(probs, permute(v, [0, 2, 1, 3])); // [B, H, Tq, Dv]
  return { out: permute(o, [0, 2, 1, 3]), probs };
}

/**
 * The indexer KL loss, weighted: weight · mean_{b,t} KL(p̄_t ‖ softmax(I_t over S_t)), where
 * p̄ = Σ_h probs / Σ_{h,s} probs (probs [B, H, T, L], treated as a constant) and S_t the kept
 * keys (`masks`). Gradients reach I only. Returns the weighted loss and the unweighted KL value.
 */
export function indexerKlLoss(I: Tensor, probs: Tensor, masks: { additive: Tensor; keep: Tensor }, weight: number): { loss: Tensor; kl: number } {
  const [B, T, L] = I.shape as [number, number, number];
  const H = probs.shape[1]!;
  const pd = probs.dense();
  const target = allocArray(I.dtype, B * T * L);
  let negEntropy = 0; // Σ p̄ log p̄
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * L;
      let z = 0;
      for (let s = 0; s < L; s++) {
        let acc = 0;
        for (let h = 0; h < H; h++) acc += pd[((b * H + h) * T + t) * L + s]!;
        target[row + s] = acc;
        z += acc;
      }
      for (let s = 0; s < L; s++) {
        const p = target[row + s]! / z;
        target[row + s] = p;
        if (p > 0) negEntropy += p * Math.log(p);
      }
    }
  const logq = logSoftmax(add(I, reshape(masks.additive, [B, T, L])), -1); // −∞ outside S_t
  const cross = sum(mul(new Tensor(target, [B, T, L]), where(masks.keep, logq, 0))); // Σ p̄ log q (0 outside S_t)
  const N = B * T;
  const loss = affine(cross, -weight / N, (weight * negEntropy) / N);
  return { loss, kl: (negEntropy - cross.item()) / N };
}
