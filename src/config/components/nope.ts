/**
 * No positional encoding (NoPE): order is carried only by the causal mask and, in hybrids, by the
 * recurrent layers. No parameters.
 */
import { NO_CACHE, type ComponentKind } from "./kind.js";

export interface NoPositionsSpec {
  kind: "none";
}

export const noneKind: ComponentKind<NoPositionsSpec> = {
  kind: "none",
  about: "no positional encoding (NoPE)",
  parse: () => ({ kind: "none" }),
  describe: () => "none (NoPE)",
  shapes: () => [],
  params: () => [],
  extraFlops: () => 0,
  cache: () => NO_CACHE,
};
