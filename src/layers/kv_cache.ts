/**
 * Key/value cache of one attention layer for decoding (components.md §5): the keys and values of
 * every position seen so far, [B, L, H_kv, D] each. `KVCache` is the interface the attention layer
 * uses, so a paged cache (fixed-size blocks + block table, MISSION §3) can implement it later;
 * `ContiguousKVCache` is the simple growable implementation (capacity doubling). With
 * `valuesInKeys` it stores keys only and serves each value as the first Dv channels of its key
 * (MLA's latent cache, src/layers/mla.ts: key [c_kv ; k_rope], value c_kv), so the shared part is
 * held once.
 * Cached tensors are detached copies: the cache is inference state, never part of a graph.
 */
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type DType } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import type { LayerState } from "./context.js";

export interface KVCache {
  /** Positions held (the next token's position). */
  readonly length: number;
  /** Appends k [B, T, H_kv, D] and v [B, T, H_kv, Dv] at positions length … length+T−1. */
  append(k: Tensor, v: Tensor): void;
  /** Keys of positions 0 … length−1: [B, length, H_kv, D]. */
  keys(): Tensor;
  /** Values of positions 0 … length−1: [B, length, H_kv, Dv]. */
  values(): Tensor;
  /**
   * Optional (paged caches, whose rows may hold different lengths): the keys row b holds now,
   * positions 0 … n_b−1 (this call's appends included): [1, n_b, H_kv, D]. Without it, rows hold
   * `length` positions each and row b is a slice of `keys()` (the DSA indexer of src/layers/mla.ts).
   */
  rowKeys?(b: number): Tensor;
  /**
   * Optional (paged caches, src/inference/paged/cache.ts): appends k, v and returns the attention
   * of q [B, T, H, D] over each row's cached keys → [B, T, H, Dv]. Rows may hold different lengths
   * (continuous batching); the layer then skips its own length check, keys()/values() and append.
   */
  attend?(q: Tensor, k: Tensor, v: Tensor, opts: AttendOptions): Tensor;
}

export interface AttendOptions {
  window: number;
  sinks: Tensor | null;
  /** Logit scale (default 1/√D of the key). */
  scale?: number;
}

export interface ContiguousKVCacheOptions {
  /** Initial positions per row (grown by doubling; default 16). */
  initialCapacity?: number;
  /**
   * Values are the first Dv channels of each key head (Dv ≤ Dk): only keys are stored, `append`
   * checks v's shape but does not read it, and `values()` is a strided view of the keys.
   */
  valuesInKeys?: boolean;
}

export class ContiguousKVCache implements KVCache {
  private kBuf: Float32Array | Float64Array;
  private vBuf: Float32Array | Float64Array;
  private cap: number;
  readonly valuesInKeys: boolean;
  length = 0;

  constructor(
    readonly B: number,
    readonly heads: number,
    readonly dk: number,
    readonly dv: number,
    readonly dtype: DType,
    opts: ContiguousKVCacheOptions = {},
  ) {
    this.cap = Math.max(1, opts.initialCapacity ?? 16);
    this.valuesInKeys = opts.valuesInKeys ?? false;
    if (this.valuesInKeys && dv > dk) throw new ChimeraError(`kv cache: values in keys needs Dv ≤ Dk (got ${dv} > ${dk})`);
    this.kBuf = allocArray(dtype, B * this.cap * heads * dk);
    this.vBuf = allocArray(dtype, this.valuesInKeys ? 0 : B * this.cap * heads * dv);
  }

  /** Elements stored per position (all rows' kv heads: keys, plus values unless they live in the keys). */
  get elementsPerToken(): number {
    return this.B * this.heads * (this.dk + (this.valuesInKeys ? 0 : this.dv));
  }

  private grow(need: number): void {
    if (need <= this.cap) return;
    let cap = this.cap;
    while (cap < need) cap *= 2;
    const move = (old: Float32Array | Float64Array, w: number): Float32Array | Float64Array => {
      const nb = allocArray(this.dtype, this.B * cap * w);
      for (let b = 0; b < this.B; b++) nb.set(old.subarray(b * this.cap * w, (b * this.cap + this.length) * w), b * cap * w);
      return nb;
    };
    this.kBuf = move(this.kBuf, this.heads * this.dk);
    if (!this.valuesInKeys) this.vBuf = move(this.vBuf, this.heads * this.dv);
    this.cap = cap;
  }

  append(k: Tensor, v: Tensor): void {
    const [B, T, H, D] = k.shape as [number, number, number, number];
    if (B !== this.B || H !== this.heads || D !== this.dk || v.shape[3] !== this.dv || v.shape[1] !== T)
      throw new ChimeraError(
        `kv cache: append of k [${k.shape.join(", ")}], v [${v.shape.join(", ")}] to a cache of [${this.B}, *, ${this.heads}, ${this.dk}/${this.dv}]`,
      );
    this.grow(this.length + T);
    const kd = k.dense();
    const vd = this.valuesInKeys ? null : v.dense();
    const wk = H * D;
    const wv = H * this.dv;
    for (let b = 0; b < B; b++) {
      this.kBuf.set(kd.subarray(b * T * wk, (b + 1) * T * wk), (b * this.cap + this.length) * wk);
      if (vd) this.vBuf.set(vd.subarray(b * T * wv, (b + 1) * T * wv), (b * this.cap + this.length) * wv);
    }
    this.length += T;
  }

  private view(buf: Float32Array | Float64Array, w: number, stride: number, d: number): Tensor {
    // [B, length, H, d] over a [B, cap, H, stride] buffer (contiguous when B = 1 and d = stride)
    return new Tensor(buf, [this.B, this.length, this.heads, d], [this.cap * w, w, stride, 1], 0);
  }

  keys(): Tensor {
    return this.view(this.kBuf, this.heads * this.dk, this.dk, this.dk);
  }

  values(): Tensor {
    if (this.valuesInKeys) return this.view(this.kBuf, this.heads * this.dk, this.dk, this.dv); // first Dv channels of each key
    return this.view(this.vBuf, this.heads * this.dv, this.dv, this.dv);
  }
}

/** Decode state of an attention layer. */
export interface AttentionState extends LayerState {
  readonly kind: "attention";
  cache: KVCache;
}
