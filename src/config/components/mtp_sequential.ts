/**
 * DeepSeek-V3-style sequential MTP module (arXiv 2412.19437 §2.2; components.md §16.1), placed
 * after the main stack. Module k (k = 0…D−1) predicts token t+k+2:
 *   h' = eh_proj([enorm(Emb(t_{i+k+1})) ; hnorm(h^{k−1}_i)])     (embedding first, as the released code)
 *   h^k = Block(h');   logits = SharedHead(head_norm(h^k))
 * with the embedding and unembedding shared with the main model. This file holds the module's own
 * parameters; its block is walked like any other block (see walk.ts).
 * Parameters per module: enorm [d], hnorm [d], eh_proj [d, 2d], head_norm [d], + the block.
 */
import type { ParamShape } from "./kind.js";
import { normParams, normShapes, type NormSpec } from "./norms.js";

export function sequentialMtpOwnShapes(norm: NormSpec, d: number): ParamShape[] {
  return [
    ...normShapes(norm, d, "enorm"),
    ...normShapes(norm, d, "hnorm"),
    { name: "eh_proj.weight", shape: [d, 2 * d] },
    ...normShapes(norm, d, "head_norm"),
  ];
}

export function sequentialMtpOwnParams(norm: NormSpec, d: number): number {
  return 3 * normParams(norm, d) + 2 * d * d;
}
