// Shape ops (src/ops/shape.ts): concat/stack/split/chunk/pad/repeatInterleave and the triangular
// masks, forward vs naive, gradients vs finite differences in float64, and error messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { arange } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { referenceKernels } from "../../src/backend/index.js";
import { gradcheck, randn64, assertClose } from "../helpers/gradcheck.js";

test("concat: any axis, strided inputs, gradients split back", () => {
  const a = randn64([2, 3, 5], 1);
  const b = randn64([2, 7, 5], 2);
  const c = randn64([2, 1, 5], 3);
  const y = ops.concat([a, b, c], 1);
  assert.deepEqual(y.shape, [2, 11, 5]);
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 11; j++)
      for (let k = 0; k < 5; k++) {
        const want = j < 3 ? a.at(i, j, k) : j < 10 ? b.at(i, j - 3, k) : c.at(i, 0, k);
        assert.equal(y.at(i, j, k), want);
      }
  gradcheck((p, q, r) => ops.concat([p!, q!, r!], 1), [a, b, c]);
  gradcheck((p, q) => ops.concat([p!, q!], 0), [randn64([1, 4], 4), randn64([6, 4], 5)]);
  gradcheck((p, q) => ops.concat([p!, q!], -1), [randn64([3, 2], 4), randn64([3, 63], 5)]);
  // a transposed (non-contiguous) operand
  gradcheck((p, q) => ops.concat([ops.transpose(p!), q!], 0), [randn64([3, 4], 6), randn64([2, 3], 7)]);
  assert.throws(() => ops.concat([a, randn64([2, 3, 4])], 1), /concat: shapes \[2, 3, 5\], \[2, 3, 4\] differ outside axis 1/);
  assert.throws(() => ops.concat([]), /concat: needs at least one tensor/);
});

test("stack: new axis at any position", () => {
  const xs = [randn64([3, 4], 1), randn64([3, 4], 2), randn64([3, 4], 3)];
  for (const axis of [0, 1, 2, -1]) {
    const y = ops.stack(xs, axis);
    const a = axis < 0 ? 2 : axis;
    const shape = [3, 4];
    shape.splice(a, 0, 3);
    assert.deepEqual(y.shape, shape);
    for (let n = 0; n < 3; n++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 4; j++) {
          const ix = [i, j];
          ix.splice(a, 0, n);
          assert.equal(y.at(...ix), xs[n]!.at(i, j));
        }
    gradcheck((p, q, r) => ops.stack([p!, q!, r!], axis), xs);
  }
  assert.throws(() => ops.stack([xs[0]!, randn64([4, 3])]), /stack: shapes differ: \[3, 4\], \[4, 3\]/);
});

test("split / chunk: views with one multi-output node; unused pieces get zero gradient", () => {
  const x = randn64([3, 7, 2], 8);
  const [p, q, r] = ops.split(x, [2, 4, 1], 1);
  assert.equal(p!.data, x.data, "pieces are views");
  assert.deepEqual([p!.shape, q!.shape, r!.shape], [[3, 2, 2], [3, 4, 2], [3, 1, 2]]);
  assert.equal(q!.at(2, 3, 1), x.at(2, 5, 1));
  assert.equal(r!.at(1, 0, 0), x.at(1, 6, 0));
  gradcheck((t) => {
    const [a, , c] = ops.split(t!, [2, 4, 1], 1);
    return ops.concat([ops.mul(c!, 2), a!], 1);
  }, [x]);
  gradcheck((t) => ops.sum(ops.stack(ops.split(t!, 3, 0).map((s) => ops.sum(s, 0)), 0), 0), [randn64([7, 5], 9)]);
  // pieces of a transposed (strided) input
  gradcheck((t) => ops.concat(ops.split(ops.transpose(t!), [1, 3], 1).reverse(), 1), [randn64([4, 3], 21)]);
  // the middle piece only: gradient zero elsewhere
  const w = randn64([6], 10).requiresGrad_();
  backward([ops.sum(ops.split(w, 2)[1]!)]);
  assert.deepEqual(w.grad!.toArray(), [0, 0, 1, 1, 0, 0]);
  // torch.chunk sizes
  assert.deepEqual(ops.chunk(arange(5), 3).map((c) => c.size), [2, 2, 1]);
  assert.deepEqual(ops.chunk(arange(6), 4).map((c) => c.size), [2, 2, 2]);
  assert.deepEqual(ops.chunk(arange(2), 4).map((c) => c.size), [1, 1]);
  assert.deepEqual(ops.chunk(randn64([2, 9]), 3, -1).map((c) => c.shape), [[2, 3], [2, 3], [2, 3]]);
  assert.throws(() => ops.split(x, [2, 2], 1), /split: sizes \[2, 2\] do not sum to 7, the size of axis 1 of \[3, 7, 2\]/);
});

test("pad: trailing axes, fill value, gradient is the slice", () => {
  const x = randn64([2, 3, 4], 11);
  const y = ops.pad(x, [[1, 2], [0, 3]], -5);
  assert.deepEqual(y.shape, [2, 6, 7]);
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 7; j++) {
        const inside = i >= 1 && i < 4 && j < 4;
        assert.equal(y.at(b, i, j), inside ? x.at(b, i - 1, j) : -5);
      }
  gradcheck((t) => ops.pad(t!, [[1, 2], [0, 3]], 0.5), [x]);
  gradcheck((t) => ops.pad(t!, [[3, 0]]), [randn64([63], 12)]);
  gradcheck((t) => ops.pad(ops.transpose(t!), [[0, 1], [2, 2]]), [randn64([5, 3], 13)]);
  assert.throws(() => ops.pad(x, [[1, 1], [1, 1], [1, 1], [1, 1]]), /pad: 4 \[before, after\] pairs for input \[2, 3, 4\] of rank 3/);
  assert.throws(() => ops.pad(x, [[-1, 0]]), /pad: pad \[-1, 0\] for axis 2/);
});

test("repeatInterleave: KV heads expanded to query heads", () => {
  const kv = randn64([2, 5, 3, 4], 14); // [B, T, Hkv, D]
  const y = ops.repeatInterleave(kv, 2, 2); // [B, T, 6, D]
  assert.deepEqual(y.shape, [2, 5, 6, 4]);
  for (let h = 0; h < 6; h++) assert.equal(y.at(1, 4, h, 3), kv.at(1, 4, Math.floor(h / 2), 3));
  gradcheck((t) => ops.repeatInterleave(t!, 3, 1), [randn64([2, 7, 3], 15)]);
  assert.throws(() => ops.repeatInterleave(kv, 0, 2), /repeatInterleave: repeats 0/);
});

test("tril / triu: diagonals, batches, non-square, gradients", () => {
  const x = randn64([2, 5, 7], 16);
  for (const k of [-2, 0, 1, 9]) {
    const lo = ops.tril(x, k);
    const up = ops.triu(x, k);
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 7; j++) {
          assert.equal(lo.at(b, i, j), j - i <= k ? x.at(b, i, j) : 0);
          assert.equal(up.at(b, i, j), j - i >= k ? x.at(b, i, j) : 0);
        }
    gradcheck((t) => ops.tril(t!, k), [x]);
    gradcheck((t) => ops.triu(t!, k), [x]);
  }
  // tril(k) + triu(k + 1) = x
  assertClose(ops.add(ops.tril(x, 1), ops.triu(x, 2)).toArray(), x.toArray(), 0, 0, "tril+triu");
  assert.throws(() => ops.tril(randn64([4])), /tril: needs rank ≥ 2, got \[4\]/);
});

test("causalMask: 0/1 and additive forms agree with the fused attention kernel's visibility", () => {
  const m = ops.causalMask(4);
  assert.deepEqual(m.toArray(), [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]);
  const w = ops.causalMask(3, { qStart: 5, window: 3, additive: true });
  assert.deepEqual(w.shape, [3, 8]);
  assert.deepEqual(w.toArray().slice(0, 8), [-Infinity, -Infinity, -Infinity, 0, 0, 0, -Infinity, -Infinity]);
  // softmax(q·kᵀ·scale + mask)·v ≡ the reference attention kernel with the same causal/window/qStart
  const [Tq, Tk, D, qStart, window] = [5, 9, 4, 4, 3];
  const q = randn64([1, Tq, 1, D], 17);
  const k = randn64([1, Tk, 1, D], 18);
  const v = randn64([1, Tk, 1, D], 19);
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(Tq * D);
  const lse = new Float64Array(Tq);
  referenceKernels.attention(q.data, k.data, v.data, null, out, lse, 1, Tq, Tk, 1, 1, D, D, scale, true, window, qStart);
  const mask = ops.causalMask(Tq, { keys: Tk, qStart, window, additive: true, dtype: "float64" });
  const qm = new Tensor(q.data, [Tq, D]);
  const km = new Tensor(k.data, [Tk, D]);
  const vm = new Tensor(v.data, [Tk, D]);
  const logits = ops.add(ops.affine(ops.matmul(qm, ops.transpose(km)), scale), mask);
  const p = ops.exp(ops.sub(logits, ops.logsumexp(logits, -1, true)));
  assertClose(Array.from(out), ops.matmul(p, vm).toArray(), 1e-10, 1e-12, "masked attention");
  assert.throws(() => ops.causalMask(-1), /causalMask: T = -1 must be a non-negative integer/);
});
