/**
 * Native causal depthwise conv1d (native/src/ops_conv.cc) ≡ the reference kernels
 * (src/backend/reference/conv.ts): forward with/without bias and initial state, backward
 * (gx, gState, and gw/gb accumulated +=), odd T and channel counts, K ∈ {1, 2, 3, 4}, T < K;
 * identical bits with CHIMERA_THREADS=1 and 2. Skips cleanly when the addon is not built.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { N, R, rand, skip } from "./helpers.js";
import { assertThreadIndependent } from "./seq-threads.js";

test("causalConv1d forward/backward: native ≡ reference (bias, state, odd T, K ≤ 4)", { skip }, () => {
  assert.equal(N.causalConv1d === R.causalConv1d, false, "causalConv1d is not native");
  let seed = 1;
  for (const T of [1, 2, 7, 63, 65, 130])
    for (const [B, C, K] of [[1, 1, 1], [2, 5, 4], [3, 33, 3], [2, 64, 4], [1, 17, 2]] as [number, number, number][])
      for (const bias of [false, true])
        for (const state of [false, true]) {
          const what = `conv B=${B} T=${T} C=${C} K=${K} bias=${bias} state=${state}`;
          const x = rand(B * T * C, seed++), w = rand(C * K, seed++);
          const b = bias ? rand(C, seed++) : null;
          const st = state ? rand(B * (K - 1) * C, seed++) : null;
          const yR = new Float32Array(x.length), yN = new Float32Array(x.length).fill(NaN);
          R.causalConv1d(x, w, b, st, yR, B, T, C, K);
          N.causalConv1d(x, w, b, st, yN, B, T, C, K);
          assertClose(yN, yR, 1e-6, 1e-6, `${what} out`);
          const gy = rand(x.length, seed++);
          // gx, gState are written (start from NaN); gw, gb accumulate onto the same start
          const gw0 = rand(C * K, seed++), gb0 = rand(C, seed++);
          const r = { gx: new Float32Array(x.length), gw: gw0.slice(), gb: bias ? gb0.slice() : null, gs: st ? new Float32Array(st.length) : null };
          const n = { gx: r.gx.slice().fill(NaN), gw: gw0.slice(), gb: bias ? gb0.slice() : null, gs: st ? new Float32Array(st.length).fill(NaN) : null };
          R.causalConv1dBackward(x, w, st, gy, r.gx, r.gw, r.gb, r.gs, B, T, C, K);
          N.causalConv1dBackward(x, w, st, gy, n.gx, n.gw, n.gb, n.gs, B, T, C, K);
          assertClose(n.gx, r.gx, 1e-6, 1e-6, `${what} gx`);
          assertClose(n.gw, r.gw, 3e-5, 3e-5, `${what} gw`); // sums over B·T rows in another order
          if (r.gb) assertClose(n.gb!, r.gb, 3e-5, 3e-5, `${what} gb`);
          if (r.gs) assertClose(n.gs!, r.gs, 1e-6, 1e-6, `${what} gState`);
        }
});

test("causalConv1d: outputs identical with CHIMERA_THREADS=1 and 2", { skip }, async () => {
  await assertThreadIndependent("conv");
});
