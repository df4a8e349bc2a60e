/**
 * The shared storage of a paged KV cache (PagedAttention, arXiv 2309.06180; components.md §23).
 *
 * Attention layers are grouped by their window (0 = full attention, W > 0 = sliding window):
 * every layer of a group uses the same block table, so one block id holds `blockSize` tokens of
 * keys and values for every layer of its group, and a token needs one allocation per group, not
 * one per layer. Each group has its own `BlockAllocator` (its own free list and refcounts), so
 * sliding-window groups, which release blocks that fall out of their window, never compete with
 * the full-attention group for blocks.
 *
 * Storage per layer l (group g): K [numBlocks_g, blockSize, H_l, D_l], V [numBlocks_g, blockSize,
 * H_l, Dv_l], dense. A layer with `valuesInKeys` (MLA's latent cache) has no V storage: its value
 * is the first Dv channels of each key. Token position p of a sequence lives in logical block
 * ⌊p/bs⌋ at slot p mod bs.
 * Gated DeltaNet layers are not here: their recurrent + conv state is fixed-size per sequence.
 */
import { allocArray, bytesPerElement, type Arr, type DType } from "../../tensor/dtype.js";
import { ChimeraError } from "../../errors.js";
import { BlockAllocator } from "./allocator.js";

/** One attention layer's KV geometry. */
export interface KvLayerSpec {
  /** KV heads. */
  heads: number;
  /** Key head dim. */
  headDim: number;
  /** Value head dim (default headDim). */
  valueDim?: number;
  /** Sliding window W (keys p−W+1 … p visible to query p); 0 = full attention. */
  window: number;
  /**
   * The value of each kv head is the first valueDim channels of its key (MLA: key [c_kv ; k_rope],
   * value c_kv), so no value storage is kept (default false).
   */
  valuesInKeys?: boolean;
}

export interface PagedPoolOptions {
  /** The model's attention layers, in order (index = the cache's layer id). */
  layers: KvLayerSpec[];
  /** Tokens per block (default 16, vLLM's default). */
  blockSize?: number;
  /** Blocks of the full-attention group. */
  numBlocks: number;
  /** Blocks of each sliding-window group (default: numBlocks). */
  slidingBlocks?: number;
  dtype?: DType;
  /**
   * Positions a sequence may be truncated back by after growing (speculative decoding rolls back
   * rejected drafts): sliding-window layers keep that many extra keys before releasing blocks.
   */
  maxRollback?: number;
}

export interface CacheGroup {
  readonly index: number;
  readonly window: number;
  /** Attention-layer ids in this group. */
  readonly layers: number[];
  readonly allocator: BlockAllocator;
}

export class PagedKVPool {
  readonly blockSize: number;
  readonly dtype: DType;
  readonly maxRollback: number;
  readonly layers: readonly Required<KvLayerSpec>[];
  readonly groups: CacheGroup[] = [];
  /** Group of each layer. */
  readonly layerGroup: Int32Array;
  /** Per layer: keys [blocks, bs, H, D] and values [blocks, bs, H, Dv]. */
  readonly k: Arr[] = [];
  readonly v: Arr[] = [];

  constructor(opts: PagedPoolOptions) {
    const bs = opts.blockSize ?? 16;
    if (!Number.isInteger(bs) || bs < 1) throw new ChimeraError(`paged kv cache: blockSize must be a positive integer, got ${bs}`);
    if (opts.layers.length === 0) throw new ChimeraError("paged kv cache: a pool needs at least one attention layer");
    this.blockSize = bs;
    this.dtype = opts.dtype ?? "float32";
    this.maxRollback = opts.maxRollback ?? 0;
    this.layers = opts.layers.map((l, i) => {
      const valueDim = l.valueDim ?? l.headDim;
      if (!(l.heads >= 1 && l.headDim >= 1 && Number.isInteger(l.window) && l.window >= 0) || (l.valuesInKeys && !(valueDim <= l.headDim)))
        throw new ChimeraError(`paged kv cache: layer ${i} has an invalid geometry ${JSON.stringify(l)}`);
      return { heads: l.heads, headDim: l.headDim, valueDim, window: l.window, valuesInKeys: l.valuesInKeys ?? false };
    });
    this.layerGroup = new Int32Array(this.layers.length);
    const byWindow = new Map<number, number[]>();
    this.layers.forEach((l, i) => {
      const g = byWindow.get(l.window) ?? [];
      g.push(i);
      byWindow.set(l.window, g);
    });
    for (const [window, layers] of [...byWindow.entries()].sort((a, b) => a[0] - b[0])) {
      const n = window === 0 ? opts.numBlocks : (opts.slidingBlocks ?? opts.numBlocks);
      const g: CacheGroup = { index: this.groups.length, window, layers, allocator: new BlockAllocator(n) };
      this.groups.push(g);
      for (const l of layers) this.layerGroup[l] = g.index;
    }
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const n = this.groups[this.layerGroup[i]!]!.allocator.numBlocks;
      this.k.push(allocArray(this.dtype, n * bs * l.heads * l.headDim));
      this.v.push(allocArray(this.dtype, l.valuesInKeys ? 0 : n * bs * l.heads * l.valueDim));
    }
  }

  /** Bytes of KV storage the pool holds (allocated up front). */
  get storageBytes(): number {
    let n = 0;
    for (let i = 0; i < this.k.length; i++) n += this.k[i]!.length + this.v[i]!.length;
    return n * bytesPerElement(this.dtype);
  }

  /** Bytes one token occupies in one block slot across the layers of a group. */
  groupTokenBytes(g: number): number {
    let n = 0;
    for (const l of this.groups[g]!.layers) {
      const L = this.layers[l]!;
      n += L.heads * (L.headDim + (L.valuesInKeys ? 0 : L.valueDim));
    }
    return n * bytesPerElement(this.dtype);
  }

  /** Copies physical block `src` to `dst` in every layer of group g (copy-on-write). */
  copyBlock(g: number, src: number, dst: number): void {
    const bs = this.blockSize;
    for (const l of this.groups[g]!.layers) {
      const L = this.layers[l]!;
      const wk = bs * L.heads * L.headDim;
      const wv = bs * L.heads * L.valueDim;
      this.k[l]!.copyWithin(dst * wk, src * wk, (src + 1) * wk);
      if (!L.valuesInKeys) this.v[l]!.copyWithin(dst * wv, src * wv, (src + 1) * wv);
    }
  }

  /** Blocks in use / total, per group. */
  usage(): { window: number; used: number; total: number }[] {
    return this.groups.map((g) => ({ window: g.window, used: g.allocator.numUsed, total: g.allocator.numBlocks }));
  }
}
