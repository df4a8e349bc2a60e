/**
 * GeGLU gated MLP (Gemma; components.md §14): `W_down(GELU_tanh(W_gate x) ⊙ W_up x)`.
 * Same parameters as SwiGLU: gate_proj [h, d], up_proj [h, d], down_proj [d, h].
 */
import { gluKind, type GluSpec } from "./swiglu.js";

export type GegluSpec = GluSpec<"geglu">;

export function geglu(hidden: number, bias = false): GegluSpec {
  return { kind: "geglu", hidden, bias };
}

export const gegluKind = gluKind("geglu", "GELU-tanh", "GeGLU gated MLP: down(GELU_tanh(gate x) ⊙ up x)");
