/**
 * Parallel multi-token-prediction head (Chimera's default MTP wiring; docs/model.md "MTP"):
 * a side branch on the residual stream. Its input is the stream after the sublayer's norm (the
 * superblock's third RMSNorm, MISSION §1 step 7); for each offset o = 0 … D−1 a projection
 * proj.{o} (d → d) feeds the model's shared unembedding, predicting token t+1+o. The stream
 * passes through unchanged. The head's loss is the mean over offsets of the cross-entropy, where
 * offset o at position t is scored against targets[t+o] (= ids[t+1+o] in the usual next-token
 * layout) and positions with t+o ≥ T are ignored; the model weights it by λ (`lossWeight`).
 * Parameters: proj.{o}.weight [d, d] (+ bias [d]).
 */
import { crossEntropy } from "../ops/softmax.js";
import { mean } from "../ops/reduce.js";
import { stack } from "../ops/shape.js";
import { reshape } from "../ops/view.js";
import type { Tensor } from "../tensor/tensor.js";
import type { ParallelMtpHeadSpec } from "../config/components/mtp_head.js";
import { ModuleList } from "./container.js";
import { Layer, type LayerContext } from "./context.js";
import type { Init } from "./init.js";
import { Linear } from "./linear.js";

/** Targets for offset o: out[b, t] = targets[b, t+o] for t+o < T, else ignoreIndex. */
export function shiftTargets(targets: Int32Array, B: number, T: number, o: number, ignoreIndex: number): Int32Array {
  const out = new Int32Array(B * T).fill(ignoreIndex);
  for (let b = 0; b < B; b++) for (let t = 0; t + o < T; t++) out[b * T + t] = targets[b * T + t + o]!;
  return out;
}

export class ParallelMtpHead extends Layer {
  override readonly sideBranch = true;
  readonly proj: ModuleList<Linear>;

  constructor(
    readonly spec: ParallelMtpHeadSpec,
    d: number,
    init: Init,
  ) {
    super();
    const heads: Linear[] = [];
    for (let o = 0; o < spec.depth; o++) heads.push(new Linear(d, d, spec.bias, init));
    this.proj = this.child("proj", new ModuleList(heads));
  }

  /** Logits of every offset for the normed stream h [B, T, d] → D tensors [B, T, V]. */
  offsetLogits(h: Tensor, unembed: (h: Tensor) => Tensor): Tensor[] {
    return this.proj.items.map((p) => unembed(p.forward(h)));
  }

  /** Adds the head's loss to ctx (when training targets are present); returns h unchanged. */
  forward(h: Tensor, ctx: LayerContext): Tensor {
    if (!ctx.computeLosses || !ctx.targets) return h;
    const { B, T } = ctx;
    const losses = this.proj.items.map((p, o) => {
      const logits = ctx.unembed(p.forward(h)); // [B, T, V]
      const V = logits.shape[2]!;
      const tgt = shiftTargets(ctx.targets!, B, T, o, ctx.ignoreIndex);
      return crossEntropy(reshape(logits, [B * T, V]), tgt, { ignoreIndex: ctx.ignoreIndex });
    });
    const loss = losses.length === 1 ? losses[0]! : mean(stack(losses, 0));
    ctx.mtp.push({ loss, weight: this.spec.lossWeight });
    return h;
  }
}
