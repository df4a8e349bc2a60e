/**
 * Every parameter tensor of a model, by name and shape, computed from the config alone (no
 * allocation). The model builder instantiates exactly these; `costOf(c).params.total` equals the
 * sum of their sizes (tested for every preset).
 */
import { numel, type ParamShape } from "./components/kind.js";
import type { ModelConfig } from "./types.js";
import { walk } from "./walk.js";

export type { ParamShape };

export function paramShapes(cfg: ModelConfig): ParamShape[] {
  return walk(cfg).flatMap((u) => u.shapes());
}

/** Sum of the sizes of `shapes`. */
export function countShapes(shapes: readonly ParamShape[]): number {
  return shapes.reduce((a, s) => a + numel(s.shape), 0);
}
