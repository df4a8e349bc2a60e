/**
 * Decode state of a whole model: one entry per sublayer of every block (a `KVCache` for attention
 * layers, recurrent S + conv state for Gated DeltaNet, null for stateless sublayers) and the number
 * of positions already consumed. `CausalLM.forward(ids, B, T, {state})` continues from `pos` and
 * advances it by T. All B sequences advance together.
 */
import type { LayerState } from "../layers/context.js";

export class DecodeState {
  /** Positions consumed so far (the absolute position of the next token). */
  pos = 0;

  constructor(
    readonly B: number,
    /** layers[i][j]: state of sublayer j of block i. */
    readonly layers: (LayerState | null)[][],
  ) {}
}
