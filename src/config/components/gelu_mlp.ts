/**
 * Plain two-layer MLP with GELU (GPT-2; components.md §14): `W_2 GELU(W_1 x + b_1) + b_2`,
 * tanh approximation by default. Parameters: up_proj [h, d], down_proj [d, h] (+ biases).
 */
import type { Obj } from "../reader.js";
import { linear, linearParams, NO_CACHE, whole, type ComponentKind } from "./kind.js";

export interface GeluMlpSpec {
  kind: "gelu_mlp";
  hidden: number;
  bias: boolean;
  /** "tanh" (GPT-2) or "erf" (exact GELU, PyTorch default). */
  approximation: "tanh" | "erf";
}

export function geluMlp(hidden: number, bias = true, approximation: "tanh" | "erf" = "tanh"): GeluMlpSpec {
  return { kind: "gelu_mlp", hidden, bias, approximation };
}

export const geluMlpKind: ComponentKind<GeluMlpSpec> = {
  kind: "gelu_mlp",
  about: "two-layer GELU MLP (GPT-2): down(GELU(up x + b) ) + b",
  parse: (o: Obj) => ({
    kind: "gelu_mlp",
    hidden: o.int("hidden"),
    bias: o.bool("bias", true),
    approximation: o.oneOf("approximation", ["tanh", "erf"] as const, "tanh"),
  }),
  describe: (s) => `gelu_mlp (${s.approximation}) hidden ${s.hidden}${s.bias ? ", bias" : ""}`,
  shapes: (s, env) => [...linear("up_proj", env.dModel, s.hidden, s.bias), ...linear("down_proj", s.hidden, env.dModel, s.bias)],
  params: (s, env) => whole(linearParams(env.dModel, s.hidden, s.bias) + linearParams(s.hidden, env.dModel, s.bias)),
  extraFlops: () => 0,
  cache: () => NO_CACHE,
};
