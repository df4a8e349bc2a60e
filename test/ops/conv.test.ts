import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { OpError } from "../../src/errors.js";
import { gradcheck, randn64, assertClose, to32 } from "../helpers/gradcheck.js";
import { nativeMatchesReference, skipNative } from "./util.js";

/** Naive causal depthwise conv: explicit zero/state padding, then a sliding dot product. */
function naiveConv(x: Tensor, w: Tensor, bias: Tensor | null, state: Tensor | null): { out: Float64Array; newState: Float64Array } {
  const [B, T, C] = x.shape as [number, number, number];
  const K = w.shape[1]!;
  const L = T + K - 1;
  const pad = new Float64Array(B * L * C); // x̃ [B, K−1+T, C]
  for (let b = 0; b < B; b++)
    for (let s = 0; s < L; s++)
      for (let c = 0; c < C; c++) pad[(b * L + s) * C + c] = s < K - 1 ? (state ? state.at(b, s, c) : 0) : x.at(b, s - K + 1, c);
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        let acc = bias ? bias.at(c) : 0;
        for (let j = 0; j < K; j++) acc += w.at(c, j) * pad[(b * L + t + j) * C + c]!;
        out[(b * T + t) * C + c] = acc;
      }
  const newState = new Float64Array(B * (K - 1) * C);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < K - 1; s++)
      for (let c = 0; c < C; c++) newState[(b * (K - 1) + s) * C + c] = pad[(b * L + T + s) * C + c]!;
  return { out, newState };
}

test("causalConv1d matches a naive reference (with/without bias and state, T < K−1 too)", () => {
  for (const [B, T, C, K] of [[1, 1, 1, 1], [2, 7, 3, 4], [1, 63, 5, 4], [2, 65, 2, 2], [3, 2, 4, 4], [1, 130, 3, 3]] as const) {
    const x = randn64([B, T, C], T + C);
    const w = randn64([C, K], K);
    const bias = randn64([C], 3);
    const state = randn64([B, K - 1, C], 4);
    for (const [bb, ss] of [[null, null], [bias, null], [null, state], [bias, state]] as const) {
      const ref = naiveConv(x, w, bb, ss);
      const r = ops.causalConv1d(x, w, bb, ss);
      assert.deepEqual(r.out.shape, [B, T, C]);
      assert.deepEqual(r.newState.shape, [B, K - 1, C]);
      assertClose(r.out.dense(), ref.out, 1e-12, 1e-12, "conv out");
      assertClose(r.newState.dense(), ref.newState, 0, 0, "conv newState");
      const r32 = ops.causalConv1d(to32(x), to32(w), bb && to32(bb), ss && to32(ss));
      assertClose(r32.out.dense(), ref.out, 1e-5, 1e-5, "conv f32");
    }
  }
});

test("decode with state ≡ full sequence, position by position; chunked prefill ≡ full", () => {
  const [B, T, C, K] = [2, 13, 5, 4];
  const x = randn64([B, T, C], 1);
  const w = randn64([C, K], 2);
  const bias = randn64([C], 3);
  const full = ops.causalConv1d(x, w, bias, null);
  let state: Tensor | null = null;
  for (let t = 0; t < T; t++) {
    const step = ops.causalConv1d(ops.slice(x, 1, t, t + 1), w, bias, state);
    assertClose(step.out.dense(), ops.slice(full.out, 1, t, t + 1).dense(), 1e-13, 1e-14, `decode step ${t}`);
    state = step.newState;
  }
  assertClose(state!.dense(), full.newState.dense(), 0, 0, "final state");
  // two chunks (the first shorter than K−1) then the rest
  const a = ops.causalConv1d(ops.slice(x, 1, 0, 2), w, bias, null);
  const b = ops.causalConv1d(ops.slice(x, 1, 2, 7), w, bias, a.newState);
  const c = ops.causalConv1d(ops.slice(x, 1, 7), w, bias, b.newState);
  assertClose(a.out.dense(), ops.contiguous(ops.slice(full.out, 1, 0, 2)).dense(), 1e-13, 1e-14, "chunk 1");
  assertClose(b.out.dense(), ops.contiguous(ops.slice(full.out, 1, 2, 7)).dense(), 1e-13, 1e-14, "chunk 2");
  assertClose(c.out.dense(), ops.contiguous(ops.slice(full.out, 1, 7)).dense(), 1e-13, 1e-14, "chunk 3");
  assertClose(c.newState.dense(), full.newState.dense(), 0, 0, "chunked state");
});

test("causalConv1d gradients: x, w, bias, state, and through newState (gradcheck)", () => {
  const x = randn64([2, 7, 3], 1);
  const w = randn64([3, 4], 2);
  const bias = randn64([3], 3);
  const state = randn64([2, 3, 3], 4);
  gradcheck((a, b, c, d) => ops.causalConv1d(a!, b!, c!, d!).out, [x, w, bias, state]);
  gradcheck((a, b) => ops.causalConv1d(a!, b!).out, [x, w]);
  // a loss on both outputs (T=2 < K−1=3, so newState mixes state and x)
  const both = (a: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor => {
    const r = ops.causalConv1d(a, b, c, d);
    return ops.add(ops.sum(ops.square(r.out)), ops.sum(ops.mul(r.newState, r.newState)));
  };
  gradcheck((a, b, c, d) => both(a!, b!, c!, d!), [randn64([2, 2, 3], 5), w, bias, state]);
  gradcheck((a, b, c, d) => both(a!, b!, c!, d!), [x, w, bias, state]);
  gradcheck((a, b) => ops.causalConv1d(a!, b!).out, [randn64([1, 65, 2], 6), randn64([2, 3], 7)], { maxProbe: 40 });
  gradcheck((a, b, c) => ops.causalConv1d(a!, b!, c!).out, [randn64([2, 5, 2], 8), randn64([2, 1], 9), randn64([2], 10)]);
});

test("causalConv1d errors name the op and every shape", () => {
  const x = randn64([2, 5, 3], 1);
  assert.throws(() => ops.causalConv1d(x, randn64([4, 3], 2)), (e: Error) => e instanceof OpError && /causalConv1d: w must be \[C, K\]/.test(e.message) && /x \[2, 5, 3\], w \[4, 3\]/.test(e.message));
  assert.throws(() => ops.causalConv1d(x, randn64([3, 4], 2), null, randn64([2, 4, 3], 3)), /causalConv1d: state must be \[2, 3, 3\]/);
  assert.throws(() => ops.causalConv1d(x, randn64([3, 4], 2), randn64([2], 3)), /causalConv1d: bias must be \[3\]/);
  assert.throws(() => ops.causalConv1d(randn64([5, 3], 1), randn64([3, 4], 2)), /causalConv1d: x must be \[B, T, C\]/);
});

test("native ≡ reference: causalConv1d", { skip: skipNative }, () => {
  nativeMatchesReference((a, b, c, d) => ops.causalConv1d(a!, b!, c!, d!).out, [randn64([2, 65, 40], 1), randn64([40, 4], 2), randn64([40], 3), randn64([2, 3, 40], 4)]);
  nativeMatchesReference((a, b) => ops.causalConv1d(a!, b!).out, [randn64([1, 7, 5], 1), randn64([5, 4], 2)]);
});
