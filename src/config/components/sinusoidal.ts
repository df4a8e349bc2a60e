/**
 * Fixed sinusoidal absolute positions (Vaswani et al. 2017): `PE[m, 2i] = sin(m / base^{2i/d})`,
 * `PE[m, 2i+1] = cos(…)`, added to the token embedding. No parameters.
 */
import type { Obj } from "../reader.js";
import { NO_CACHE, type ComponentKind } from "./kind.js";

export interface SinusoidalPositionsSpec {
  kind: "sinusoidal";
  base: number;
}

export const sinusoidalKind: ComponentKind<SinusoidalPositionsSpec> = {
  kind: "sinusoidal",
  about: "fixed sin/cos absolute positions added to the embedding (no parameters)",
  parse: (o: Obj) => ({ kind: "sinusoidal", base: o.num("base", { above: 1 }, 10_000) }),
  describe: (s) => `sinusoidal (base ${s.base})`,
  shapes: () => [],
  params: () => [],
  extraFlops: () => 0,
  cache: () => NO_CACHE,
};
