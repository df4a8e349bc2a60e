/**
 * Rotary position embedding (components.md §4.1–4.2): no parameters; applied to q and k inside
 * attention. `fraction` < 1 is partial RoPE (Qwen3-Next 0.25: 64 of 256 dims); `scaling` records
 * context extension (linear, YaRN, Llama-3) for the model builder. As a model-level positional
 * kind it is the default for every attention layer; a layer may override it or set `rope: null`
 * (NoPE, SmolLM3 / Trinity).
 */
import type { Obj } from "../reader.js";
import { NO_CACHE, short, type ComponentKind } from "./kind.js";

export type RopeScaling =
  | { kind: "linear"; factor: number }
  | { kind: "yarn"; factor: number; originalContext: number; betaFast: number; betaSlow: number }
  | { kind: "llama3"; factor: number; originalContext: number; lowFreqFactor: number; highFreqFactor: number };

export interface RopeParams {
  theta: number;
  /** Fraction of the head dimension that is rotated (1 = full). */
  fraction: number;
  scaling: RopeScaling | null;
}

export interface RopeSpec extends RopeParams {
  kind: "rope";
}

export function rope(theta: number, fraction = 1, scaling: RopeScaling | null = null): RopeSpec {
  return { kind: "rope", theta, fraction, scaling };
}

function parseScaling(o: Obj): RopeScaling {
  const kind = o.oneOf("kind", ["linear", "yarn", "llama3"] as const);
  const factor = o.num("factor", { min: 1 });
  let s: RopeScaling;
  if (kind === "linear") s = { kind, factor };
  else if (kind === "yarn")
    s = { kind, factor, originalContext: o.int("originalContext"), betaFast: o.num("betaFast", { above: 0 }, 32), betaSlow: o.num("betaSlow", { above: 0 }, 1) };
  else
    s = {
      kind,
      factor,
      originalContext: o.int("originalContext"),
      lowFreqFactor: o.num("lowFreqFactor", { above: 0 }, 1),
      highFreqFactor: o.num("highFreqFactor", { above: 0 }, 4),
    };
  o.done();
  return s;
}

/** Reads theta / fraction / scaling from `o` (which may also hold other fields). */
export function parseRopeParams(o: Obj): RopeParams {
  const theta = o.num("theta", { above: 0 });
  const fraction = o.num("fraction", { above: 0, max: 1 }, 1);
  const sc = o.objOrNull("scaling");
  return { theta, fraction, scaling: sc ? parseScaling(sc) : null };
}

export function describeRope(r: RopeParams): string {
  const parts = [`rope θ=${short(r.theta)}`];
  if (r.fraction !== 1) parts.push(`${Math.round(r.fraction * 100)}% of dims`);
  if (r.scaling) parts.push(`${r.scaling.kind}×${r.scaling.factor}`);
  return parts.join(", ");
}

export const ropeKind: ComponentKind<RopeSpec> = {
  kind: "rope",
  about: "rotary embedding inside attention (no parameters)",
  parse: (o) => ({ kind: "rope", ...parseRopeParams(o) }),
  describe: describeRope,
  shapes: () => [],
  params: () => [],
  extraFlops: () => 0,
  cache: () => NO_CACHE,
};

/**
 * The rotation an attention layer actually applies: its own `rope` when set (null = NoPE), else the
 * model's positional RoPE, else none. Model builders call this instead of re-deriving the rule.
 */
export function effectiveRope(positional: { kind: string }, layerRope: RopeParams | null | undefined): RopeParams | null {
  if (layerRope !== undefined) return layerRope;
  if (positional.kind !== "rope") return null;
  const { theta, fraction, scaling } = positional as RopeSpec;
  return { theta, fraction, scaling };
}
