/**
 * DeepSeek-V3-style sequential MTP module (arXiv 2412.19437 §2.2; components.md §16.1), the
 * configurable alternative to the per-superblock parallel heads (docs/model.md "MTP").
 * Module k (0-based) predicts token i+k+2 from position i:
 *   h'  = eh_proj([enorm(Emb(ids[i+k+1])) ; hnorm(h^{k−1}_i)])   (embedding first, as the released code)
 *   h^k = Block(h')                                              (its own full block, causal over L_k)
 *   logits = SharedUnembed(head_norm(h^k))
 * with h^{−1} the main stack's last hidden state (before the final norm) and L_k = T − k − 1 positions.
 * Parameters per module: enorm, hnorm, eh_proj [d, 2d], head_norm, block.*.
 */
import { Module } from "../nn/module.js";
import { concat } from "../ops/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import type { SequentialMtpSpec } from "../config/types.js";
import type { BuildEnv } from "../layers/build.js";
import { Linear } from "../layers/linear.js";
import { buildNorm, type Norm } from "../layers/norm.js";
import type { LayerContext } from "../layers/context.js";
import { Block, type BlockOptions } from "./block.js";

export class SequentialMtpModule extends Module {
  readonly enorm: Norm;
  readonly hnorm: Norm;
  readonly eh_proj: Linear;
  readonly head_norm: Norm;
  readonly block: Block;

  constructor(spec: SequentialMtpSpec, env: BuildEnv, where: string) {
    super();
    this.enorm = this.child("enorm", buildNorm(spec.norm, env.d, env.init));
    this.hnorm = this.child("hnorm", buildNorm(spec.norm, env.d, env.init));
    this.eh_proj = this.child("eh_proj", new Linear(2 * env.d, env.d, false, env.init));
    this.head_norm = this.child("head_norm", buildNorm(spec.norm, env.d, env.init));
    this.block = this.child("block", new Block(spec.block, env, `${where}.block`));
  }

  /** The block's input h' = eh_proj([enorm(emb) ; hnorm(hPrev)]): [B, L, d] (the inference engine runs the block itself, over its caches). */
  input(emb: Tensor, hPrev: Tensor): Tensor {
    return this.eh_proj.forward(concat([this.enorm.forward(emb), this.hnorm.forward(hPrev)], 2)); // [B, L, d]
  }

  /**
   * emb [B, L, d] (embeddings of the tokens one step ahead), hPrev [B, L, d] → {h [B, L, d],
   * normed: head_norm(h) for the shared unembedding}.
   */
  forward(emb: Tensor, hPrev: Tensor, ctx: LayerContext, opts: BlockOptions): { h: Tensor; normed: Tensor } {
    const h = this.block.forward(this.input(emb, hPrev), ctx, null, opts);
    return { h, normed: this.head_norm.forward(h) };
  }
}
