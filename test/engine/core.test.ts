import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { tensor, zeros, randn, arange } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { gradcheck, randn64, assertClose } from "../helpers/gradcheck.js";
import { OpError } from "../../src/errors.js";

test("views share storage and contiguous copies strided data", () => {
  const x = arange(24).requiresGrad_(false);
  const y = ops.reshape(x, [2, 3, 4]);
  assert.equal(y.data, x.data);
  const t = ops.transpose(y, 0, 2); // [4, 3, 2]
  assert.deepEqual(t.shape, [4, 3, 2]);
  assert.equal(t.at(3, 2, 1), y.at(1, 2, 3));
  const c = ops.contiguous(t);
  assert.ok(c.isContiguous());
  assert.equal(c.at(3, 2, 1), 23);
  const s = ops.slice(y, 2, 1, 3);
  assert.deepEqual(s.toArray().slice(0, 4), [1, 2, 5, 6]);
  const e = ops.expand(tensor([1, 2, 3], [3, 1]), [3, 4]);
  assert.deepEqual(e.toArray(), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
});

test("broadcasting binary ops: forward and gradients", () => {
  for (const op of ["add", "sub", "mul", "div", "max", "min"] as const) {
    const a = randn64([3, 1, 5], 1);
    const b = randn64([4, 1], 2);
    if (op === "div") for (let i = 0; i < b.size; i++) b.data[i] = 1.5 + Math.abs(b.data[i]!);
    gradcheck((x, y) => ops.binaryOp(op, x!, y!), [a, b]);
  }
  gradcheck((x, y) => ops.pow(ops.affine(ops.abs(x!), 1, 0.5), y!), [randn64([2, 3], 3), randn64([3], 4)]);
});

test("unary ops gradients", () => {
  const x = randn64([7, 9], 5);
  for (const op of ["neg", "exp", "tanh", "sigmoid", "silu", "gelu", "gelu_tanh", "softplus", "sin", "cos", "square"] as const)
    gradcheck((t) => ops.unaryOp(op, t!), [x]);
  const pos = ops.affine(ops.abs(x), 1, 0.1);
  for (const op of ["log", "sqrt", "rsqrt", "recip"] as const) gradcheck((t) => ops.unaryOp(op, t!), [pos.detach()]);
});

test("reductions and their gradients", () => {
  const x = randn64([4, 5, 6], 6);
  gradcheck((t) => ops.sum(t!, [0, 2]), [x]);
  gradcheck((t) => ops.mean(t!, 1, true), [x]);
  gradcheck((t) => ops.max(t!, 2), [x]);
  gradcheck((t) => ops.min(t!, 0), [x]);
  gradcheck((t) => ops.logsumexp(t!, -1), [x]);
  assertClose(ops.sum(tensor([[1, 2], [3, 4]]), 0).toArray(), [4, 6]);
  assert.deepEqual(Array.from(ops.argmax(tensor([[1, 5, 2], [7, 0, 7]]), 1)), [1, 0]);
});

test("matmul: batched, broadcast, transposed and vector operands", () => {
  gradcheck((a, b) => ops.matmul(a!, b!), [randn64([2, 3, 5], 1), randn64([5, 4], 2)]);
  gradcheck((a, b) => ops.matmul(a!, b!), [randn64([2, 3, 5], 1), randn64([2, 5, 4], 2)]);
  gradcheck((a, b) => ops.matmul(a!, b!), [randn64([3, 5], 1), randn64([2, 5, 4], 2)]);
  gradcheck((a, b) => ops.matmul(ops.transpose(a!), b!), [randn64([5, 3], 1), randn64([5, 4], 2)]);
  gradcheck((a, b) => ops.matmul(a!, ops.transpose(b!, 1, 2)), [randn64([2, 3, 5], 1), randn64([2, 4, 5], 2)]);
  gradcheck((a, b) => ops.matmul(a!, b!), [randn64([5], 1), randn64([5, 4], 2)]);
  gradcheck((x, w, b) => ops.linear(x!, w!, b!), [randn64([2, 3, 5], 1), randn64([4, 5], 2), randn64([4], 3)]);
  const a = tensor([[1, 2], [3, 4]]);
  const b = tensor([[5, 6], [7, 8]]);
  assert.deepEqual(ops.matmul(a, b).toArray(), [19, 22, 43, 50]);
  assert.throws(() => ops.matmul(a, zeros([3, 2])), (e: Error) => e instanceof OpError && /matmul/.test(e.message) && /\[2, 2\]/.test(e.message));
});

test("gradients accumulate into leaves across backward calls and graphs are freed", () => {
  const w = tensor([1, 2, 3]).requiresGrad_();
  for (let i = 0; i < 2; i++) {
    const y = ops.sum(ops.mul(w, w));
    backward([y]);
  }
  assert.deepEqual(w.grad!.toArray(), [4, 8, 12]);
  const y = ops.sum(ops.mul(w, 2));
  backward([y]);
  assert.throws(() => backward([y]), /already freed/);
});

test("noGrad records nothing; released tensors name themselves on use", () => {
  const w = randn([3]).requiresGrad_();
  const y = noGrad(() => ops.mul(w, 2));
  assert.equal(y.requiresGrad, false);
  const t = randn([2, 2]);
  t.release();
  assert.throws(() => ops.add(t, 1), (e: Error) => /add/.test(e.message) && /release/.test(e.message) && /\[2, 2\]/.test(e.message));
});

test("shape errors name the op and shapes", () => {
  assert.throws(() => ops.add(zeros([2, 3]), zeros([4, 3])), /add: shapes \[2, 3\] and \[4, 3\]/);
  assert.throws(() => ops.reshape(zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\]/);
  assert.throws(() => ops.add(zeros([2]), new Tensor(new Float64Array(2), [2])), /add: dtype mismatch/);
});
