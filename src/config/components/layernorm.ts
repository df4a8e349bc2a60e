/**
 * LayerNorm `y = γ ⊙ (x − μ)/sqrt(σ² + eps) + β` with the biased variance (components.md §1.1).
 * Parameters: `weight [width]`, and `bias [width]` unless `bias` is false.
 */
import type { Obj } from "../reader.js";
import { short, type NormKind, type ParamShape } from "./kind.js";

export interface LayerNormSpec {
  kind: "layernorm";
  eps: number;
  bias: boolean;
}

export function layernorm(eps = 1e-5, bias = true): LayerNormSpec {
  return { kind: "layernorm", eps, bias };
}

export const layernormKind: NormKind<LayerNormSpec> = {
  kind: "layernorm",
  about: "LayerNorm: γ ⊙ (x−μ)/sqrt(σ²+eps) + β; weight and optional bias",
  parse(o: Obj): LayerNormSpec {
    return { kind: "layernorm", eps: o.num("eps", { above: 0, below: 1 }, 1e-5), bias: o.bool("bias", true) };
  },
  describe: (s) => `layernorm(eps ${short(s.eps)}${s.bias ? "" : ", no bias"})`,
  shapes(s, width) {
    const out: ParamShape[] = [{ name: "weight", shape: [width] }];
    if (s.bias) out.push({ name: "bias", shape: [width] });
    return out;
  },
  params: (s, width) => (s.bias ? 2 * width : width),
};
