/** Paged KV cache (PagedAttention, arXiv 2309.06180): allocator, pool, sequences, attention, KVCache adapter. */
export { BlockAllocator, PoolExhaustedError } from "./allocator.js";
export { PagedKVPool, type KvLayerSpec, type PagedPoolOptions, type CacheGroup } from "./pool.js";
export { PagedSequence } from "./sequence.js";
export { pagedAttention, gatherKV, scatterKV, type PagedAttentionArgs } from "./attention.js";
export { PagedKVCache, PREFILL_T } from "./cache.js";
