import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { attention } from "../../src/ops/attention.js";
import { noGrad } from "../../src/autograd/node.js";
import { BlockAllocator, PagedKVPool, PagedSequence, PagedKVCache, pagedAttention, gatherKV, PoolExhaustedError } from "../../src/inference/paged/index.js";
import { randn64, assertClose } from "../helpers/gradcheck.js";

function randT(shape: number[], seed: number): Tensor {
  return randn64(shape, seed);
}

/** Writes T random tokens of k/v into a sequence through a PagedKVCache; returns them [1, T, H, D]. */
function fill(pool: PagedKVPool, layer: number, seq: PagedSequence, T: number, seed: number): { k: Tensor; v: Tensor } {
  const L = pool.layers[layer]!;
  const k = randT([1, T, L.heads, L.headDim], seed);
  const v = randT([1, T, L.heads, L.valueDim], seed + 1);
  new PagedKVCache(pool, layer, [seq]).append(k, v);
  return { k, v };
}

test("allocator: free list, refcounts, double free is an error, exhaustion", () => {
  const a = new BlockAllocator(3);
  const x = a.allocate();
  const y = a.allocate();
  assert.equal(a.numFree, 1);
  a.retain(x);
  assert.equal(a.refCount(x), 2);
  a.release(x);
  assert.equal(a.numFree, 1);
  a.release(x);
  assert.equal(a.numFree, 2);
  assert.throws(() => a.release(x), /double free/);
  a.allocate();
  a.allocate();
  assert.throws(() => a.allocate(), PoolExhaustedError);
  assert.equal(a.refCount(y), 1);
});

test("paged attention ≡ contiguous attention: block sizes, ragged rows, GQA, window, sinks", () => {
  for (const { bs, lens, Hq, Hkv, D, window, sinks, Tq } of [
    { bs: 16, lens: [1, 7, 63], Hq: 4, Hkv: 2, D: 8, window: 0, sinks: false, Tq: 1 },
    { bs: 1, lens: [5, 3], Hq: 2, Hkv: 2, D: 4, window: 0, sinks: false, Tq: 2 },
    { bs: 3, lens: [65, 16, 17], Hq: 6, Hkv: 3, D: 5, window: 4, sinks: true, Tq: 3 },
    { bs: 16, lens: [130], Hq: 2, Hkv: 1, D: 16, window: 20, sinks: false, Tq: 1 },
  ]) {
    const pool = new PagedKVPool({ layers: [{ heads: Hkv, headDim: D, window }], blockSize: bs, numBlocks: 64, dtype: "float64" });
    const seqs = lens.map(() => new PagedSequence(pool));
    const full: { k: Tensor; v: Tensor }[] = [];
    seqs.forEach((s, b) => {
      const len = lens[b]! + Tq;
      s.reserve(len);
      full.push(fill(pool, 0, s, len, 10 * b + 1));
    });
    const q = randT([lens.length, Tq, Hq, D], 99);
    const sk = sinks ? randT([Hq], 7) : null;
    const out = pagedAttention({
      pool, layer: 0, q: q.dense(), B: lens.length, Tq, Hq, seqs,
      kvLen: lens.map((l) => l + Tq), qStart: lens, window, sinks: sk ? sk.dense() : null,
    });
    lens.forEach((len, b) => {
      const qb = new Tensor(q.dense().slice(b * Tq * Hq * D, (b + 1) * Tq * Hq * D), [1, Tq, Hq, D]);
      const ref = attention(qb, full[b]!.k, full[b]!.v, { causal: true, window, sinks: sk, qStart: len });
      const got = new Tensor(out.slice(b * Tq * Hq * D, (b + 1) * Tq * Hq * D), [1, Tq, Hq, D]);
      assertClose(got.dense(), ref.dense(), 1e-12, 1e-12, `bs ${bs} row ${b} len ${len}`);
    });
  }
});

test("PagedKVCache.attend (decode and prefill paths) ≡ the fused op on the whole sequence", () => {
  noGrad(() => {
    const H = 2, D = 8, bs = 4;
    for (const window of [0, 5]) {
      const pool = new PagedKVPool({ layers: [{ heads: H, headDim: D, window }], blockSize: bs, numBlocks: 32, dtype: "float64" });
      const seq = new PagedSequence(pool);
      const k = randT([1, 23, H, D], 1);
      const v = randT([1, 23, H, D], 2);
      const q = randT([1, 23, H * 2, D], 3);
      const ref = attention(q, k, v, { causal: true, window });
      const pieces: [number, number][] = [[0, 10], [10, 11], [11, 14], [14, 23]]; // prefill, decode, verify-like, prefill-with-prefix
      for (const [a, b] of pieces) {
        const slice = (t: Tensor, w: number) => new Tensor(t.dense().slice(a * w, b * w), [1, b - a, t.shape[2]!, D]);
        const out = new PagedKVCache(pool, 0, [seq]).attend(slice(q, 2 * H * D), slice(k, H * D), slice(v, H * D), { window, sinks: null });
        seq.advance(b - a);
        const refPart = new Tensor(ref.dense().slice(a * 2 * H * D, b * 2 * H * D), [1, b - a, 2 * H, D]);
        assertClose(out.dense(), refPart.dense(), 1e-12, 1e-12, `window ${window} positions ${a}…${b - 1}`);
      }
    }
  });
});

test("values inside the keys (MLA's latent layout): attend ≡ the fused op with v = the keys' first Dv channels, custom scale; no value storage", () => {
  noGrad(() => {
    const H = 2, D = 6, Dv = 4, bs = 4, scale = 0.37;
    const pool = new PagedKVPool({ layers: [{ heads: H, headDim: D, valueDim: Dv, window: 0, valuesInKeys: true }], blockSize: bs, numBlocks: 16, dtype: "float64" });
    assert.equal(pool.v[0]!.length, 0);
    assert.equal(pool.groupTokenBytes(0), H * D * 8);
    const seq = new PagedSequence(pool);
    const k = randT([1, 19, H, D], 4);
    const kd = k.dense();
    const vd = new Float64Array(19 * H * Dv);
    for (let r = 0; r < 19 * H; r++) vd.set(kd.subarray(r * D, r * D + Dv), r * Dv);
    const v = new Tensor(vd, [1, 19, H, Dv]);
    const q = randT([1, 19, H * 3, D], 5);
    const ref = attention(q, k, v, { causal: true, scale });
    for (const [a, b] of [[0, 9], [9, 10], [10, 12], [12, 19]] as [number, number][]) {
      const cut = (t: Tensor, heads: number, w: number) => new Tensor(t.dense().slice(a * heads * w, b * heads * w), [1, b - a, heads, w]);
      const out = new PagedKVCache(pool, 0, [seq]).attend(cut(q, 3 * H, D), cut(k, H, D), cut(v, H, Dv), { window: 0, sinks: null, scale });
      seq.advance(b - a);
      assertClose(out.dense(), ref.dense().slice(a * 3 * H * Dv, b * 3 * H * Dv), 1e-12, 1e-12, `positions ${a}…${b - 1}`);
    }
    const g = gatherKV(pool, 0, seq, 3, 17);
    assertClose(g.v, vd.slice(3 * H * Dv, 17 * H * Dv), 0, 0, "gathered values");
  });
});

test("allocation on demand wastes at most one partial block; free returns every block", () => {
  const pool = new PagedKVPool({ layers: [{ heads: 1, headDim: 2, window: 0 }, { heads: 1, headDim: 2, window: 0 }], blockSize: 16, numBlocks: 10 });
  assert.equal(pool.groups.length, 1, "layers with the same window share one block table");
  const s = new PagedSequence(pool);
  for (let t = 1; t <= 50; t++) {
    s.reserve(1);
    s.advance(1);
    assert.equal(s.heldSlots(0), Math.ceil(t / 16) * 16);
    assert.ok(s.heldSlots(0) - s.liveTokens(0) < 16);
  }
  assert.equal(pool.groups[0]!.allocator.numUsed, 4);
  s.free();
  assert.equal(pool.groups[0]!.allocator.numUsed, 0);
  assert.equal(pool.groups[0]!.allocator.totalRefs(), 0);
});

test("fork shares blocks; copy-on-write keeps siblings isolated; refcounts return to zero", () => {
  const bs = 4;
  const pool = new PagedKVPool({ layers: [{ heads: 1, headDim: 3, window: 0 }], blockSize: bs, numBlocks: 16, dtype: "float64" });
  const a = new PagedSequence(pool);
  a.reserve(6);
  const prefix = fill(pool, 0, a, 6, 1);
  a.advance(6);
  const alloc = pool.groups[0]!.allocator;
  assert.equal(alloc.numUsed, 2);
  const b = a.fork();
  assert.equal(alloc.numUsed, 2, "a fork allocates nothing");
  assert.deepEqual(b.tables[0], a.tables[0]);
  assert.equal(alloc.refCount(a.tables[0]![1]!), 2);
  // both extend the shared, partially filled block 1 with different tokens
  a.reserve(3);
  const ta = fill(pool, 0, a, 3, 10);
  a.advance(3);
  assert.notEqual(a.tables[0]![1], b.tables[0]![1], "the writer got its own copy of the shared block");
  assert.equal(a.tables[0]![0], b.tables[0]![0], "full blocks stay shared");
  b.reserve(2);
  const tb = fill(pool, 0, b, 2, 20);
  b.advance(2);
  const ga = gatherKV(pool, 0, a, 0, 9);
  const gb = gatherKV(pool, 0, b, 0, 8);
  const pk = Array.from(prefix.k.dense());
  assert.deepEqual(Array.from(ga.k.slice(0, 18)), pk);
  assert.deepEqual(Array.from(gb.k.slice(0, 18)), pk);
  assert.deepEqual(Array.from(ga.k.slice(18)), Array.from(ta.k.dense()));
  assert.deepEqual(Array.from(gb.k.slice(18)), Array.from(tb.k.dense()));
  // attention of the same query differs only through each sibling's own tokens
  a.free();
  assert.equal(alloc.refCount(b.tables[0]![0]!), 1);
  b.free();
  assert.equal(alloc.totalRefs(), 0);
  assert.equal(alloc.numFree, 16);
});

test("sliding-window layers release blocks that fall out of the window; full layers keep theirs", () => {
  const bs = 4;
  const W = 6;
  const pool = new PagedKVPool({ layers: [{ heads: 1, headDim: 2, window: 0 }, { heads: 1, headDim: 2, window: W }], blockSize: bs, numBlocks: 32 });
  const s = new PagedSequence(pool);
  for (let t = 0; t < 40; t++) {
    s.reserve(1);
    s.advance(1);
  }
  const [full, slide] = [pool.groups[0]!, pool.groups[1]!];
  assert.equal(full.window, 0);
  assert.equal(full.allocator.numUsed, 10);
  // a query at position ≥ 40 sees keys ≥ 35: blocks 8 (32…35) and 9 (36…39) are needed
  assert.equal(slide.allocator.numUsed, 2);
  assert.equal(s.firstHeld(1), 32);
  // paged attention over the window still works for the next token
  s.reserve(1);
  const out = pagedAttention({ pool, layer: 1, q: new Float32Array(2), B: 1, Tq: 1, Hq: 1, seqs: [s], kvLen: [41], qStart: [40], window: W, sinks: null });
  assert.equal(out.length, 2);
  assert.throws(() => s.truncate(30), /released/);
  s.free();
  assert.equal(slide.allocator.totalRefs(), 0);
});

test("maxRollback keeps enough window keys to truncate rejected drafts", () => {
  const pool = new PagedKVPool({ layers: [{ heads: 1, headDim: 2, window: 4 }], blockSize: 2, numBlocks: 32, maxRollback: 3 });
  const s = new PagedSequence(pool);
  s.reserve(20);
  s.advance(20);
  s.truncate(17);
  s.reserve(1);
  const out = pagedAttention({ pool, layer: 0, q: new Float32Array(2), B: 1, Tq: 1, Hq: 1, seqs: [s], kvLen: [18], qStart: [17], window: 4, sinks: null });
  assert.ok(Number.isFinite(out[0]!));
});

test("reserve is all-or-nothing when the pool runs out", () => {
  const pool = new PagedKVPool({ layers: [{ heads: 1, headDim: 2, window: 0 }], blockSize: 4, numBlocks: 3 });
  const a = new PagedSequence(pool);
  a.reserve(8);
  a.advance(8);
  const b = new PagedSequence(pool);
  assert.equal(b.canReserve(8), false);
  assert.throws(() => b.reserve(8), PoolExhaustedError);
  assert.equal(pool.groups[0]!.allocator.numUsed, 2, "nothing was allocated by the failed reserve");
  assert.equal(b.canReserve(4), true);
});
