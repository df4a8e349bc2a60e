// Custom ops with hand-written backward (src/autograd/custom.ts): a fused x·σ(x) against
// finite differences and the built-in silu, multi-output ops with non-differentiable outputs,
// non-tensor arguments, and the checks on what backward returns.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { tensor } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad, setCheckFinite } from "../../src/autograd/node.js";
import { customOp } from "../../src/autograd/custom.js";
import { gradcheck, randn64, assertClose } from "../helpers/gradcheck.js";

let forwardCalls = 0;
/** SiLU in one pass, with its derivative σ(x)·(1 + x·(1 − σ(x))) written by hand. */
const siluFused = customOp("siluFused", {
  forward(ctx, x: Tensor) {
    forwardCalls++;
    const xd = x.dense();
    const s = new Tensor(x.dtype === "float64" ? new Float64Array(x.size) : new Float32Array(x.size), x.shape);
    const y = new Tensor(x.dtype === "float64" ? new Float64Array(x.size) : new Float32Array(x.size), x.shape);
    for (let i = 0; i < x.size; i++) {
      s.data[i] = 1 / (1 + Math.exp(-xd[i]!));
      y.data[i] = xd[i]! * s.data[i]!;
    }
    ctx.save(x, s);
    return y;
  },
  backward(ctx, g) {
    const [x, s] = ctx.saved;
    const d = ops.mul(s!, ops.add(ops.mul(x!, ops.sub(1, s!)), 1));
    return [ops.mul(g!, d)];
  },
});

test("customOp: fused x·σ(x) matches finite differences and the built-in silu", () => {
  const x = randn64([7, 9], 1, 3);
  gradcheck((t) => siluFused(t!), [x]);
  gradcheck((t) => ops.sum(ops.mul(siluFused(t!), t!), 1), [randn64([5, 13], 2)]);
  const a = randn64([5, 3], 3).requiresGrad_();
  const b = a.detach().requiresGrad_();
  const ya = siluFused(a);
  assert.equal(ya.node!.op, "siluFused");
  backward([ops.sum(ya)]);
  backward([ops.sum(ops.silu(b))]);
  assertClose(ya.toArray(), noGrad(() => ops.silu(b)).toArray(), 1e-12, 1e-14, "forward");
  assertClose(a.grad!.toArray(), b.grad!.toArray(), 1e-12, 1e-14, "grad");
  // forward runs once and records exactly one node (no inner ops on the tape)
  const before = forwardCalls;
  const y = siluFused(randn64([3], 4).requiresGrad_());
  assert.equal(forwardCalls, before + 1);
  assert.deepEqual(y.node!.inputs.map((t) => t?.shape), [[3]]);
  // no grad needed: no node
  assert.equal(siluFused(randn64([3], 5)).node, null);
  assert.equal(noGrad(() => siluFused(randn64([3], 5).requiresGrad_())).node, null);
});

test("customOp: several outputs, non-differentiable outputs, non-tensor arguments", () => {
  let needs: boolean[] = [];
  // row max with its position: values get gradient, positions are marked non-differentiable
  const rowMax = customOp("rowMax", {
    forward(ctx, x: Tensor, scale: number) {
      const [R, C] = x.shape as [number, number];
      const v = new Tensor(new Float64Array(R), [R]);
      const at = new Tensor(new Float64Array(R), [R]);
      for (let r = 0; r < R; r++) {
        let best = 0;
        for (let c = 1; c < C; c++) if (x.at(r, c) > x.at(r, best)) best = c;
        v.data[r] = x.at(r, best) * scale;
        at.data[r] = best;
      }
      ctx.set("shape", x.shape);
      ctx.set("scale", scale);
      ctx.save(at);
      ctx.markNonDifferentiable(at);
      needs = ctx.needsInputGrad.slice();
      return [v, at];
    },
    backward(ctx, gv, gAt) {
      assert.equal(gAt, null, "non-differentiable output gets no gradient");
      const [R, C] = ctx.get<number[]>("shape") as [number, number];
      const gx = new Tensor(new Float64Array(R * C), [R, C]);
      const at = ctx.saved[0]!;
      for (let r = 0; r < R; r++) gx.data[r * C + at.data[r]!] = gv!.data[r]! * ctx.get<number>("scale");
      return [gx, null];
    },
  });
  const x = randn64([6, 5], 6).requiresGrad_();
  const [v, at] = rowMax(x, 2);
  assert.deepEqual(needs, [true, false]);
  assert.equal(v!.requiresGrad, true);
  assert.equal(at!.requiresGrad, false);
  assert.equal(at!.node, null);
  gradcheck((t) => rowMax(t!, 2)[0]!, [x.detach()]);
  assert.throws(() => backward([ops.sum(ctxLess(randn64([2], 9).requiresGrad_()))]), /ctxLess: context has no value 'missing' \(set it in forward\)/);
});

const ctxLess = customOp("ctxLess", {
  forward(_ctx, x: Tensor) {
    return ops.mul(x, 2);
  },
  backward(ctx) {
    return [ctx.get<Tensor>("missing")];
  },
});

test("customOp: bad backward results name the op and shapes; pass-through outputs keep the input's node", () => {
  const wrongShape = customOp("wrongShape", {
    forward: (_ctx, x: Tensor) => ops.mul(x, 2),
    backward: () => [tensor([1, 2, 3])],
  });
  const x = randn64([2, 2], 7).requiresGrad_();
  assert.throws(() => backward([ops.sum(wrongShape(x))]), /wrongShape: backward returned a gradient of shape \[3\] float32 for argument 0 of shape \[2, 2\] float64/);
  const wrongCount = customOp("wrongCount", { forward: (_ctx, x: Tensor) => ops.mul(x, 2), backward: (_ctx, g) => [g, g] });
  assert.throws(() => backward([ops.sum(wrongCount(randn64([2], 8).requiresGrad_()))]), /wrongCount: backward returned 2 gradients for 1 arguments/);
  // identity: the output is the input itself; the input (a leaf) must stay a leaf
  const ident = customOp("ident", { forward: (_ctx, t: Tensor) => t, backward: (_ctx, g) => [g] });
  const leaf = randn64([3], 9).requiresGrad_();
  const y = ident(leaf);
  assert.notEqual(y, leaf);
  assert.equal(leaf.node, null);
  backward([ops.sum(ops.mul(y, y))]);
  assertClose(leaf.grad!.toArray(), leaf.toArray().map((v) => 2 * v), 1e-12, 1e-14, "identity grad");
});

test("customOp: the debug finite check names the custom op", () => {
  const bad = customOp("badLog", {
    forward: (_ctx, x: Tensor) => {
      const y = new Tensor(new Float64Array(x.size), x.shape);
      for (let i = 0; i < x.size; i++) y.data[i] = Math.log(x.data[i]!);
      return y;
    },
    backward: (_ctx, g) => [g],
  });
  setCheckFinite(true);
  try {
    assert.throws(() => bad(tensor([1, -1, 2], [3], { dtype: "float64" }).requiresGrad_()), /^ChimeraError: badLog: produced NaN at flat index 1 of output shape \[3\]/);
  } finally {
    setCheckFinite(false);
  }
});
