/**
 * Attention over a paged KV cache (PagedAttention, arXiv 2309.06180; components.md §5–7, §23):
 * each query reads its sequence's keys and values through the block table — position j lives in
 * physical block table[⌊j/bs⌋] at slot j mod bs — so nothing is gathered into a contiguous
 * buffer. Rows of the batch may hold different numbers of positions (continuous batching).
 *
 * Shapes: q [B, Tq, Hq, D] (dense) → out [B, Tq, Hq, Dv]. A layer with `valuesInKeys` (MLA) reads
 * each value as the first Dv channels of its key row. Row b's query t sits at absolute
 * position qStart[b] + t and sees keys j ≤ that position (causal), j < kvLen[b], and, with a
 * window W > 0, position − j < W. Query head h reads kv head ⌊h/(Hq/Hkv)⌋. Optional per-head sink
 * logits [Hq] join the softmax denominator with no value (gpt-oss). The softmax is computed in
 * float64 per row (two passes over the visible keys: max, then exp-weighted sum).
 *
 * Inference only: no autograd graph is recorded. `gatherKV` copies one sequence's keys/values
 * into contiguous [L, H, D] arrays (reference for tests, and the prefill path that feeds the fused
 * attention op).
 */
import { allocArray, type Arr } from "../../tensor/dtype.js";
import { ChimeraError } from "../../errors.js";
import type { PagedKVPool } from "./pool.js";
import type { PagedSequence } from "./sequence.js";

export interface PagedAttentionArgs {
  pool: PagedKVPool;
  /** Attention-layer id in the pool. */
  layer: number;
  /** Queries [B, Tq, Hq, D], dense row-major. */
  q: Arr;
  B: number;
  Tq: number;
  Hq: number;
  /** Row b reads sequence seqs[b]. */
  seqs: readonly PagedSequence[];
  /** Keys written for row b (positions 0 … kvLen[b]−1). */
  kvLen: ArrayLike<number>;
  /** Absolute position of row b's query 0. */
  qStart: ArrayLike<number>;
  /** Sliding window (0 = none). */
  window: number;
  /** Per-head sink logits [Hq] or null. */
  sinks: Arr | null;
  /** Logit scale (default 1/√D). */
  scale?: number;
}

export function pagedAttention(a: PagedAttentionArgs): Arr {
  const { pool, layer, q, B, Tq, Hq, seqs, kvLen, qStart, window, sinks } = a;
  const L = pool.layers[layer];
  if (!L) throw new ChimeraError(`pagedAttention: layer ${layer} is not in the pool (${pool.layers.length} layers)`);
  const Hkv = L.heads;
  const D = L.headDim;
  const Dv = L.valueDim;
  if (q.length !== B * Tq * Hq * D) throw new ChimeraError(`pagedAttention: q has ${q.length} elements, expected [${B}, ${Tq}, ${Hq}, ${D}]`);
  if (Hq % Hkv !== 0) throw new ChimeraError(`pagedAttention: query heads ${Hq} must be a multiple of kv heads ${Hkv}`);
  if (seqs.length !== B) throw new ChimeraError(`pagedAttention: ${seqs.length} sequences for a batch of ${B}`);
  const g = pool.layerGroup[layer]!;
  const bs = pool.blockSize;
  const K = pool.k[layer]!;
  const V = L.valuesInKeys ? K : pool.v[layer]!;
  const scale = a.scale ?? 1 / Math.sqrt(D);
  const rep = Hq / Hkv;
  const out = allocArray(q instanceof Float64Array ? "float64" : "float32", B * Tq * Hq * Dv);
  let scores = new Float64Array(64 * rep);
  const acc = new Float64Array(rep * Dv);
  const mx = new Float64Array(rep);
  const den = new Float64Array(rep);
  const wk = Hkv * D; // elements per slot (all kv heads)
  const wv = L.valuesInKeys ? wk : Hkv * Dv;
  const hv = L.valuesInKeys ? D : Dv; // offset of one kv head's value within a slot
  for (let b = 0; b < B; b++) {
    const table = seqs[b]!.tables[g]!;
    const n = kvLen[b]!;
    for (let t = 0; t < Tq; t++) {
      const pos = qStart[b]! + t;
      const hi = Math.min(pos, n - 1);
      const lo = window > 0 ? Math.max(0, pos - window + 1) : 0;
      const cnt = hi - lo + 1;
      if (cnt * rep > scores.length) scores = new Float64Array(Math.max(cnt * rep, 2 * scores.length));
      // the `rep` query heads of one kv head read each key / value row once
      for (let kvh = 0; kvh < Hkv; kvh++) {
        const h0 = kvh * rep;
        for (let r = 0; r < rep; r++) mx[r] = sinks ? sinks[h0 + r]! : -Infinity;
        const qBase = ((b * Tq + t) * Hq + h0) * D;
        // pass 1: logits, block by block through the table
        for (let j = lo; j <= hi; ) {
          const blk = Math.floor(j / bs);
          const phys = table[blk];
          if (phys === undefined || phys < 0) throw new ChimeraError(`pagedAttention: position ${j} of sequence ${seqs[b]!.id} is not held (released or never written)`);
          const end = Math.min(hi, (blk + 1) * bs - 1);
          let ko = (phys * bs + (j - blk * bs)) * wk + kvh * D;
          for (; j <= end; j++, ko += wk) {
            for (let r = 0; r < rep; r++) {
              const qo = qBase + r * D;
              let sdot = 0;
              for (let d = 0; d < D; d++) sdot += q[qo + d]! * K[ko + d]!;
              sdot *= scale;
              scores[r * cnt + j - lo] = sdot;
              if (sdot > mx[r]!) mx[r] = sdot;
            }
          }
        }
        // pass 2: exp-weighted values
        acc.fill(0);
        for (let r = 0; r < rep; r++) den[r] = sinks && mx[r]! > -Infinity ? Math.exp(sinks[h0 + r]! - mx[r]!) : 0;
        if (cnt > 0)
          for (let j = lo; j <= hi; ) {
            const blk = Math.floor(j / bs);
            const phys = table[blk]!;
            const end = Math.min(hi, (blk + 1) * bs - 1);
            let vo = (phys * bs + (j - blk * bs)) * wv + kvh * hv;
            for (; j <= end; j++, vo += wv)
              for (let r = 0; r < rep; r++) {
                if (mx[r] === -Infinity) continue;
                const p = Math.exp(scores[r * cnt + j - lo]! - mx[r]!);
                den[r] += p;
                const ao = r * Dv;
                for (let d = 0; d < Dv; d++) acc[ao + d] += p * V[vo + d]!;
              }
          }
        for (let r = 0; r < rep; r++) {
          const oo = ((b * Tq + t) * Hq + h0 + r) * Dv;
          const inv = cnt > 0 && mx[r]! > -Infinity && den[r]! > 0 ? 1 / den[r]! : 0;
          for (let d = 0; d < Dv; d++) out[oo + d] = acc[r * Dv + d]! * inv;
        }
      }
    }
  }
  return out;
}

/** Keys and values of positions from … to−1 of one sequence, contiguous: [to−from, H, D] / [to−from, H, Dv]. */
export function gatherKV(pool: PagedKVPool, layer: number, seq: PagedSequence, from: number, to: number): { k: Arr; v: Arr } {
  const L = pool.layers[layer]!;
  const g = pool.layerGroup[layer]!;
  const bs = pool.blockSize;
  const wk = L.heads * L.headDim;
  const wv = L.heads * L.valueDim;
  const n = Math.max(0, to - from);
  const k = allocArray(pool.dtype, n * wk);
  const v = allocArray(pool.dtype, n * wv);
  const shared = L.valuesInKeys;
  for (let p = from; p < to; ) {
    const blk = Math.floor(p / bs);
    const phys = seq.tables[g]![blk];
    if (phys === undefined || phys < 0) throw new ChimeraError(`gatherKV: position ${p} of sequence ${seq.id} is not held (released or never written)`);
    const end = Math.min(to, (blk + 1) * bs);
    const cnt = end - p;
    const src = phys * bs + (p % bs);
    k.set(pool.k[layer]!.subarray(src * wk, (src + cnt) * wk), (p - from) * wk);
    if (!shared) v.set(pool.v[layer]!.subarray(src * wv, (src + cnt) * wv), (p - from) * wv);
    p = end;
  }
  if (shared) {
    // values: the first Dv channels of each key head
    const { heads: H, headDim: D, valueDim: Dv } = L;
    for (let r = 0; r < n * H; r++) v.set(k.subarray(r * D, r * D + Dv), r * Dv);
  }
  return { k, v };
}

/** Writes rows of k [T, H, D] / v [T, H, Dv] (dense, starting at element offsets) at positions from … from+T−1 (v unread for a `valuesInKeys` layer). */
export function scatterKV(pool: PagedKVPool, layer: number, seq: PagedSequence, from: number, T: number, k: Arr, kOff: number, v: Arr, vOff: number): void {
  const L = pool.layers[layer]!;
  const g = pool.layerGroup[layer]!;
  const bs = pool.blockSize;
  const wk = L.heads * L.headDim;
  const wv = L.heads * L.valueDim;
  for (let p = from; p < from + T; ) {
    const blk = Math.floor(p / bs);
    const phys = seq.tables[g]![blk];
    if (phys === undefined || phys < 0) throw new ChimeraError(`scatterKV: position ${p} of sequence ${seq.id} has no block (reserve first)`);
    const end = Math.min(from + T, (blk + 1) * bs);
    const cnt = end - p;
    const dst = phys * bs + (p % bs);
    const r = p - from;
    pool.k[layer]!.set(k.subarray(kOff + r * wk, kOff + (r + cnt) * wk), dst * wk);
    if (!L.valuesInKeys) pool.v[layer]!.set(v.subarray(vOff + r * wv, vOff + (r + cnt) * wv), dst * wv);
    p = end;
  }
}
