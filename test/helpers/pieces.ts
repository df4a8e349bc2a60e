/**
 * Feeds x [B, T, d] to a layer in consecutive pieces of the given lengths (which must add up to
 * T), carrying `state` between calls at the right start positions, and returns the outputs joined
 * along T: the incremental side of the "prefill + decode ≡ full forward" layer tests.
 */
import assert from "node:assert/strict";
import type { Layer, LayerState } from "../../src/layers/context.js";
import { layerContext } from "../../src/layers/context.js";
import { concat } from "../../src/ops/shape.js";
import { slice } from "../../src/ops/view.js";
import type { Tensor } from "../../src/tensor/tensor.js";

export function forwardInPieces(m: Layer, x: Tensor, pieces: readonly number[], state: LayerState): Float32Array | Float64Array {
  const B = x.shape[0]!;
  const parts: Tensor[] = [];
  let t = 0;
  for (const n of pieces) {
    parts.push(m.forward(slice(x, 1, t, t + n), layerContext(B, n, { startPos: t }), state));
    t += n;
  }
  assert.equal(t, x.shape[1], "the pieces cover the sequence");
  return concat(parts, 1).dense();
}
