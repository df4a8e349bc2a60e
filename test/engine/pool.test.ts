// The buffer pool (src/tensor/pool.ts) and what the autograd engine frees into it
// (src/autograd/backward.ts): a buffer comes back only when no live tensor uses it (views,
// wrappers of subarrays); a user's release() never recycles; gradients a customOp keeps stay
// valid; releaseIntermediates frees the graph but not the roots; training gives the same losses
// bit for bit with the pool and the freeing on or off (with and without checkpointing); and
// steady-state training steps allocate almost nothing new while live memory stays flat.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { randn } from "../../src/tensor/creation.js";
import { Generator, manualSeed, philoxUniform } from "../../src/tensor/rng.js";
import { isFree, poolStats, setPoolEnabled, sizeClass, storageUsers } from "../../src/tensor/pool.js";
import * as ops from "../../src/ops/index.js";
import { uninit } from "../../src/ops/util.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { customOp } from "../../src/autograd/custom.js";
import { settledLiveMemory } from "../../src/autograd/memory.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { tinyHybrid } from "../models/tiny_configs.js";

/** The ArrayBuffer under a tensor, for identity checks. */
const bufOf = (t: Tensor): ArrayBufferLike => t.data.buffer;

test("size classes: at most 1/8 over, exact for 8–15 × 2^k", () => {
  for (const n of [1024, 1100, 4000, 4096, 5000, 65_537, 1_000_003]) {
    const c = sizeClass(n);
    assert.ok(c >= n && c <= n * 1.125, `${n} → ${c}`);
  }
  assert.equal(sizeClass(4096), 4096);
  assert.equal(sizeClass(12 * 1024), 12 * 1024);
});

test("a pooled buffer comes back only when no tensor uses it: views and subarray wrappers count", () => {
  const prev = setPoolEnabled(true);
  try {
    const t = uninit([4096], "float32");
    const buf = bufOf(t);
    t.data.fill(3);
    const v = noGrad(() => ops.reshape(t, [64, 64])); // a view: same storage
    const sub = new Tensor(t.data.subarray(8, 16), [8]); // a small wrapper of part of it
    assert.equal(storageUsers(t.data), 3);
    t.recycle();
    assert.equal(storageUsers(v.data), 2);
    assert.notEqual(bufOf(uninit([4096], "float32")), buf, "still used by the view and the wrapper");
    v.recycle();
    assert.notEqual(bufOf(uninit([4096], "float32")), buf, "still used by the wrapper");
    assert.equal(sub.at(0), 3);
    sub.recycle();
    assert.ok(isFree(new Uint8Array(buf)), "free once the last user is gone");
    const again = uninit([4000], "float32"); // same size class
    assert.equal(bufOf(again), buf);
    assert.equal(again.data.length, 4000);
    assert.equal(again.size, 4000);
    assert.throws(() => t.at(0), /release/);
  } finally {
    setPoolEnabled(prev);
  }
});

test("release() never recycles; wrapping storage that went back to the pool throws", () => {
  const prev = setPoolEnabled(true);
  try {
    const t = uninit([2048], "float32");
    const raw = t.data;
    raw.fill(7);
    t.release();
    const other = uninit([2048], "float32");
    assert.notEqual(other.data.buffer, raw.buffer);
    other.data.fill(1);
    assert.equal(raw[5], 7, "a raw array kept from a released tensor stays valid");

    const u = uninit([2048], "float32");
    const kept = u.data;
    u.recycle();
    assert.throws(() => new Tensor(kept, [2048]), /buffer pool/);
  } finally {
    setPoolEnabled(prev);
  }
});

/** A graph with every gradient-routing case: a tensor used twice, views, split, shared leaves, a customOp. */
function gradientsOf(stash: Tensor[]): Float32Array[] {
  manualSeed(5);
  const x = randn([64, 48]).requiresGrad_();
  const w = randn([48, 96], { std: 0.2 }).requiresGrad_();
  const b = randn([96]).requiresGrad_();
  const keepGrad = customOp("keepGrad", {
    forward: (_ctx, t: Tensor) => ops.mul(t, 1),
    backward: (_ctx, g) => {
      stash.push(g!); // user code may keep the gradient it is given
      return [g];
    },
  });
  const y = ops.matmul(x, w); // [64, 96]
  const z = ops.add(y, y); // the same tensor twice
  const [p, q] = ops.split(ops.reshape(z, [64, 2, 48]), [1, 1], 1) as [Tensor, Tensor];
  const r = ops.mul(ops.tanh(p), ops.reshape(keepGrad(q), [64, 48])); // broadcast [64,1,48]·[64,48] → [64,64,48]
  const s = ops.add(ops.matmul(ops.mean(r, 1), w), b); // w used twice; [64, 96]
  const loss = ops.sum(ops.mul(s, s));
  backward([loss]);
  return [x, w, b].map((t) => Float32Array.from(t.grad!.dense()));
}

test("backward frees consumed gradients but not what a customOp keeps; same gradients with the pool off", () => {
  const prev = setPoolEnabled(true);
  try {
    const stashOn: Tensor[] = [];
    const before = poolStats().returned;
    const on = gradientsOf(stashOn);
    assert.ok(poolStats().returned > before, "gradients went back to the pool");
    assert.equal(stashOn.length, 1);
    assert.ok(!stashOn[0]!.isReleased, "the gradient a customOp kept is not freed");
    const kept = Float32Array.from(stashOn[0]!.dense());
    uninit([64 * 48], "float32").data.fill(NaN); // reuse whatever is free
    assert.deepEqual(Float32Array.from(stashOn[0]!.dense()), kept);

    setPoolEnabled(false);
    const stashOff: Tensor[] = [];
    const off = gradientsOf(stashOff);
    on.forEach((g, i) => assert.deepEqual(g, off[i], `gradient ${i} differs with the pool off`));
    assert.deepEqual(Float32Array.from(stashOff[0]!.dense()), kept);
  } finally {
    setPoolEnabled(prev);
  }
});

test("releaseIntermediates frees the graph's tensors, keeps roots and leaves, and a later pass through it fails loudly", () => {
  manualSeed(2);
  const x = randn([32, 64]);
  const w = randn([64, 64], { std: 0.1 }).requiresGrad_();
  const h = ops.gelu(ops.linear(x, w));
  const loss = ops.sum(h);
  const other = ops.mean(h); // a second root over the same graph
  backward([loss], undefined, { releaseIntermediates: true });
  assert.throws(() => ops.add(h, 1), /release/);
  assert.ok(Number.isFinite(loss.item()), "the root stays readable");
  assert.ok(w.grad && !w.grad.isReleased, "leaf gradients stay");
  assert.ok(Number.isFinite(x.at(0, 0)), "leaves stay");
  assert.throws(() => backward([other]), /already freed/);
  assert.throws(() => backward([ops.sum(ops.linear(x, w))], undefined, { releaseIntermediates: true, retainGraph: true }), /retainGraph/);
});

test("zeroGrad({release}) recycles the gradients: an old reference throws", () => {
  const cfg = tinyHybrid({ d: 64, vocab: 128 });
  const model = buildModel(cfg, { seed: 0 });
  const ids = Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 128);
  const out = model.forward(ids, 2, 32, { targets: ids });
  backward([out.loss!], undefined, { releaseIntermediates: true });
  const [, p] = model.namedParameters()[0]!;
  const g = p.grad!;
  assert.ok(Number.isFinite(g.dense()[0]!));
  model.zeroGrad({ release: true });
  assert.equal(p.grad, null);
  assert.throws(() => g.dense(), /release/);
});

interface RunOptions {
  pool: boolean;
  release: boolean;
  checkpointing: boolean;
  steps: number;
  /** Called after each step with the step number. */
  after?: (step: number) => void | Promise<void>;
}

/** Trains the tiny hybrid (DeltaNet, MoE, GQA, MTP heads) on fixed random batches; returns the losses. */
async function train(o: RunOptions): Promise<number[]> {
  const prev = setPoolEnabled(o.pool);
  try {
    const cfg = tinyHybrid({ d: 64, vocab: 128 });
    const model = buildModel(cfg, { seed: 0 });
    model.train();
    const opt = new AdamW(model.namedParameters().map(([name, p]) => ({ name, p })), { lr: 3e-3 });
    const gen = new Generator(99);
    const [B, T] = [4, 32];
    const batch = (): Int32Array => {
      const u = new Float64Array(B * T);
      philoxUniform(u, gen.k0, gen.k1, gen.take(B * T));
      return Int32Array.from(u, (v) => Math.min(127, Math.floor(v * 128)));
    };
    const losses: number[] = [];
    for (let s = 1; s <= o.steps; s++) {
      const ids = batch();
      const targets = ids.map((t) => (t * 5 + 3) % 128); // learnable
      const out = model.forward(ids, B, T, { targets, checkpointing: o.checkpointing });
      backward([out.loss!], undefined, { releaseIntermediates: o.release });
      opt.update();
      model.zeroGrad({ release: o.release });
      losses.push(out.loss!.item());
      await o.after?.(s);
    }
    return losses;
  } finally {
    setPoolEnabled(prev);
  }
}

test("training: the same losses bit for bit with the pool and the freeing on or off, with and without checkpointing", async () => {
  const steps = 6;
  const plain = await train({ pool: false, release: false, checkpointing: false, steps });
  const pooled = await train({ pool: true, release: true, checkpointing: false, steps });
  assert.deepEqual(pooled, plain);
  const ckPlain = await train({ pool: false, release: false, checkpointing: true, steps });
  const ckPooled = await train({ pool: true, release: true, checkpointing: true, steps });
  assert.deepEqual(ckPooled, ckPlain);
  assert.ok(plain[steps - 1]! < plain[0]!, `training made progress: ${plain[0]} → ${plain[steps - 1]}`);
});

test("steady-state training steps reuse pooled storage and live memory stays flat", async () => {
  let at: { step: number; allocated: number; reused: number } | null = null;
  let mem5 = 0;
  let mem30 = 0;
  await train({
    pool: true,
    release: true,
    checkpointing: false,
    steps: 30,
    after: async (s) => {
      if (s === 5) {
        const p = poolStats();
        at = { step: s, allocated: p.allocatedBytes, reused: p.reusedBytes };
        mem5 = (await settledLiveMemory()).total;
      }
      if (s === 30) mem30 = (await settledLiveMemory()).total;
    },
  });
  const p = poolStats();
  const fresh = p.allocatedBytes - at!.allocated;
  const reused = p.reusedBytes - at!.reused;
  console.log(`pool: ${(reused / 25 / 1e6).toFixed(2)} MB reused and ${(fresh / 25 / 1e6).toFixed(3)} MB allocated per step; live ${(mem5 / 1e6).toFixed(1)} → ${(mem30 / 1e6).toFixed(1)} MB`);
  assert.ok(fresh < 0.05 * reused, `steady-state steps allocated ${fresh} new bytes against ${reused} reused`);
  assert.ok(mem30 - mem5 < 3e6, `live memory grew by ${((mem30 - mem5) / 1e6).toFixed(2)} MB from step 5 to 30`);
});
