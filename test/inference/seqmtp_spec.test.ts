/**
 * Speculative decoding with DeepSeek-style sequential MTP modules whose block has a sequence mixer
 * (MLA, GQA, Gated DeltaNet): the per-sequence module caches (src/inference/mtp_cache.ts).
 *   - every draft from the caches ≡ the modules in the training layout (SequentialMtpModule.forward
 *     on full tensors) over the sequence extended by next and the drafts, while verify passes feed
 *     rejected drafts that are rolled back, and across a fork;
 *   - greedy speculative ≡ plain greedy, token for token, over 44 tokens;
 *   - rolling back below what the module caches were synced to is a clear error.
 * Models: deepseek-tiny (MLA + MoE module) and hybrid-tiny-seqmtp (GQA + MoE module) shrunk as in
 * test/helpers/tiny.ts, 3 chained GQA modules with a sliding window, and 2 DeltaNet + GQA modules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel } from "../../src/models/causal_lm.js";
import { noGrad } from "../../src/autograd/node.js";
import { InferenceEngine, type EngineSequence } from "../../src/inference/engine.js";
import { Scheduler } from "../../src/inference/scheduler.js";
import { slice } from "../../src/ops/view.js";
import { attnSub, ffnSub, pre } from "../../src/config/build.js";
import { gatedDeltaNet } from "../../src/config/components/gated_deltanet.js";
import { gqa } from "../../src/config/components/gqa.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { swiglu } from "../../src/config/components/swiglu.js";
import type { ModelConfig } from "../../src/config/types.js";
import type { LayerContext } from "../../src/layers/context.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { tinyConfig } from "../helpers/tiny.js";
import { letterTokenizer, tinyHybrid, tokens } from "./tiny.js";

const V = 24;

/** Module blocks of DeltaNet + windowed GQA + FFN (2 modules) after an attention-only stack. */
function deltaNetModules(): ModelConfig {
  const base = tinyHybrid({ vocab: V, std: 0.15, deltanet: false, mtpDepth: 0, seqMtp: 2, seqMtpAttention: true });
  const norm = rmsnorm(1e-6);
  const d = 32;
  return {
    ...base,
    mtp: {
      ...base.mtp!,
      block: {
        sublayers: [
          attnSub(gatedDeltaNet({ numKeyHeads: 2, numValueHeads: 4, keyHeadDim: 8, valueHeadDim: 8 }), pre(norm), "linear_attn"),
          attnSub(gqa({ numHeads: 4, numKvHeads: 2, headDim: 8, slidingWindow: 6 }), pre(norm), "attn"),
          ffnSub(swiglu(2 * d), pre(norm), "ffn"),
        ],
      },
    },
  };
}

const CASES: { name: string; cfg: () => ModelConfig }[] = [
  { name: "deepseek-tiny (MLA + MoE module)", cfg: () => tinyConfig("deepseek-tiny", V) },
  { name: "hybrid-tiny-seqmtp (GQA + MoE module)", cfg: () => tinyConfig("hybrid-tiny-seqmtp", V) },
  { name: "3 chained GQA modules, window 5", cfg: () => tinyHybrid({ vocab: V, std: 0.15, mtpDepth: 0, seqMtp: 3, seqMtpAttention: true, window: 5 }) },
  { name: "2 DeltaNet + GQA modules", cfg: deltaNetModules },
];

function setup(cfg: ModelConfig, seed = 3) {
  // larger init than the presets' so that a random model's greedy path is not one repeated token
  const model = buildModel({ ...cfg, init: { ...cfg.init, std: 0.15 } }, { seed, dtype: "float64" });
  const engine = new InferenceEngine(model, { blockSize: 4, numBlocks: 64 });
  return { model, engine };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The training layout over the whole of ids: module k's logits at positions 0 … N−k−2
 * (CausalLM.sequentialMtp without the losses; no caches, MLA's non-absorbed path): [k][pos·V + v].
 */
function trainingLayout(model: ReturnType<typeof buildModel>, engine: InferenceEngine, ids: number[]): { modules: Float64Array[]; logits: Float64Array } {
  return noGrad(() => {
    const N = ids.length;
    const s = engine.newSequence();
    const out = engine.forward([s], Int32Array.from(ids), N, { logitsFrom: 0, mtp: true });
    engine.free(s);
    const mods = model.mtp!.items;
    let h: Tensor = out.mtpHidden!;
    const modules: Float64Array[] = [];
    mods.forEach((m, k) => {
      const L = N - k - 1;
      const positions = Int32Array.from({ length: L }, (_, t) => t);
      const ctx: LayerContext = { B: 1, T: L, startPos: 0, positions, training: false, computeLosses: false, targets: null, ignoreIndex: -100, unembed: (x) => model.unembed(x), aux: [], mtp: [] };
      const r = m.forward(model.embedTokens(Int32Array.from(ids.slice(k + 1, k + 1 + L)), 1, L), slice(h, 1, 0, L), ctx, { residualDropout: 0, checkFinite: false });
      h = r.h;
      modules.push(Float64Array.from(model.unembed(r.normed).dense()));
    });
    return { modules, logits: Float64Array.from(out.logits) };
  });
}

/** Drafts from the caches with the true continuation as the drafts; checks each against the reference. */
function checkDrafts(engine: InferenceEngine, s: EngineSequence, ids: number[], ref: Float64Array[], what: string): number {
  const n = s.length;
  const count = Math.min(engine.maxDrafts, ids.length - 1 - n);
  const made = engine.draft(null as unknown as Tensor, 0, 0, ids[n]!, count, (l, i) => {
    const want = ref[i]!.subarray((n - 1) * V, n * V);
    assert.ok(maxDiff(l, want) < 1e-9, `${what}: draft ${i} at n = ${n} differs by ${maxDiff(l, want)}`);
    return ids[n + 1 + i]!;
  }, s);
  assert.equal(made, count);
  return count;
}

test("module caches: every draft ≡ the training-layout modules over the sequence + next + drafts, through rejected verify passes, rollbacks and a fork", () => {
  for (const c of CASES) {
    const { model, engine } = setup(c.cfg());
    const caches = engine.mtpCaches;
    assert.ok(caches, `${c.name}: the drafter keeps module caches`);
    assert.equal(engine.draftRefusal, null);
    const D = engine.maxDrafts;
    const N = 26;
    const ids = tokens(N, V - 1, 5);
    const ref = trainingLayout(model, engine, ids);
    const s = engine.newSequence({ draft: true });
    engine.forward([s], Int32Array.from(ids.slice(0, 9)), 9, { mtp: true }); // prefill (fused-attention path)
    let step = 0;
    let fork: { seq: EngineSequence; ids: number[]; ref: Float64Array[] } | null = null;
    while (s.length + 1 + D < N) {
      const n = s.length;
      const k = checkDrafts(engine, s, ids, ref.modules, c.name);
      // verify pass: U = ids[n], then a correct drafts and wrong ones after (a = 0 … k)
      const a = step++ % (k + 1);
      const fed = [ids[n]!, ...ids.slice(n + 1, n + 1 + a)];
      while (fed.length < 1 + k) fed.push((ids[n + fed.length]! + 1) % (V - 1)); // a rejected draft
      const snap = engine.snapshot(s);
      const out = engine.forward([s], Int32Array.from(fed), fed.length, { logitsFrom: 0, mtp: true, ...(engine.recurrent ? { history: true } : {}) });
      for (let t = 0; t <= a; t++) assert.ok(maxDiff(out.logits.subarray(t * V, (t + 1) * V), ref.logits.subarray((n + t) * V, (n + t + 1) * V)) < 1e-9, `${c.name}: main logits at ${n + t}`);
      const valid = n + 1 + a;
      if (valid < s.length) engine.rollback(s, out.stateAt ? out.stateAt(valid - n - 1) : snap, valid);
      assert.equal(s.length, valid);
      if (!fork && n >= 12) {
        // a sibling continues with other tokens; both must match their own reference
        const ids2 = [...ids.slice(0, valid), ...tokens(N - valid, V - 1, 77)];
        fork = { seq: engine.fork(s), ids: ids2, ref: trainingLayout(model, engine, ids2).modules };
      }
      if (fork && fork.seq.length + 1 + D < N) {
        const f = fork.seq;
        const nf = f.length;
        checkDrafts(engine, f, fork.ids, fork.ref, `${c.name} (fork)`);
        engine.forward([f], Int32Array.of(fork.ids[nf]!), 1, { mtp: true });
      }
    }
    assert.ok(step >= 5);
    // module caches hold exactly the positions whose tokens were fed before the last draft
    s.mtp!.mods.forEach((m, k) => assert.ok(m.length <= s.length - k - 1));
    engine.free(s);
    if (fork) engine.free(fork.seq);
    for (const p of [engine.pool, ...caches!.pools]) if (p) assert.ok(p.groups.every((g) => g.allocator.totalRefs() === 0), `${c.name}: every block returned`);
  }
});

test("rolling back below the positions the module caches were synced to is a clear error; a plain sequence records nothing", () => {
  const { engine } = setup(tinyConfig("deepseek-tiny", V));
  const ids = tokens(12, V - 1, 2);
  const s = engine.newSequence({ draft: true });
  const snap = engine.snapshot(s); // at 0
  engine.forward([s], Int32Array.from(ids.slice(0, 10)), 10);
  engine.draft(null as unknown as Tensor, 0, 0, ids[10]!, 1, () => ids[11]!, s); // module 0 now holds positions 0 … 8
  assert.throws(() => engine.rollback(s, snap, 5), /cannot roll back to 5 positions: MTP module 0 already holds 9 positions/);
  assert.equal(s.length, 10, "nothing changed");
  engine.rollback(s, snap, 10);
  const plain = engine.newSequence();
  assert.equal(plain.mtp, null);
  assert.throws(() => engine.draft(null as unknown as Tensor, 0, 0, 1, 1, () => 0, plain), /newSequence\(\{ draft: true \}\)/);
  engine.free(s);
  engine.free(plain);
});

test("greedy speculative ≡ plain greedy, token for token over 44 tokens (MLA, GQA, chained and DeltaNet module caches)", async () => {
  const tok = letterTokenizer(V);
  for (const c of CASES) {
    const { engine } = setup(c.cfg(), 13);
    const sched = new Scheduler(engine, tok, { maxBatch: 4, prefillChunk: 16 });
    let drafted = 0;
    let accepted = 0;
    for (const seed of [1, 2]) {
      const prompt = tokens(4 + 9 * (seed - 1), V - 1, seed); // 4 and 13 tokens
      const opts = { maxTokens: 44, sampling: { temperature: 0 }, ignoreEos: true };
      const plain = await sched.submit(prompt, opts).result;
      const spec = await sched.submit(prompt, { ...opts, speculative: true }).result;
      assert.deepEqual(spec.choices[0]!.tokens, plain.choices[0]!.tokens, `${c.name}, prompt ${seed}`);
      assert.equal(spec.choices[0]!.tokens.length, 44);
      assert.ok(spec.speculative!.steps < 44, "fewer verify passes than tokens");
      drafted += spec.speculative!.drafted;
      accepted += spec.speculative!.accepted;
    }
    assert.ok(accepted > 0 && accepted < drafted, `${c.name}: drafts both accepted and rejected (${accepted}/${drafted})`);
    for (const p of [engine.pool, ...engine.mtpCaches!.pools]) if (p) assert.ok(p.groups.every((g) => g.allocator.totalRefs() === 0), `${c.name}: every block returned`);
  }
});

test("a small pool with module caches: speculative requests are preempted and recomputed, each ≡ its plain greedy run; n > 1 forks the caches", async () => {
  const { engine } = setup(tinyConfig("hybrid-tiny-seqmtp", V), 13);
  const small = new InferenceEngine(engine.model, { blockSize: 4, numBlocks: 12 });
  const sched = new Scheduler(small, letterTokenizer(V), { maxBatch: 6, prefillChunk: 16 });
  const jobs = [];
  const prompts: number[][] = [];
  for (let i = 0; i < 8; i++) {
    prompts.push(tokens(2 + (i % 5), V - 1, 30 + i));
    jobs.push(sched.submit(prompts[i]!, { maxTokens: 8 + i, sampling: { temperature: 0 }, ignoreEos: true, speculative: true }).result);
  }
  const results = await Promise.all(jobs);
  assert.ok(results.some((r) => r.preemptions > 0), "the pool ran dry and a request was recomputed");
  const plain = new Scheduler(engine, letterTokenizer(V), { maxBatch: 4 });
  for (let i = 0; i < 8; i++) {
    const alone = await plain.submit(prompts[i]!, { maxTokens: 8 + i, sampling: { temperature: 0 }, ignoreEos: true }).result;
    assert.deepEqual(results[i]!.choices[0]!.tokens, alone.choices[0]!.tokens, `request ${i}`);
  }
  // n = 3 greedy choices fork one prefilled sequence (module state included): all equal the plain run
  const multi = await sched.submit(prompts[0]!, { n: 3, maxTokens: 12, sampling: { temperature: 0 }, ignoreEos: true, speculative: true }).result;
  const alone = await plain.submit(prompts[0]!, { maxTokens: 12, sampling: { temperature: 0 }, ignoreEos: true }).result;
  for (const ch of multi.choices) assert.deepEqual(ch.tokens, alone.choices[0]!.tokens);
  for (const p of [small.pool, ...small.mtpCaches!.pools]) if (p) assert.ok(p.groups.every((g) => g.allocator.totalRefs() === 0), "every block returned");
});
