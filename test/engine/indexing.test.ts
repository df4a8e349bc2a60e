// Indexing ops (src/ops/indexing.ts): forward vs naive loops, gradients vs finite differences in
// float64 on odd shapes, native ≡ reference for the row ops, and error messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { tensor } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { nativeAvailable, withBackend } from "../../src/backend/index.js";
import { gradcheck, randn64, to32, assertClose } from "../helpers/gradcheck.js";

/** Deterministic integers in [0, n) (LCG). */
function ints(count: number, n: number, seed = 1): Int32Array {
  const out = new Int32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % n;
  }
  return out;
}

/** Every multi-index of a shape, row-major. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let p = 0; p < n; p++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

function naiveGather(x: Tensor, axis: number, ids: Int32Array, shape: number[]): number[] {
  const out: number[] = [];
  let p = 0;
  for (const ix of indices(shape)) {
    const at = ix.slice();
    at[axis] = ids[p++]!;
    out.push(x.at(...at));
  }
  return out;
}

test("gather: torch.gather semantics, smaller index dims, gradients with repeated indices", () => {
  const x = randn64([3, 7, 5], 1);
  for (const [axis, shape] of [[1, [3, 9, 5]], [1, [2, 4, 3]], [0, [5, 7, 5]], [2, [3, 7, 1]], [-1, [1, 1, 8]]] as [number, number[]][]) {
    const a = axis < 0 ? axis + 3 : axis;
    const ids = ints(shape.reduce((p, q) => p * q, 1), x.shape[a]!, 7 + a);
    const idx = { data: ids, shape };
    assert.deepEqual(ops.gather(x, axis, idx).toArray(), naiveGather(x, a, ids, shape));
    gradcheck((t) => ops.gather(t!, axis, idx), [x]);
  }
  // a bare Int32Array takes x's shape with the axis length inferred: top-2 per row
  const m = tensor([[1, 2, 3], [4, 5, 6]]);
  const g = ops.gather(m, 1, new Int32Array([2, 0, 1, 1]));
  assert.deepEqual(g.shape, [2, 2]);
  assert.deepEqual(g.toArray(), [3, 1, 5, 5]);
});

test("scatterAdd: out-of-place accumulation and gradients to base and src", () => {
  const base = randn64([4, 6, 3], 2);
  const src = randn64([4, 9, 3], 3);
  const ids = ints(src.size, 6, 11);
  const idx = { data: ids, shape: [4, 9, 3] };
  const out = ops.scatterAdd(base, 1, idx, src);
  const want = base.toArray();
  let p = 0;
  for (const [i, , k] of indices([4, 9, 3])) {
    const j = ids[p]!;
    want[(i! * 6 + j) * 3 + k!]! += src.data[p++]!;
  }
  assertClose(out.toArray(), want, 1e-12, 1e-12, "scatterAdd");
  assert.deepEqual(base.toArray().slice(0, 3), Array.from(base.data.slice(0, 3)), "base untouched");
  gradcheck((b, s) => ops.scatterAdd(b!, 1, idx, s!), [base, src]);
  // axis 0 with a smaller index/src than base off the axis
  const s2 = randn64([5, 2], 4);
  const i2 = { data: ints(10, 4, 5), shape: [5, 2] };
  gradcheck((b, s) => ops.scatterAdd(b!, 0, i2, s!), [randn64([4, 3], 6), s2]);
});

test("indexSelect / indexAdd: rows along any axis, repeats, gradients, native ≡ reference", () => {
  const x = randn64([5, 7, 3], 8);
  for (const axis of [0, 1, 2]) {
    const len = x.shape[axis]!;
    const ids = ints(11, len, 20 + axis);
    const shape = x.shape.slice();
    shape[axis] = 11;
    const viaGather = new Int32Array(shape.reduce((p, q) => p * q, 1));
    let p = 0;
    for (const ix of indices(shape)) viaGather[p++] = ids[ix[axis]!]!;
    assert.deepEqual(ops.indexSelect(x, axis, ids).toArray(), naiveGather(x, axis, viaGather, shape));
    gradcheck((t) => ops.indexSelect(t!, axis, ids), [x]);
    const src = randn64(shape, 30 + axis);
    gradcheck((b, s) => ops.indexAdd(b!, axis, ids, s!), [x, src]);
    // indexAdd ≡ scatterAdd with the ids broadcast over the other dims
    assertClose(ops.indexAdd(x, axis, ids, src).toArray(), ops.scatterAdd(x, axis, { data: viaGather, shape }, src).toArray(), 1e-12, 1e-12, "indexAdd");
  }
  if (nativeAvailable()) {
    const w = to32(randn64([130, 65], 9));
    const ids = ints(63, 130, 3);
    const ref = withBackend("reference", () => ops.indexSelect(w, 0, ids).toArray());
    const nat = withBackend("native", () => ops.indexSelect(w, 0, ids).toArray());
    assert.deepEqual(nat, ref);
    const g = to32(randn64([130, 65], 10));
    const src = to32(randn64([63, 65], 11));
    const r2 = withBackend("reference", () => ops.indexAdd(g, 0, ids, src).toArray());
    const n2 = withBackend("native", () => ops.indexAdd(g, 0, ids, src).toArray());
    assertClose(n2, r2, 1e-6, 1e-6, "native indexAdd");
  }
});

function naiveOrder(vals: number[], desc: boolean): number[] {
  const key = (v: number): number => (Number.isNaN(v) ? Infinity : v);
  const nanRank = (v: number): number => (Number.isNaN(v) ? 1 : 0);
  return vals
    .map((_, i) => i)
    .sort((i, j) => {
      const a = vals[i]!;
      const b = vals[j]!;
      const c = key(a) - key(b) || nanRank(a) - nanRank(b);
      if (c !== 0 && !Number.isNaN(c)) return desc ? -c : c;
      return i - j;
    });
}

test("topk: matches a full sort on odd shapes, both directions, ties and NaN; values differentiable", () => {
  for (const [shape, axis, k] of [[[5, 63], -1, 7], [[130], 0, 130], [[4, 65, 3], 1, 1], [[7, 2], 0, 3], [[3, 1], 1, 0]] as [number[], number, number][]) {
    const x = randn64(shape, 12);
    const a = axis < 0 ? axis + shape.length : axis;
    for (const largest of [true, false]) {
      const { values, indices: idx } = ops.topk(x, k, axis, { largest });
      const outShape = shape.slice();
      outShape[a] = k;
      assert.deepEqual(values.shape, outShape);
      // line by line against a naive sort
      const outer = shape.slice(0, a).reduce((p, q) => p * q, 1);
      const inner = shape.slice(a + 1).reduce((p, q) => p * q, 1);
      const len = shape[a]!;
      for (let o = 0; o < outer; o++)
        for (let c = 0; c < inner; c++) {
          const line = Array.from({ length: len }, (_, i) => x.data[(o * len + i) * inner + c]!);
          const order = naiveOrder(line, largest).slice(0, k);
          for (let i = 0; i < k; i++) {
            assert.equal(idx[(o * k + i) * inner + c], order[i]);
            assert.equal(values.data[(o * k + i) * inner + c], line[order[i]!]);
          }
        }
      if (k > 0) gradcheck((t) => ops.topk(t!, k, axis, { largest }).values, [x]);
    }
  }
  const tied = tensor([3, 1, 3, NaN, 2, 3]);
  assert.deepEqual(Array.from(ops.topk(tied, 3).indices), [3, 0, 2]);
  assert.deepEqual(Array.from(ops.topk(tied, 3, -1, { largest: false }).indices), [1, 4, 0]);
});

test("argsort: stable in both directions, NaN last ascending / first descending", () => {
  const vals = [2, 1, 2, NaN, 1, 0, 2, -1, NaN, 1];
  const x = tensor(vals);
  assert.deepEqual(Array.from(ops.argsort(x)), naiveOrder(vals, false));
  assert.deepEqual(Array.from(ops.argsort(x, 0, { descending: true })), naiveOrder(vals, true));
  assert.deepEqual(Array.from(ops.argsort(x)).slice(0, 3), [7, 5, 1]);
  // along axis 0 of a [65, 3] matrix with many ties
  const m = new Tensor(Float32Array.from(ints(195, 5, 9)), [65, 3]);
  const s = ops.argsort(m, 0, { descending: true });
  for (let c = 0; c < 3; c++) {
    const col = Array.from({ length: 65 }, (_, i) => m.data[i * 3 + c]!);
    const want = naiveOrder(col, true);
    for (let i = 0; i < 65; i++) assert.equal(s[i * 3 + c], want[i]);
  }
});

test("cumsum: forward vs naive, gradient is the reverse cumsum", () => {
  const x = randn64([4, 7, 5], 13);
  for (const axis of [0, 1, -1]) {
    const a = axis < 0 ? 2 : axis;
    const y = ops.cumsum(x, axis);
    for (const ix of indices(x.shape)) {
      let s = 0;
      const at = ix.slice();
      for (let j = 0; j <= ix[a]!; j++) {
        at[a] = j;
        s += x.at(...at);
      }
      assert.ok(Math.abs(y.at(...ix) - s) < 1e-12);
    }
    gradcheck((t) => ops.cumsum(t!, axis), [x]);
  }
  gradcheck((t) => ops.cumsum(t!, 0), [randn64([130], 14)]);
});

test("maskedFill: broadcast mask, gradient zero where filled", () => {
  const x = randn64([3, 5], 15);
  const mask = tensor([[1, 0, 0, 1, 0]], [1, 5], { dtype: "float64" });
  const y = ops.maskedFill(x, mask, -7);
  for (const [i, j] of indices([3, 5])) assert.equal(y.at(i!, j!), mask.at(0, j!) ? -7 : x.at(i!, j!));
  gradcheck((t) => ops.maskedFill(t!, mask, -3), [x]);
  const causal = ops.causalMask(4, { dtype: "float64" });
  const filled = ops.maskedFill(randn64([2, 4, 4], 16), ops.eq(causal, 0), -Infinity);
  assert.equal(filled.at(1, 0, 3), -Infinity);
  assert.throws(() => ops.maskedFill(x, tensor([1, 0, 1]), 0), /maskedFill: .*\[3\].*\[3, 5\]/);
});

test("index errors name the op, the bad value, its position and the shapes", () => {
  const x = randn64([3, 5], 17);
  assert.throws(
    () => ops.gather(x, 1, { data: new Int32Array([0, 1, 2, 9, 4, 0]), shape: [3, 2] }),
    (e: Error) => /^gather: index 9 at position \[1, 1\] is out of range \[0, 5\)/.test(e.message) && /\[3, 5\]/.test(e.message) && /\[3, 2\]/.test(e.message),
  );
  assert.throws(() => ops.indexSelect(x, 0, new Int32Array([0, -1])), /indexSelect: index -1 at position \[1\] is out of range \[0, 3\) \(axis 0 of input \[3, 5\]\)/);
  assert.throws(() => ops.indexAdd(x, 0, new Int32Array([3]), randn64([1, 5])), /indexAdd: index 3 at position \[0\]/);
  assert.throws(() => ops.scatterAdd(x, 0, new Int32Array(12), randn64([2, 6])), /scatterAdd: index of shape \[2, 6\] exceeds base \[3, 5\] at dim 1/);
  assert.throws(() => ops.gather(x, 0, { data: new Int32Array(4), shape: [4] }), /gather: index of shape \[4\] must have the rank of input \[3, 5\]/);
  assert.throws(() => ops.topk(x, 6), /topk: k = 6 out of range \[0, 5\] for axis -1 of \[3, 5\]/);
  assert.throws(() => ops.gather(x, 2, new Int32Array(3)), /gather: axis 2 out of range for rank 2/);
  const r = randn64([2, 2]);
  r.release();
  assert.throws(() => ops.cumsum(r, 0), /cumsum: .*\[2, 2\].*release/);
});
