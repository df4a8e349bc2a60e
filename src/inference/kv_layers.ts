/**
 * Which sublayer components keep keys and values in the paged pool, and in what layout: GQA
 * (K kv heads × head dim, optional sliding window) and MLA (one latent row per token, values
 * inside the keys). Shared by the engine's main stack and the sequential MTP modules' caches.
 */
import { GroupedQueryAttention } from "../layers/attention.js";
import { MultiHeadLatentAttention } from "../layers/mla.js";
import type { Layer } from "../layers/context.js";
import type { KvLayerSpec } from "./paged/index.js";

/** The paged-pool layout of a component, or null when it keeps no KV pages. */
export function pagedKvSpec(c: Layer): KvLayerSpec | null {
  if (c instanceof GroupedQueryAttention) return { heads: c.spec.numKvHeads, headDim: c.spec.headDim, window: c.spec.slidingWindow ?? 0 };
  if (c instanceof MultiHeadLatentAttention) return c.kvLayerSpec();
  return null;
}
