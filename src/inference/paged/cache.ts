/**
 * `PagedKVCache`: the attention layer's `KVCache` interface (src/layers/kv_cache.ts) over a paged
 * pool, for one attention layer and a batch of sequences (row b ↔ seqs[b]). It is built per
 * forward call by the inference engine; the sequences advance (`PagedSequence.advance`) after
 * the whole model has run, so every layer of one call writes at the same positions.
 *
 * `attend` (the path the attention layer takes when the cache has it): writes the call's k, v
 * into the blocks (allocating on demand, copy-on-write on shared blocks), then
 *   - decode / short calls (T < PREFILL_T): paged attention, reading keys through the block table
 *     (float64 softmax in TypeScript); with the native backend on float32, the prefill path below
 *     (held keys gathered + the call's own, native fused attention) runs instead, several times
 *     faster for a few queries over a long history (decode steps and speculative verify passes
 *     take the same path, so their numerics agree);
 *   - prefill (T ≥ PREFILL_T): the fused attention op (src/ops/attention.ts) on the row's keys —
 *     the call's own k, v when the row was empty, else the held prefix gathered + the new keys.
 * Rows may hold different lengths (continuous batching). `keys()` / `values()` / `append` are the
 * plain interface (gathering copies) for callers that do not use `attend`; `rowKeys(b)` gathers
 * one row (ragged batches; the DSA layer reads its held keys this way).
 */
import { Tensor } from "../../tensor/tensor.js";
import { allocArray } from "../../tensor/dtype.js";
import { attention } from "../../ops/attention.js";
import { concat } from "../../ops/shape.js";
import { needsGrad } from "../../autograd/node.js";
import { backendName } from "../../backend/index.js";
import { ChimeraError } from "../../errors.js";
import type { AttendOptions, KVCache } from "../../layers/kv_cache.js";
import { gatherKV, pagedAttention, scatterKV } from "./attention.js";
import type { PagedKVPool } from "./pool.js";
import type { PagedSequence } from "./sequence.js";

/** Calls with at least this many tokens per row use the fused attention op (prefill). */
export const PREFILL_T = 8;

export class PagedKVCache implements KVCache {
  /** Positions this layer has written during the current call (beyond seq.length). */
  private appended = 0;

  constructor(
    readonly pool: PagedKVPool,
    readonly layer: number,
    readonly seqs: readonly PagedSequence[],
  ) {
    if (layer < 0 || layer >= pool.layers.length) throw new ChimeraError(`paged kv cache: layer ${layer} is not in the pool (${pool.layers.length} layers)`);
  }

  /** Positions held per row, including this call's writes. */
  rowLengths(): number[] {
    return this.seqs.map((s) => s.length + this.appended);
  }

  get length(): number {
    const l = this.rowLengths();
    if (l.some((x) => x !== l[0])) throw new ChimeraError(`paged kv cache: rows hold different lengths (${l.join(", ")}); use attend()`);
    return l[0] ?? 0;
  }

  append(k: Tensor, v: Tensor): void {
    const [B, T, H, D] = k.shape as [number, number, number, number];
    const L = this.pool.layers[this.layer]!;
    if (B !== this.seqs.length || H !== L.heads || D !== L.headDim || v.shape[1] !== T || v.shape[2] !== H || v.shape[3] !== L.valueDim)
      throw new ChimeraError(
        `paged kv cache: append of k [${k.shape.join(", ")}], v [${v.shape.join(", ")}] to layer ${this.layer} of [${this.seqs.length}, *, ${L.heads}, ${L.headDim}/${L.valueDim}]`,
      );
    const kd = k.dense();
    const vd = L.valuesInKeys ? kd : v.dense(); // a valuesInKeys layer stores keys only
    const wk = H * D;
    const wv = H * L.valueDim;
    this.seqs.forEach((s, b) => {
      s.reserve(this.appended + T); // on demand; a no-op when the engine reserved already
      scatterKV(this.pool, this.layer, s, s.length + this.appended, T, kd, b * T * wk, vd, b * T * wv);
    });
    this.appended += T;
  }

  private gathered(which: "k" | "v"): Tensor {
    const n = this.length;
    const L = this.pool.layers[this.layer]!;
    const w = L.heads * (which === "k" ? L.headDim : L.valueDim);
    const out = allocArray(this.pool.dtype, this.seqs.length * n * w);
    this.seqs.forEach((s, b) => out.set(gatherKV(this.pool, this.layer, s, 0, n)[which], b * n * w));
    return new Tensor(out, [this.seqs.length, n, L.heads, which === "k" ? L.headDim : L.valueDim]);
  }

  keys(): Tensor {
    return this.gathered("k");
  }

  values(): Tensor {
    return this.gathered("v");
  }

  /** Row b's keys, positions 0 … its length (this call's writes included) − 1: [1, n_b, H_kv, D] (a copy). */
  rowKeys(b: number): Tensor {
    const seq = this.seqs[b];
    if (!seq) throw new ChimeraError(`paged kv cache: row ${b} of a batch of ${this.seqs.length}`);
    const L = this.pool.layers[this.layer]!;
    const n = seq.length + this.appended;
    return new Tensor(gatherKV(this.pool, this.layer, seq, 0, n).k, [1, n, L.heads, L.headDim]);
  }

  attend(q: Tensor, k: Tensor, v: Tensor, opts: AttendOptions): Tensor {
    if (needsGrad(q, k, v, opts.sinks)) throw new ChimeraError("paged kv cache: attention over the paged cache is inference-only (run under noGrad)");
    const [B, T, Hq, D] = q.shape as [number, number, number, number];
    const L = this.pool.layers[this.layer]!;
    if (B !== this.seqs.length) throw new ChimeraError(`paged kv cache: q [${q.shape.join(", ")}] for a batch of ${this.seqs.length} sequences`);
    if (D !== L.headDim) throw new ChimeraError(`paged kv cache: q head dim ${D} vs the cache's ${L.headDim}`);
    const starts = this.rowLengths();
    this.append(k, v);
    if (T < PREFILL_T && !(this.pool.dtype === "float32" && backendName() === "native")) {
      const out = pagedAttention({
        pool: this.pool,
        layer: this.layer,
        q: q.dense(),
        B,
        Tq: T,
        Hq,
        seqs: this.seqs,
        kvLen: starts.map((s) => s + T),
        qStart: starts,
        window: opts.window,
        sinks: opts.sinks ? opts.sinks.dense() : null,
        scale: opts.scale,
      });
      return new Tensor(out, [B, T, Hq, L.valueDim]);
    }
    // prefill, and short calls on the native float32 backend: fused attention per row over
    // [held prefix ; new keys]
    const rows: Tensor[] = [];
    const qd = q.dense();
    const kd = k.dense();
    const vd = v.dense();
    const wq = T * Hq * D;
    const wk = T * L.heads * L.headDim;
    const wv = T * L.heads * L.valueDim;
    for (let b = 0; b < B; b++) {
      const start = starts[b]!;
      const seq = this.seqs[b]!;
      const lo = opts.window > 0 ? Math.max(0, start - opts.window + 1) : 0; // oldest key row 0 can see
      const kNew = new Tensor(kd.subarray(b * wk, (b + 1) * wk), [1, T, L.heads, L.headDim]);
      const vNew = new Tensor(vd.subarray(b * wv, (b + 1) * wv), [1, T, L.heads, L.valueDim]);
      let keys = kNew;
      let values = vNew;
      if (start > lo) {
        const held = gatherKV(this.pool, this.layer, seq, lo, start);
        keys = concat([new Tensor(held.k, [1, start - lo, L.heads, L.headDim]), kNew], 1);
        values = concat([new Tensor(held.v, [1, start - lo, L.heads, L.valueDim]), vNew], 1);
      }
      const qb = new Tensor(qd.subarray(b * wq, (b + 1) * wq), [1, T, Hq, D]);
      // key index j of `keys` is absolute position lo + j, so queries start at start − lo
      rows.push(attention(qb, keys, values, { causal: true, window: opts.window, sinks: opts.sinks, scale: opts.scale, qStart: start - lo }));
    }
    return rows.length === 1 ? rows[0]! : concat(rows, 0);
  }
}
