/**
 * RMSNorm `y = w ⊙ x / sqrt(mean(x²) + eps)` (components.md §1.2), optionally in the
 * zero-centred "(1+w)" form of Gemma / Qwen3-Next (§1.3). Parameters: `weight [width]`.
 */
import type { Obj } from "../reader.js";
import { short, type NormKind } from "./kind.js";

export interface RmsNormSpec {
  kind: "rmsnorm";
  eps: number;
  /** Gain is `(1 + w)` with `w` initialised to 0 (Gemma, Qwen3-Next). Same parameter count. */
  zeroCentered: boolean;
}

export function rmsnorm(eps = 1e-6, zeroCentered = false): RmsNormSpec {
  return { kind: "rmsnorm", eps, zeroCentered };
}

export const rmsnormKind: NormKind<RmsNormSpec> = {
  kind: "rmsnorm",
  about: "RMSNorm: w ⊙ x / sqrt(mean(x²)+eps); weight only",
  parse(o: Obj): RmsNormSpec {
    return { kind: "rmsnorm", eps: o.num("eps", { above: 0, below: 1 }, 1e-6), zeroCentered: o.bool("zeroCentered", false) };
  },
  describe: (s) => `rmsnorm(eps ${short(s.eps)}${s.zeroCentered ? ", 1+w" : ""})`,
  shapes: (_s, width) => [{ name: "weight", shape: [width] }],
  params: (_s, width) => width,
};
