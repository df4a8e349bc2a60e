// Activation checkpointing (src/autograd/checkpoint.ts): gradients through a checkpointed
// 3-layer MLP segment with dropout equal the plain gradients bit for bit; nested checkpoints;
// several outputs; the segment really is recomputed, and the RNG is left where it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { randn } from "../../src/tensor/creation.js";
import { defaultGenerator, manualSeed } from "../../src/tensor/rng.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { checkpoint, checkpointRecomputeCount } from "../../src/autograd/checkpoint.js";
import { gradcheck, randn64 } from "../helpers/gradcheck.js";

interface Layer {
  w: Tensor;
  b: Tensor;
}

function makeParams(dims: number[], seed: number): Layer[] {
  manualSeed(seed);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < dims.length; i++)
    layers.push({ w: randn([dims[i + 1]!, dims[i]!], { std: 1 / Math.sqrt(dims[i]!) }).requiresGrad_(), b: randn([dims[i + 1]!], { std: 0.1 }).requiresGrad_() });
  return layers;
}

let calls = 0;
/** linear → gelu → dropout, three times (the last without activation). */
function mlp(layers: Layer[], p: number): (h: Tensor) => Tensor {
  return (h) => {
    calls++;
    layers.forEach((l, i) => {
      h = ops.linear(h, l.w, l.b);
      if (i + 1 < layers.length) h = ops.dropout(ops.gelu(h), p);
    });
    return h;
  };
}

/** Runs loss = Σ (f(x)·2)² + Σ x (x used outside the segment too) and returns every gradient. */
function run(layers: Layer[], x: Tensor, useCheckpoint: boolean, p: number): { grads: number[][]; rngAfter: number; loss: number } {
  for (const l of layers) l.w.grad = l.b.grad = null;
  x.grad = null;
  manualSeed(42);
  const f = mlp(layers, p);
  const y = useCheckpoint ? checkpoint(f, x) : f(x);
  const loss = ops.add(ops.sum(ops.square(ops.mul(y, 2))), ops.sum(x));
  // draw after the forward so backward must restore the generator to here, not to the forward
  const offsetBeforeBackward = defaultGenerator().offset;
  backward([loss]);
  assert.equal(defaultGenerator().offset, offsetBeforeBackward, "generator restored after the recompute");
  const grads = [...layers.flatMap((l) => [l.w.grad!.toArray(), l.b.grad!.toArray()])];
  if (x.requiresGrad) grads.push(x.grad!.toArray());
  return { grads, rngAfter: defaultGenerator().offset, loss: loss.item() };
}

test("checkpointed 3-layer MLP with dropout: gradients bit-equal to the plain ones; forward recomputed once", () => {
  const layers = makeParams([33, 65, 63, 7], 1);
  for (const xNeedsGrad of [true, false]) {
    manualSeed(3);
    const x = randn([9, 33]).requiresGrad_(xNeedsGrad);
    calls = 0;
    const plain = run(layers, x, false, 0.25);
    assert.equal(calls, 1);
    calls = 0;
    const r0 = checkpointRecomputeCount();
    const ck = run(layers, x, true, 0.25);
    assert.equal(calls, 2, "forward once without recording, once more in backward");
    assert.equal(checkpointRecomputeCount(), r0 + 1);
    assert.equal(ck.loss, plain.loss);
    assert.equal(ck.rngAfter, plain.rngAfter);
    assert.equal(ck.grads.length, plain.grads.length);
    ck.grads.forEach((g, i) => assert.deepEqual(g, plain.grads[i], `gradient ${i} (x requires grad: ${xNeedsGrad})`));
  }
});

test("the checkpoint node holds only the segment's inputs (no intermediate graph)", () => {
  const layers = makeParams([8, 16, 16, 4], 2);
  const x = randn([3, 8]).requiresGrad_();
  const y = checkpoint(mlp(layers, 0.1), x);
  assert.equal(y.node!.op, "checkpoint");
  assert.deepEqual(y.node!.inputs, [x]);
  assert.equal(y.requiresGrad, true);
  // under noGrad it is just a call
  const z = noGrad(() => checkpoint(mlp(layers, 0.1), x));
  assert.equal(z.node, null);
});

test("nested checkpoints and several outputs give the plain gradients", () => {
  const layers = makeParams([12, 20, 20, 20, 5], 4);
  const [l1, l2, l3, l4] = layers as [Layer, Layer, Layer, Layer];
  const block = (l: Layer) => (h: Tensor) => {
    calls++;
    return ops.dropout(ops.tanh(ops.linear(h, l.w, l.b)), 0.2);
  };
  const seg = (h: Tensor): Tensor[] => {
    const a = checkpoint(block(l1), h);
    const b = checkpoint(block(l2), a);
    return [b, ops.mul(a, 0.5)];
  };
  const lossOf = (outs: Tensor[]): Tensor => {
    const [b, a] = outs as [Tensor, Tensor];
    const c = checkpoint(block(l3), ops.add(b, a));
    return ops.sum(ops.square(ops.linear(c, l4.w, l4.b)));
  };
  const grads = (useCk: boolean): number[][] => {
    for (const l of layers) l.w.grad = l.b.grad = null;
    manualSeed(9);
    const x = randn([6, 12]).requiresGrad_();
    const outs = useCk ? checkpoint(seg, x) : noCk(x);
    backward([lossOf(outs)]);
    return [...layers.flatMap((l) => [l.w.grad!.toArray(), l.b.grad!.toArray()]), x.grad!.toArray()];
  };
  // the same computation with every checkpoint removed
  const noCk = (h: Tensor): Tensor[] => {
    const a = block(l1)(h);
    const b = block(l2)(a);
    return [b, ops.mul(a, 0.5)];
  };
  calls = 0;
  const ck = grads(true);
  // l1, l2: outer forward (1) + inner forward inside the outer recompute (1) + inner recompute (1); l3: 2
  assert.equal(calls, 3 + 3 + 2);
  const plain = grads(false);
  ck.forEach((g, i) => assert.deepEqual(g, plain[i], `gradient ${i}`));
});

test("checkpoint gradients match finite differences (float64) and a retained graph can run twice", () => {
  const w = randn64([5, 4], 5);
  gradcheck((x, wt) => checkpoint((h) => ops.sum(ops.sigmoid(ops.matmul(h, wt!)), 0), x!), [randn64([3, 5], 6), w]);
  const x = randn64([2, 5], 7).requiresGrad_();
  const y = ops.sum(checkpoint((h) => ops.exp(h), x));
  backward([y], undefined, { retainGraph: true });
  backward([y]);
  const e = x.toArray().map(Math.exp);
  x.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - 2 * e[i]!) < 1e-12));
});
