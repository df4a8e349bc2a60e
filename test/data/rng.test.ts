/** Seeded PRNG for data order: deterministic per seed, in range, unbiased permutations. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { permutation, Rng } from "../../src/data/rng.js";

test("rng: same seeds give the same stream; different seeds (or epochs) differ", () => {
  const draw = (...s: number[]) => Array.from({ length: 8 }, ((r) => () => r.nextU32())(new Rng(...s)));
  assert.deepEqual(draw(1, 0), draw(1, 0));
  assert.notDeepEqual(draw(1, 0), draw(1, 1));
  assert.notDeepEqual(draw(1), draw(2));
  assert.notDeepEqual(draw(2 ** 40), draw(0)); // high bits of large seeds count
});

test("rng: below(n) stays in range and is roughly uniform; permutations are permutations", () => {
  const r = new Rng(5);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[r.below(6)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, String(counts));
  for (let i = 0; i < 1000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
  }
  const p = permutation(1000, new Rng(9));
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, permutation(1000, new Rng(9)));
});
