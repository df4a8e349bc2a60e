import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel } from "../../src/models/causal_lm.js";
import { noGrad } from "../../src/autograd/node.js";
import { InferenceEngine } from "../../src/inference/engine.js";
import { slice } from "../../src/ops/view.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { tinyHybrid, tokens } from "./tiny.js";

/** Logits of the last position from a full forward of ids (no cache): [V]. */
function fullLast(model: ReturnType<typeof buildModel>, ids: number[]): number[] {
  return noGrad(() => {
    const { logits } = model.forward(Int32Array.from(ids), 1, ids.length);
    const V = logits.shape[2]!;
    return Array.from(logits.dense().slice((ids.length - 1) * V, ids.length * V));
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test("generation with the paged cache ≡ recomputing the full sequence each step (hybrid, window, learned positions)", () => {
  const variants = [
    { name: "hybrid rope", cfg: tinyHybrid({ std: 0.1 }) },
    { name: "sliding window 5, block 4", cfg: tinyHybrid({ std: 0.1, window: 5 }), blockSize: 4 },
    { name: "learned positions, no DeltaNet", cfg: tinyHybrid({ std: 0.1, deltanet: false, positional: { kind: "learned", maxPositions: 64 } }) },
    { name: "sinusoidal, dense FFN", cfg: tinyHybrid({ std: 0.1, moe: false, positional: { kind: "sinusoidal", base: 10_000 } }), blockSize: 3 },
  ];
  for (const v of variants) {
    const model = buildModel(v.cfg, { seed: 3, dtype: "float64" });
    model.eval();
    const eng = new InferenceEngine(model, { blockSize: v.blockSize ?? 16, numBlocks: 64 });
    const seq = eng.newSequence();
    const ids = tokens(12, 64, 5);
    // prefill 12 (fused attention path), then decode 1 token at a time and one 3-token step
    let out = eng.forward([seq], Int32Array.from(ids), ids.length);
    assert.ok(maxDiff(out.logits, fullLast(model, ids)) < 1e-9, `${v.name}: prefill`);
    for (let step = 0; step < 8; step++) {
      const next = (step * 7 + 3) % 64;
      ids.push(next);
      out = eng.forward([seq], Int32Array.of(next), 1);
      assert.ok(maxDiff(out.logits, fullLast(model, ids)) < 1e-9, `${v.name}: decode step ${step}`);
    }
    const three = [5, 9, 11];
    out = eng.forward([seq], Int32Array.from(three), 3, { logitsFrom: 0 });
    for (let t = 0; t < 3; t++) {
      ids.push(three[t]!);
      assert.ok(maxDiff(out.logits.slice(t * 64, (t + 1) * 64), fullLast(model, ids)) < 1e-9, `${v.name}: multi-token step t=${t}`);
    }
    eng.free(seq);
    assert.equal(eng.pool!.groups.reduce((s, g) => s + g.allocator.totalRefs(), 0), 0);
  }
});

test("float32: cached decode matches full recompute within float tolerance; greedy tokens agree (native short-call attention when built; window, small blocks)", () => {
  for (const o of [{ window: null, blockSize: 16 }, { window: 6, blockSize: 4 }]) {
  const model = buildModel(tinyHybrid({ std: 0.1, window: o.window }), { seed: 1 });
  const eng = new InferenceEngine(model, { numBlocks: 32, blockSize: o.blockSize });
  const seq = eng.newSequence();
  const ids = tokens(9, 64, 2);
  let out = eng.forward([seq], Int32Array.from(ids), ids.length);
  for (let step = 0; step < 12; step++) {
    const ref = fullLast(model, ids);
    assert.ok(maxDiff(out.logits, ref) < 2e-4, `step ${step}: ${maxDiff(out.logits, ref)}`);
    let best = 0;
    for (let i = 1; i < 64; i++) if (out.logits[i]! > out.logits[best]!) best = i;
    let refBest = 0;
    for (let i = 1; i < 64; i++) if (ref[i]! > ref[refBest]!) refBest = i;
    assert.equal(best, refBest);
    ids.push(best);
    out = eng.forward([seq], Int32Array.of(best), 1);
  }
  // a 3-token call (speculative verification) ≡ full recompute at each of its positions
  const extra = [3, 30, 60];
  out = eng.forward([seq], Int32Array.from(extra), 3, { logitsFrom: 0 });
  for (let t = 0; t < 3; t++) {
    ids.push(extra[t]!);
    const ref = fullLast(model, ids);
    assert.ok(maxDiff(out.logits.subarray(t * 64, (t + 1) * 64), ref) < 2e-4, `${JSON.stringify(o)} verify position ${t}`);
  }
  eng.free(seq);
  }
});

test("continuous batching: ragged rows in one forward ≡ each row alone", () => {
  const model = buildModel(tinyHybrid({ std: 0.1, window: 7 }), { seed: 2, dtype: "float64" });
  const eng = new InferenceEngine(model, { blockSize: 4, numBlocks: 64 });
  const prompts = [tokens(5, 64, 1), tokens(11, 64, 2), tokens(2, 64, 3)];
  const solo = prompts.map(() => eng.newSequence());
  const batch = prompts.map(() => eng.newSequence());
  prompts.forEach((p, b) => {
    eng.forward([solo[b]!], Int32Array.from(p), p.length);
    eng.forward([batch[b]!], Int32Array.from(p), p.length);
  });
  for (let step = 0; step < 6; step++) {
    const next = [step % 64, (step * 5 + 1) % 64, (step * 11 + 2) % 64];
    const together = eng.forward(batch, Int32Array.from(next), 1);
    next.forEach((tok, b) => {
      const alone = eng.forward([solo[b]!], Int32Array.of(tok), 1);
      assert.ok(maxDiff(together.logits.slice(b * 64, (b + 1) * 64), alone.logits) < 1e-10, `row ${b} step ${step}`);
    });
  }
});

test("fork: siblings share the prompt's blocks and stay isolated (copy-on-write)", () => {
  const model = buildModel(tinyHybrid({ std: 0.1 }), { seed: 4, dtype: "float64" });
  const eng = new InferenceEngine(model, { blockSize: 4, numBlocks: 32 });
  const prompt = tokens(10, 64, 9);
  const a = eng.newSequence();
  eng.forward([a], Int32Array.from(prompt), prompt.length);
  const used = eng.pool!.groups[0]!.allocator.numUsed;
  const b = eng.fork(a);
  assert.equal(eng.pool!.groups[0]!.allocator.numUsed, used, "fork shares the blocks");
  // a continues with one token, b with another; each must equal its own fresh computation
  const outA = eng.forward([a], Int32Array.of(1), 1);
  const outB = eng.forward([b], Int32Array.of(2), 1);
  const outA2 = eng.forward([a], Int32Array.of(3), 1);
  const outB2 = eng.forward([b], Int32Array.of(4), 1);
  for (const [out, seqIds] of [
    [outA, [...prompt, 1]],
    [outB, [...prompt, 2]],
    [outA2, [...prompt, 1, 3]],
    [outB2, [...prompt, 2, 4]],
  ] as const) {
    const fresh = eng.newSequence();
    const ref = eng.forward([fresh], Int32Array.from(seqIds), seqIds.length);
    assert.ok(maxDiff(out.logits, ref.logits) < 1e-10);
    eng.free(fresh);
  }
  eng.free(a);
  eng.free(b);
  assert.equal(eng.pool!.groups[0]!.allocator.totalRefs(), 0);
});

test("snapshot + rollback returns a sequence to an earlier state exactly", () => {
  const model = buildModel(tinyHybrid({ std: 0.1 }), { seed: 5, dtype: "float64" });
  const eng = new InferenceEngine(model, { blockSize: 4, numBlocks: 32 });
  const s = eng.newSequence();
  eng.forward([s], Int32Array.from(tokens(6, 64, 1)), 6);
  const snap = eng.snapshot(s);
  const before = eng.forward([eng.fork(s)], Int32Array.of(7), 1).logits;
  eng.forward([s], Int32Array.from([9, 9, 9]), 3);
  eng.rollback(s, snap, 6);
  assert.equal(s.length, 6);
  const after = eng.forward([s], Int32Array.of(7), 1).logits;
  assert.ok(maxDiff(before, after) < 1e-12);
});

test("history: the state after every token of a multi-token call ≡ feeding the tokens one at a time", () => {
  const model = buildModel(tinyHybrid({ std: 0.1, superblocks: 2 }), { seed: 6, dtype: "float64" });
  const eng = new InferenceEngine(model, { blockSize: 4, numBlocks: 32 });
  const prompt = Int32Array.from(tokens(7, 64, 3));
  const extra = [5, 17, 42, 8];
  const a = eng.newSequence();
  eng.forward([a], prompt, prompt.length);
  const out = eng.forward([a], Int32Array.from(extra), extra.length, { logitsFrom: 0, history: true });
  const b = eng.newSequence();
  eng.forward([b], prompt, prompt.length);
  for (let t = 0; t < extra.length; t++) {
    const one = eng.forward([b], Int32Array.of(extra[t]!), 1, { logitsFrom: 0 });
    assert.ok(maxDiff(one.logits, out.logits.subarray(t * 64, (t + 1) * 64)) < 1e-10, `logits of token ${t}`);
    const snap = out.stateAt!(t);
    assert.equal(snap.length, prompt.length + t + 1);
    snap.states.forEach((row, i) =>
      row.forEach((st, j) => {
        const own = b.states[i]![j];
        if (!own) return assert.equal(st, null);
        const x = st as unknown as Record<string, { dense(): Float64Array }>;
        const y = own as unknown as Record<string, { dense(): Float64Array }>;
        assert.ok(maxDiff(x.S!.dense(), y.S!.dense()) < 1e-12, `S of layer ${i}.${j} after token ${t}`);
        assert.ok(maxDiff(x.conv!.dense(), y.conv!.dense()) < 1e-12, `conv of layer ${i}.${j} after token ${t}`);
      }),
    );
  }
  // rolling back to the state after token 1 continues exactly like b after two tokens
  eng.rollback(a, out.stateAt!(1), prompt.length + 2);
  const c = eng.newSequence();
  eng.forward([c], Int32Array.from([...prompt, extra[0]!, extra[1]!]), prompt.length + 2);
  assert.ok(maxDiff(eng.forward([a], Int32Array.of(3), 1).logits, eng.forward([c], Int32Array.of(3), 1).logits) < 1e-10);
  for (const s of [a, b, c]) eng.free(s);
});

test("sequential MTP drafter: draft k at position t ≡ module k of the training layout (Emb(ids[t+k+1]), h^{k−1}_t)", () => {
  const model = buildModel(tinyHybrid({ std: 0.1, mtpDepth: 0, seqMtp: 2 }), { seed: 9, dtype: "float64" });
  const eng = new InferenceEngine(model, { blockSize: 4, numBlocks: 32 });
  assert.equal(eng.drafter?.kind, "sequential");
  assert.equal(eng.maxDrafts, 2);
  const ids = tokens(12, 64, 4);
  const s = eng.newSequence();
  const out = eng.forward([s], Int32Array.from(ids), ids.length, { mtp: true });
  const hidden = out.mtpHidden!; // [1, 12, d]
  // the training layout over the whole sequence (CausalLM.sequentialMtp without the losses)
  const L = 9;
  const mods = model.mtp!.items;
  const ctx = { B: 1, T: L, startPos: 0, positions: new Int32Array(L), training: false, computeLosses: false, targets: null, ignoreIndex: -100, unembed: (h: Tensor) => model.unembed(h), aux: [], mtp: [] };
  let h = slice(hidden, 1, 0, L);
  const full: Float64Array[] = [];
  mods.forEach((m, k) => {
    const emb = model.embed.forward(Int32Array.from(ids.slice(k + 1, k + 1 + L)), 1, L);
    const r = m.forward(emb, h, ctx, { residualDropout: 0, checkFinite: false });
    h = r.h;
    full.push(model.unembed(r.normed).dense() as Float64Array);
  });
  for (const t of [0, 4, 8]) {
    const got: Float64Array[] = [];
    eng.draft(hidden, 0, t, ids[t + 1]!, 2, (l, i) => {
      got.push(Float64Array.from(l));
      return ids[t + 2 + i]!;
    });
    for (let k = 0; k < 2; k++) assert.ok(maxDiff(got[k]!, full[k]!.subarray(t * 64, (t + 1) * 64)) < 1e-10, `draft ${k} at ${t}`);
  }
  eng.free(s);
});
