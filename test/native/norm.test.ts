/**
 * Native RMSNorm / LayerNorm (forward, backward, weight/bias gradient accumulation), embedding
 * gather/scatter (repeated ids) and the fused AdamW step ≡ reference.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { N, R, rand, sameBits, skip } from "./helpers.js";

const SHAPES: [number, number][] = [[1, 1], [7, 63], [3, 65], [130, 7], [5, 257], [1000, 33]];

test("rmsNorm and rmsNormBackward ≡ reference (with/without weight, wOffset, gw accumulates)", { skip }, () => {
  for (const [rows, cols] of SHAPES) {
    const n = rows * cols;
    const x = rand(n, rows, -3, 3);
    x[0] = 0; // an all-small row start
    for (const [w, wOffset] of [[null, 0], [rand(cols, 7), 0], [rand(cols, 8, -0.1, 0.1), 1]] as const) {
      const y1 = new Float32Array(n), y2 = new Float32Array(n), r1 = new Float32Array(rows), r2 = new Float32Array(rows);
      N.rmsNorm(x, w, y1, r1, rows, cols, 1e-6, wOffset);
      R.rmsNorm(x, w, y2, r2, rows, cols, 1e-6, wOffset);
      assertClose(y1, y2, 1e-6, 1e-6, `rmsNorm ${rows}x${cols}`);
      assertClose(r1, r2, 1e-6, 1e-6, `rstd ${rows}x${cols}`);
      const gy = rand(n, 3);
      const gx1 = new Float32Array(n), gx2 = new Float32Array(n);
      const gw1 = w ? rand(cols, 4) : null, gw2 = gw1 ? gw1.slice() : null;
      N.rmsNormBackward(x, w, r2, gy, gx1, gw1, rows, cols, wOffset);
      R.rmsNormBackward(x, w, r2, gy, gx2, gw2, rows, cols, wOffset);
      assertClose(gx1, gx2, 1e-5, 1e-5, `rmsNorm gx ${rows}x${cols}`);
      if (gw1) assertClose(gw1, gw2!, 1e-5, 1e-4, `rmsNorm gw ${rows}x${cols}`);
    }
  }
});

test("layerNorm and layerNormBackward ≡ reference (weight/bias optional, gw/gb accumulate)", { skip }, () => {
  for (const [rows, cols] of SHAPES) {
    const n = rows * cols;
    const x = rand(n, cols, -2, 4);
    for (const [w, b] of [[null, null], [rand(cols, 1), null], [rand(cols, 2), rand(cols, 3)], [null, rand(cols, 4)]] as const) {
      const y1 = new Float32Array(n), y2 = new Float32Array(n);
      const m1 = new Float32Array(rows), m2 = new Float32Array(rows), r1 = new Float32Array(rows), r2 = new Float32Array(rows);
      N.layerNorm(x, w, b, y1, m1, r1, rows, cols, 1e-5);
      R.layerNorm(x, w, b, y2, m2, r2, rows, cols, 1e-5);
      assertClose(y1, y2, 1e-5, 1e-5, `layerNorm ${rows}x${cols}`);
      assertClose(m1, m2, 1e-6, 1e-6, `mean ${rows}x${cols}`);
      assertClose(r1, r2, 1e-5, 1e-5, `rstd ${rows}x${cols}`);
      const gy = rand(n, 9);
      const gx1 = new Float32Array(n), gx2 = new Float32Array(n);
      const gw1 = rand(cols, 5), gw2 = gw1.slice(), gb1 = rand(cols, 6), gb2 = gb1.slice();
      N.layerNormBackward(x, w, m2, r2, gy, gx1, gw1, b ? gb1 : null, rows, cols);
      R.layerNormBackward(x, w, m2, r2, gy, gx2, gw2, b ? gb2 : null, rows, cols);
      assertClose(gx1, gx2, 1e-5, 1e-5, `layerNorm gx ${rows}x${cols}`);
      assertClose(gw1, gw2, 1e-5, 1e-4, `layerNorm gw ${rows}x${cols}`);
      assertClose(gb1, gb2, 1e-5, 1e-4, `layerNorm gb ${rows}x${cols}`);
    }
  }
});

test("embedding gather / scatter-add ≡ reference (repeated ids)", { skip }, () => {
  for (const [vocab, dim, n] of [[1, 1, 1], [10, 7, 63], [50, 65, 130], [3, 257, 9], [1000, 600, 300]] as const) {
    const w = rand(vocab * dim, dim);
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 7) % vocab);
    const o1 = new Float32Array(n * dim), o2 = new Float32Array(n * dim);
    N.embedding(w, ids, o1, n, dim);
    R.embedding(w, ids, o2, n, dim);
    sameBits(o1, o2, `embedding ${vocab}x${dim}`);
    const gy = rand(n * dim, n);
    const g1 = rand(vocab * dim, 1), g2 = g1.slice();
    N.embeddingBackward(gy, ids, g1, n, dim);
    R.embeddingBackward(gy, ids, g2, n, dim);
    sameBits(g1, g2, `embeddingBackward ${vocab}x${dim}`);
  }
  assert.throws(() => N.embedding(new Float32Array(8), Int32Array.from([4]), new Float32Array(2), 1, 2), /range/);
});

test("adamw ≡ reference", { skip }, () => {
  for (const n of [1, 7, 63, 65, 130, 257, 100003]) {
    const p1 = rand(n, 1), g = rand(n, 2), m1 = rand(n, 3, -0.01, 0.01), v1 = rand(n, 4, 0, 1e-4);
    const p2 = p1.slice(), m2 = m1.slice(), v2 = v1.slice();
    const args = [1e-3, 0.9, 0.95, 1e-8, 0.1, 1 - 0.9 ** 7, 1 - 0.95 ** 7] as const;
    N.adamw(p1, g, m1, v1, n, ...args);
    R.adamw(p2, g, m2, v2, n, ...args);
    assertClose(p1, p2, 1e-6, 1e-7, `adamw p[${n}]`);
    assertClose(m1, m2, 1e-6, 1e-8, `adamw m[${n}]`); // |m| ≪ its terms (≈0.1·|g|): float rounding of those
    assertClose(v1, v2, 1e-6, 1e-9, `adamw v[${n}]`);
  }
});
