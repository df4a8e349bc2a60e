/**
 * Whole ops (forward and backward through autograd) under withBackend("native") ≡ the same ops
 * under the reference backend, on odd shapes: the kernels are exercised with the argument
 * patterns the ops really produce (views, broadcasts, batched/transposed matmuls).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { backward } from "../../src/autograd/backward.js";
import { withBackend } from "../../src/backend/index.js";
import * as ops from "../../src/ops/index.js";
import { assertClose } from "../helpers/gradcheck.js";
import { N, R, rand, skip } from "./helpers.js";

function leaf(shape: number[], seed: number): Tensor {
  const t = new Tensor(rand(shape.reduce((p, d) => p * d, 1), seed), shape);
  t.requiresGrad = true;
  return t;
}

/** Runs fn on fresh leaves under a backend; returns output values and the leaves' gradients. */
function run(backend: "native" | "reference", shapes: number[][], fn: (...xs: Tensor[]) => Tensor): Float32Array[] {
  return withBackend(backend, () => {
    const xs = shapes.map((s, i) => leaf(s, 100 + i));
    const y = fn(...xs);
    backward([ops.sum(ops.mul(y, ops.affine(y, 0.5, 1)))]);
    return [Float32Array.from(y.dense()), ...xs.map((x) => Float32Array.from(x.grad!.dense()))];
  });
}

function same(name: string, shapes: number[][], fn: (...xs: Tensor[]) => Tensor, rtol = 1e-5, atol = 1e-5): void {
  const a = run("native", shapes, fn), b = run("reference", shapes, fn);
  for (let i = 0; i < a.length; i++) assertClose(a[i]!, b[i]!, rtol, atol, `${name} ${i === 0 ? "output" : `grad ${i - 1}`}`);
}

test("ops under the native backend ≡ reference backend (forward and gradients)", { skip }, () => {
  same("matmul batched/broadcast", [[2, 7, 65], [65, 33]], (a, b) => ops.matmul(a!, b!));
  same("matmul transposed", [[63, 7], [63, 130]], (a, b) => ops.matmul(ops.transpose(a!), b!));
  same("linear", [[3, 5, 33], [17, 33], [17]], (x, w, b) => ops.linear(x!, w!, b!));
  same("broadcast arithmetic", [[4, 1, 65], [7, 1], [65]], (a, b, c) => ops.div(ops.add(ops.mul(a!, b!), c!), ops.affine(ops.abs(c!), 1, 1)));
  same("activations", [[7, 130]], (x) => ops.add(ops.gelu(x!), ops.mul(ops.silu(x!), ops.tanh(x!))));
  same("reductions", [[5, 63, 7]], (x) => ops.add(ops.sum(x!, [1]), ops.logsumexp(x!, 1)));
  same("softmax / logSoftmax", [[7, 257]], (x) => ops.add(ops.softmax(x!), ops.logSoftmax(x!)));
  same("rmsNorm", [[7, 65], [65]], (x, w) => ops.rmsNorm(x!, w!));
  same("layerNorm", [[3, 130], [130], [130]], (x, w, b) => ops.layerNorm(x!, w!, b!));
  same("permute + contiguous", [[3, 7, 65]], (x) => ops.contiguous(ops.permute(x!, [2, 0, 1])));
});

test("tiny problems (≤ 16 elements) take the reference path by default and agree with the addon", { skip }, async () => {
  const { setNativeSmallThreshold } = await import("../../src/backend/native/index.js");
  const x = rand(16, 1), outA = new Float32Array(16), outB = new Float32Array(16);
  const old = setNativeSmallThreshold(16);
  try {
    N.unary("gelu", x, outA, 16);
    R.unary("gelu", x, outB, 16);
    assert.deepEqual(outA, outB);
  } finally {
    setNativeSmallThreshold(old);
  }
  N.unary("gelu", x, outA, 16); // native now
  assertClose(outA, outB, 1e-6, 1e-7, "gelu 16");
});
