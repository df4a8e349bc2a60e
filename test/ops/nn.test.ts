import { test } from "node:test";
import assert from "node:assert/strict";
import { ones } from "../../src/tensor/creation.js";
import { Generator } from "../../src/tensor/rng.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, skipNative } from "./util.js";

test("embedding gathers rows into [...shape, d] and scatter-adds gradients (repeated ids accumulate)", () => {
  const w = randn64([11, 5], 1);
  const ids = Int32Array.from([3, 0, 10, 3, 3, 7]);
  const y = ops.embedding(w, ids, [2, 3]);
  assert.deepEqual(y.shape, [2, 3, 5]);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 5; j++) assert.equal(y.data[i * 5 + j], w.at(ids[i]!, j));
  assert.deepEqual(ops.embedding(w, [1, 2]).shape, [2, 5]);
  // backward: gw[v] = Σ_{i: ids[i] = v} gy[i]
  const wl = w.detach().requiresGrad_();
  const gy = randn64([2, 3, 5], 2);
  backward([ops.embedding(wl, ids, [2, 3])], [gy]);
  const want = new Float64Array(55);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 5; j++) want[ids[i]! * 5 + j] += gy.data[i * 5 + j]!;
  assertClose(wl.grad!.dense(), want, 1e-14, 1e-15, "embedding grad");
  gradcheck((t) => ops.embedding(t!, ids, [3, 2]), [w]);
  assertClose(ops.embedding(to32(w), ids).dense(), y.dense(), 1e-7, 1e-7, "f32");
});

test("embedding range check names the op, the bad id and its position", () => {
  const w = randn64([4, 3], 1);
  assert.throws(() => ops.embedding(w, Int32Array.from([0, 1, 4])), (e: Error) => e instanceof OpError && /embedding: id 4 at position 2 is out of range \[0, 4\)/.test(e.message) && /\[4, 3\]/.test(e.message));
  assert.throws(() => ops.embedding(w, [-1]), /embedding: id -1 at position 0/);
  assert.throws(() => ops.embedding(w, [0.5]), /embedding: id 0.5 at position 0/);
  assert.throws(() => ops.embedding(w, [0, 1, 2], [2, 2]), /embedding: 3 ids do not fill shape \[2, 2\]/);
  assert.throws(() => ops.embedding(randn64([4], 1), [0]), /embedding: weight must be \[V, d\]/);
});

test("dropout: identity for p = 0 or eval mode; p = 1 zeroes; invalid p names the op", () => {
  const x = randn64([3, 4], 1);
  assert.equal(ops.dropout(x, 0), x);
  assert.equal(ops.dropout(x, 0.5, { training: false }), x);
  assert.deepEqual(ops.dropout(x, 1, { generator: new Generator(1) }).toArray(), new Array(12).fill(0));
  assert.throws(() => ops.dropout(x, 1.5), /dropout: p must be in \[0, 1\], got 1.5 \(x \[3, 4\]\)/);
  assert.throws(() => ops.dropout(x, -0.1), /dropout: p must be in \[0, 1\]/);
});

test("dropout statistics: fraction zeroed ≈ p, mean preserved, same seed → same mask, stream advances", () => {
  const n = 100_000;
  for (const p of [0.1, 0.3, 0.7]) {
    const y = ops.dropout(ones([n]), p, { generator: new Generator(42) });
    let zeros = 0;
    let sum = 0;
    for (const v of y.data) {
      if (v === 0) zeros++;
      else assert.ok(Math.abs(v - 1 / (1 - p)) < 1e-6, `kept value ${v}`);
      sum += v;
    }
    // binomial std of the zero fraction is sqrt(p(1−p)/n) ≤ 0.0016; allow ~6σ
    assert.ok(Math.abs(zeros / n - p) < 0.01, `p=${p}: zero fraction ${zeros / n}`);
    assert.ok(Math.abs(sum / n - 1) < 0.03, `p=${p}: mean ${sum / n}`);
  }
  const x = randn64([1000], 3);
  const a = ops.dropout(x, 0.5, { generator: new Generator(7) }).toArray();
  const b = ops.dropout(x, 0.5, { generator: new Generator(7) }).toArray();
  assert.deepEqual(a, b);
  const g = new Generator(7);
  const c1 = ops.dropout(x, 0.5, { generator: g }).toArray();
  const c2 = ops.dropout(x, 0.5, { generator: g }).toArray();
  assert.deepEqual(c1, a);
  assert.notDeepEqual(c2, c1);
  assert.equal(g.offset, 2 * 250); // two draws of 1000 numbers, 4 per block
});

test("dropout backward regenerates the same mask from the saved stream offset", () => {
  const g = new Generator(9);
  g.offset = 1234;
  const x = randn64([7, 65], 4).requiresGrad_();
  const y = ops.dropout(x, 0.4, { generator: g });
  const gy = randn64([7, 65], 5);
  ops.dropout(randn64([100], 1), 0.5, { generator: g }); // later draws do not disturb the saved offset
  backward([y], [gy]);
  const gx = x.grad!.dense();
  for (let i = 0; i < x.size; i++) {
    const kept = y.data[i] !== 0;
    assert.ok(Math.abs(gx[i]! - (kept ? gy.data[i]! / 0.6 : 0)) < 1e-12, `element ${i}: ${gx[i]} (kept ${kept})`);
  }
  // finite differences need the same mask on every call: a fresh generator with a fixed seed
  gradcheck((t) => ops.dropout(t!, 0.3, { generator: new Generator(5) }), [randn64([5, 13], 6)]);
});

test("native ≡ reference: embedding, dropout", { skip: skipNative }, () => {
  const ids = Int32Array.from({ length: 130 }, (_, i) => (i * 37) % 50);
  nativeMatchesReference((w) => ops.embedding(w!, ids), [randn64([50, 64], 1)], 1e-6, 1e-6);
  nativeMatchesReference((x) => ops.dropout(x!, 0.3, { generator: new Generator(3) }), [randn64([65, 33], 2)], 1e-6, 1e-6);
});

