// No leaks: a tiny MLP (64→128→10, batch 32) trained with plain SGD for 1000 steps must not grow
// live memory (JS heap + ArrayBuffers, after a forced GC) between step 100 and step 1000.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randn } from "../../src/tensor/creation.js";
import { manualSeed } from "../../src/tensor/rng.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { forceGC, settledLiveMemory } from "../../src/autograd/memory.js";

test("tiny MLP trained 1000 steps: live memory does not grow", async () => {
  assert.ok(forceGC(), "a full GC can be forced");
  manualSeed(0);
  const [D, H, C, B, POOL] = [64, 128, 10, 32, 512];
  const params = [
    randn([H, D], { std: 1 / Math.sqrt(D) }).requiresGrad_(),
    randn([H], { std: 0.01 }).requiresGrad_(),
    randn([C, H], { std: 1 / Math.sqrt(H) }).requiresGrad_(),
    randn([C], { std: 0.01 }).requiresGrad_(),
  ];
  const [w1, b1, w2, b2] = params as [typeof params[0], typeof params[0], typeof params[0], typeof params[0]];
  // a fixed pool labelled by a random linear teacher
  const xs = randn([POOL, D]);
  const labels = ops.argmax(ops.matmul(xs, randn([D, C])), -1);
  const lr = 0.1;
  let pick = 12345;
  const losses: number[] = [];
  const step = (): void => {
    const ids = new Int32Array(B);
    for (let i = 0; i < B; i++) {
      pick = (Math.imul(pick, 1664525) + 1013904223) >>> 0;
      ids[i] = pick % POOL;
    }
    const x = ops.indexSelect(xs, 0, ids); // [B, D]
    const h = ops.gelu(ops.linear(x, w1, b1)); // [B, H]
    const logits = ops.linear(h, w2, b2); // [B, C]
    const loss = ops.crossEntropy(logits, ids.map((i) => labels[i]!));
    backward([loss]);
    noGrad(() => {
      for (const p of params) {
        ops.addInPlace_(p, p.grad!, -lr);
        p.grad = null;
      }
    });
    losses.push(loss.item());
  };
  const t0 = Date.now();
  for (let s = 1; s <= 100; s++) step();
  const at100 = await settledLiveMemory();
  for (let s = 101; s <= 1000; s++) step();
  const at1000 = await settledLiveMemory();
  const ms = Date.now() - t0;
  const growth = at1000.total - at100.total;
  const perStep100 = (at1000.tensorsCreated - at100.tensorsCreated) / 900;
  console.log(
    `memory: step 100 heap ${(at100.heapUsed / 1e6).toFixed(2)} MB + buffers ${(at100.arrayBuffers / 1e6).toFixed(2)} MB; ` +
      `step 1000 heap ${(at1000.heapUsed / 1e6).toFixed(2)} MB + buffers ${(at1000.arrayBuffers / 1e6).toFixed(2)} MB; ` +
      `growth ${(growth / 1e6).toFixed(3)} MB; ${perStep100.toFixed(1)} tensors/step; ${(ms / 1000).toFixed(2)} s; ` +
      `loss ${losses[0]!.toFixed(3)} → ${losses[losses.length - 1]!.toFixed(3)}`,
  );
  assert.ok(growth < 3e6, `live memory grew by ${(growth / 1e6).toFixed(2)} MB from step 100 to 1000`);
  const early = losses.slice(0, 50).reduce((a, b) => a + b) / 50;
  const late = losses.slice(-50).reduce((a, b) => a + b) / 50;
  assert.ok(late < early * 0.7, `training made progress: ${early} → ${late}`);
});
