/**
 * Gated MLPs (components.md §14): SwiGLU `W_down(SiLU(W_gate x) ⊙ W_up x)` (Llama, Qwen, DeepSeek)
 * and, through `gluKind`, GeGLU with tanh-GELU (Gemma). Parameters: gate_proj [h, d],
 * up_proj [h, d], down_proj [d, h] (+ biases [h], [h], [d] when `bias`).
 */
import type { Obj } from "../reader.js";
import { linear, NO_CACHE, whole, type ComponentKind } from "./kind.js";

export interface GluSpec<K extends string> {
  kind: K;
  hidden: number;
  bias: boolean;
}

export type SwigluSpec = GluSpec<"swiglu">;

export function swiglu(hidden: number, bias = false): SwigluSpec {
  return { kind: "swiglu", hidden, bias };
}

/** Parameters of one gated MLP of width `h` at model width `d`. */
export function gluParams(d: number, h: number, bias: boolean): number {
  return 3 * d * h + (bias ? 2 * h + d : 0);
}

/** A gated-MLP kind; `activation` names the gate non-linearity for descriptions. */
export function gluKind<K extends string>(kind: K, activation: string, about: string): ComponentKind<GluSpec<K>> {
  return {
    kind,
    about,
    parse: (o: Obj) => ({ kind, hidden: o.int("hidden"), bias: o.bool("bias", false) }),
    describe: (s) => `${kind} (${activation}) hidden ${s.hidden}${s.bias ? ", bias" : ""}`,
    shapes: (s, env) => [
      ...linear("gate_proj", env.dModel, s.hidden, s.bias),
      ...linear("up_proj", env.dModel, s.hidden, s.bias),
      ...linear("down_proj", s.hidden, env.dModel, s.bias),
    ],
    params: (s, env) => whole(gluParams(env.dModel, s.hidden, s.bias)),
    extraFlops: () => 0,
    cache: () => NO_CACHE,
  };
}

export const swigluKind = gluKind("swiglu", "SiLU", "SwiGLU gated MLP: down(SiLU(gate x) ⊙ up x)");
