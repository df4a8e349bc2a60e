/**
 * Learned absolute positions (GPT-2 `wpe`, components.md §4.4): `h₀ = E_tok[t] + E_pos[m]`.
 * Parameters: `weight [maxPositions, d]`; a hard context limit of `maxPositions`.
 */
import type { Obj } from "../reader.js";
import { NO_CACHE, whole, type ComponentKind } from "./kind.js";

export interface LearnedPositionsSpec {
  kind: "learned";
  maxPositions: number;
}

export const learnedKind: ComponentKind<LearnedPositionsSpec> = {
  kind: "learned",
  about: "learned absolute position table added to the token embedding",
  parse: (o: Obj) => ({ kind: "learned", maxPositions: o.int("maxPositions") }),
  describe: (s) => `learned absolute (${s.maxPositions} positions)`,
  shapes: (s, env) => [{ name: "weight", shape: [s.maxPositions, env.dModel] }],
  params: (s, env) => whole(s.maxPositions * env.dModel),
  extraFlops: () => 0,
  cache: () => NO_CACHE,
};
