/**
 * Native rotary embedding (native/src/ops_rope.cc) ≡ the reference kernel
 * (src/backend/reference/rope.ts): forward and inverse, rotate-half and interleaved pairs,
 * partial rotary (R < D), odd token counts, in place (out = x), and identical bits with
 * CHIMERA_THREADS=1 and 2. Skips cleanly when the addon is not built.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { N, R, ODD, rand, skip } from "./helpers.js";
import { assertThreadIndependent } from "./seq-threads.js";

test("rope: native ≡ reference (both pairings, forward/inverse, partial rotary, odd N)", { skip }, () => {
  assert.equal(N.rope === R.rope, false, "rope is not native");
  let seed = 1;
  for (const n of ODD)
    for (const [H, D, Rd] of [[1, 2, 2], [3, 16, 16], [2, 10, 4], [4, 64, 16], [2, 130, 64]] as [number, number, number][])
      for (const interleaved of [false, true])
        for (const inverse of [false, true]) {
          const P = n + 5;
          const x = rand(n * H * D, seed++, -3, 3);
          const cos = rand(P * (Rd / 2), seed++), sin = rand(P * (Rd / 2), seed++);
          const pos = Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % P);
          const want = new Float32Array(x.length);
          const got = new Float32Array(x.length).fill(NaN);
          R.rope(x, want, pos, cos, sin, n, H, D, Rd, interleaved, inverse);
          N.rope(x, got, pos, cos, sin, n, H, D, Rd, interleaved, inverse);
          const what = `rope n=${n} H=${H} D=${D} R=${Rd} interleaved=${interleaved} inverse=${inverse}`;
          assertClose(got, want, 1e-7, 1e-6, what);
          const inPlace = x.slice();
          N.rope(inPlace, inPlace, pos, cos, sin, n, H, D, Rd, interleaved, inverse);
          assertClose(inPlace, want, 1e-7, 1e-6, `${what} (in place)`);
        }
});

test("rope: inverse undoes a pure rotation", { skip }, () => {
  const [n, H, D, Rd] = [65, 2, 32, 16];
  const x = rand(n * H * D, 9);
  const cos = new Float32Array(n * (Rd / 2)), sin = new Float32Array(n * (Rd / 2));
  for (let p = 0; p < n; p++)
    for (let i = 0; i < Rd / 2; i++) {
      const a = p * Math.pow(10000, (-2 * i) / Rd);
      cos[p * (Rd / 2) + i] = Math.cos(a);
      sin[p * (Rd / 2) + i] = Math.sin(a);
    }
  const pos = Int32Array.from({ length: n }, (_, i) => i);
  for (const interleaved of [false, true]) {
    const y = new Float32Array(x.length), back = new Float32Array(x.length);
    N.rope(x, y, pos, cos, sin, n, H, D, Rd, interleaved, false);
    N.rope(y, back, pos, cos, sin, n, H, D, Rd, interleaved, true);
    assertClose(back, x, 1e-6, 1e-6, `round trip interleaved=${interleaved}`);
  }
});

test("rope: a position outside the tables is a RangeError, not a crash", { skip }, () => {
  const x = new Float32Array(8), cos = new Float32Array(4), sin = new Float32Array(4);
  assert.throws(() => N.rope(x, x, Int32Array.of(2), cos, sin, 1, 2, 4, 4, false, false), RangeError);
});

test("rope: outputs identical with CHIMERA_THREADS=1 and 2", { skip }, async () => {
  await assertThreadIndependent("rope");
});
