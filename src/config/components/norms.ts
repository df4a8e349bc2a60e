/**
 * Registry of norm kinds (rmsnorm | layernorm) and the norm *placement* of a residual sublayer:
 * - `pre`:           x ← x + F(N(x))                      (GPT-2 onward, Llama; components.md §2)
 * - `post`:          x ← x + N(F(x))                      (OLMo 2 "reordered norm")
 * - `sandwich`:      x ← x + N_post(F(N_pre(x)))          (Gemma 2/3, Trinity)
 * - `post_residual`: x ← N(x + F(x))                      (original Transformer post-norm)
 * - `none`:          x ← x + F(x)
 * Parameter names: `pre_norm.*` for the input norm, `post_norm.*` for the output norm.
 */
import { ConfigError } from "../../errors.js";
import { closeNames, Obj } from "../reader.js";
import { layernormKind, type LayerNormSpec } from "./layernorm.js";
import { prefixed, type NormKind, type ParamShape } from "./kind.js";
import { rmsnormKind, type RmsNormSpec } from "./rmsnorm.js";

export type NormSpec = RmsNormSpec | LayerNormSpec;

export const NORM_KINDS: Record<NormSpec["kind"], NormKind<NormSpec>> = {
  rmsnorm: rmsnormKind as NormKind<NormSpec>,
  layernorm: layernormKind as NormKind<NormSpec>,
};

export const PLACEMENTS = ["pre", "post", "sandwich", "post_residual", "none"] as const;
export type Placement = (typeof PLACEMENTS)[number];

/** How a residual sublayer is normalised; `norm` is absent only for placement "none". */
export type NormPlacement = { placement: "none" } | ({ placement: Exclude<Placement, "none"> } & NormSpec);

/** Reads `kind` from `o` and checks it against a registry, with a "did you mean" hint. */
export function readKind<K extends string>(o: Obj, known: Record<K, unknown>, what: string): K {
  const names = Object.keys(known);
  const k = o.str("kind");
  if (!names.includes(k)) {
    const near = closeNames(k, names, 1);
    throw new ConfigError(
      o.at("kind"),
      `unknown ${what} kind '${k}' (known: ${names.join(", ")})${near.length ? `; did you mean '${near[0]}'?` : ""}`,
    );
  }
  return k as K;
}

export function parseNorm(o: Obj): NormSpec {
  const kind = readKind(o, NORM_KINDS, "norm");
  const spec = NORM_KINDS[kind].parse(o);
  o.done();
  return spec;
}

/** Parses a placement object: `{placement, kind, eps, …}`. */
export function parsePlacement(o: Obj): NormPlacement {
  const placement = o.oneOf("placement", PLACEMENTS);
  if (placement === "none") {
    o.done();
    return { placement };
  }
  const kind = readKind(o, NORM_KINDS, "norm");
  const spec = NORM_KINDS[kind].parse(o);
  o.done();
  return { placement, ...spec };
}

/** The norm spec inside a placement (drops the `placement` field). */
export function placementNorm(p: NormPlacement): NormSpec | null {
  if (p.placement === "none") return null;
  const { placement: _placement, ...norm } = p;
  return norm as NormSpec;
}

export function describeNorm(n: NormSpec): string {
  return NORM_KINDS[n.kind].describe(n);
}

export function normShapes(n: NormSpec, width: number, prefix: string): ParamShape[] {
  return prefixed(prefix, NORM_KINDS[n.kind].shapes(n, width));
}

export function normParams(n: NormSpec, width: number): number {
  return NORM_KINDS[n.kind].params(n, width);
}

/** Norm tensors of a placement at width `d`: `pre_norm.*` and/or `post_norm.*`. */
export function placementShapes(p: NormPlacement, d: number): ParamShape[] {
  const n = placementNorm(p);
  if (!n) return [];
  const pre = p.placement === "pre" || p.placement === "sandwich";
  const post = p.placement === "post" || p.placement === "sandwich" || p.placement === "post_residual";
  return [...(pre ? normShapes(n, d, "pre_norm") : []), ...(post ? normShapes(n, d, "post_norm") : [])];
}

export function placementParams(p: NormPlacement, d: number): number {
  const n = placementNorm(p);
  if (!n) return 0;
  return (p.placement === "sandwich" ? 2 : 1) * normParams(n, d);
}

export function describePlacement(p: NormPlacement): string {
  const n = placementNorm(p);
  return n ? `${p.placement} ${describeNorm(n)}` : "no norm";
}
