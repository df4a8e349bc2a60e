/**
 * What a sublayer component sees besides its input: the batch geometry, the absolute position of
 * the first token (decode continues from a state), train/eval mode, and collectors for the losses
 * that components add beside the main cross-entropy (MoE balance terms, MTP heads).
 *
 * Components: x [B, T, d] → [B, T, d]. A component with decode state implements `newState` and
 * reads/updates its own `LayerState` (KV cache, recurrent state); stateless ones ignore it.
 */
import { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";

export interface LayerContext {
  B: number;
  T: number;
  /** Absolute position of token 0 of this call (tokens already held by the decode state). */
  startPos: number;
  /** Absolute positions startPos … startPos+T−1. */
  positions: Int32Array;
  training: boolean;
  /** Compute training losses (MoE aux terms, MTP heads): true when targets were given. */
  computeLosses: boolean;
  /** Next-token targets [B·T] (targets[t] = ids[t+1] in the usual layout), or null. */
  targets: Int32Array | null;
  /** Ignore index of the targets. */
  ignoreIndex: number;
  /** The model's shared unembedding: h [..., d] → logits [..., V] (for MTP heads). */
  unembed: (h: Tensor) => Tensor;
  /** Weighted auxiliary losses added to the total (MoE load balance + z-loss), scalars. */
  aux: Tensor[];
  /** MTP losses: unweighted mean cross-entropy of one head, with its weight λ. */
  mtp: { loss: Tensor; weight: number }[];
}

/** Per-layer decode state (KV cache, recurrent state). */
export interface LayerState {
  readonly kind: string;
}

/** A sublayer component (attention / DeltaNet / FFN / MTP head): x [B, T, d] → [B, T, d]. */
export abstract class Layer extends Module {
  /** True for side branches (MTP heads): their output is not added to the residual stream. */
  readonly sideBranch: boolean = false;
  abstract forward(x: Tensor, ctx: LayerContext, state: LayerState | null): Tensor;
  /** Fresh decode state for a batch of B sequences; null for stateless components. */
  newState(_B: number, _dtype: DType): LayerState | null {
    return null;
  }
}

/** A context for calling a layer on its own (tests, tools): positions from `startPos`, no targets. */
export function layerContext(B: number, T: number, opts: Partial<LayerContext> = {}): LayerContext {
  const startPos = opts.startPos ?? 0;
  const positions = new Int32Array(T);
  for (let t = 0; t < T; t++) positions[t] = startPos + t;
  return {
    B,
    T,
    startPos,
    positions,
    training: false,
    computeLosses: false,
    targets: null,
    ignoreIndex: -100,
    unembed: () => {
      throw new Error("layerContext: no unembedding in a standalone context");
    },
    aux: [],
    mtp: [],
    ...opts,
  };
}
