// Whole-model properties of the hybrid: cached decode ≡ full forward, gradients ≡ finite
// differences, loss composition (MTP λ, MoE aux), checkpointing, NaN guard, greedy generation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel, type CausalLM } from "../../src/models/causal_lm.js";
import { noGrad } from "../../src/autograd/node.js";
import { checkpointRecomputeCount } from "../../src/autograd/checkpoint.js";
import { backward } from "../../src/autograd/backward.js";
import { withBackend } from "../../src/backend/index.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { concat } from "../../src/ops/shape.js";
import { argmax } from "../../src/ops/reduce.js";
import { ChimeraError } from "../../src/errors.js";
import { assertClose } from "../helpers/gradcheck.js";
import { nextTokenTargets, tinyHybrid, tokens } from "./tiny_configs.js";

function rows(ids: Int32Array, B: number, T: number, from: number, to: number): Int32Array {
  const L = to - from;
  const out = new Int32Array(B * L);
  for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) out[b * L + t] = ids[b * T + from + t]!;
  return out;
}

/** Logits of a prefill of P tokens, then chunks of `step` tokens through the decode state. */
function incremental(m: CausalLM, ids: Int32Array, B: number, T: number, P: number, step: number): Float32Array | Float64Array {
  const st = m.newState(B);
  const parts = [m.forward(rows(ids, B, T, 0, P), B, P, { state: st }).logits];
  for (let t = P; t < T; t += step) {
    const e = Math.min(T, t + step);
    parts.push(m.forward(rows(ids, B, T, t, e), B, e - t, { state: st }).logits);
  }
  assert.equal(st.pos, T);
  return concat(parts, 1).dense();
}

test("hybrid: full-sequence forward ≡ prefill + token-by-token decode (and chunked continuation)", () => {
  const cfg = tinyHybrid({ superblocks: 2, gqa: { slidingWindow: 24, sink: true, outputGate: "elementwise" } });
  const m = buildModel(cfg, { seed: 3 }).eval();
  const B = 2;
  const T = 44;
  const ids = tokens(B * T, cfg.vocabSize, 5);
  noGrad(() => {
    const full = m.forward(ids, B, T).logits.dense();
    // prefill of 23 (> 16: chunked DeltaNet) then single tokens (recurrent DeltaNet, KV cache)
    assertClose(incremental(m, ids, B, T, 23, 1), full, 1e-5, 1e-6, "prefill + decode");
    // prefill of 1, then chunks of 20 (chunked DeltaNet from a carried state)
    assertClose(incremental(m, ids, B, T, 1, 20), full, 1e-5, 1e-6, "chunked continuation");
  });
});

test("forward rejects a startPos that disagrees with the state, and bad id counts", () => {
  const cfg = tinyHybrid();
  const m = buildModel(cfg).eval();
  const st = m.newState(1);
  noGrad(() => m.forward(Int32Array.of(1, 2), 1, 2, { state: st }));
  assert.throws(() => m.forward(Int32Array.of(3), 1, 1, { state: st, startPos: 0 }), ChimeraError);
  assert.throws(() => m.forward(Int32Array.of(3, 4, 5), 1, 2), /3 ids/);
});

test("whole-model gradients match finite differences (float64, tiny hybrid with dropout, MTP, MoE aux)", () => {
  withBackend("reference", () => {
    const cfg = tinyHybrid({ d: 16, vocab: 24, dropout: 0.1, moe: { shared: { count: 1, hidden: 8, gated: true } } });
    const m = buildModel(cfg, { seed: 11, dtype: "float64" });
    const B = 2;
    const T = 7;
    const ids = tokens(B * T, cfg.vocabSize, 2);
    const targets = nextTokenTargets(ids, B, T);
    const lossAt = (): number => {
      manualSeed(99); // same dropout masks every evaluation
      return noGrad(() => m.forward(ids, B, T, { targets }).loss!.item());
    };
    manualSeed(99);
    const r = m.forward(ids, B, T, { targets });
    assert.ok(r.lossMtp && r.lossAux, "MTP and aux losses are part of the checked loss");
    backward([r.loss!]);
    const h = 1e-6;
    let probes = 0;
    for (const [name, p] of m.namedParameters()) {
      const g = p.grad?.dense() ?? new Float64Array(p.size);
      const n = p.size;
      const picks = new Set([0, Math.floor(n / 2), n - 1, Math.floor(n / 3)]);
      // for the embedding, also a row that is actually used
      if (name === "embed.weight") picks.add(ids[0]! * cfg.dModel + 1);
      for (const j of picks) {
        const orig = p.data[j]!;
        p.data[j] = orig + h;
        const up = lossAt();
        p.data[j] = orig - h;
        const down = lossAt();
        p.data[j] = orig;
        const num = (up - down) / (2 * h);
        const ana = g[j]!;
        assert.ok(Math.abs(num - ana) <= 1e-7 + 1e-5 * Math.max(Math.abs(num), Math.abs(ana)), `${name}[${j}]: analytic ${ana} vs numeric ${num}`);
        probes++;
      }
    }
    assert.ok(probes > 100);
  });
});

test("loss = CE + λ·MTP + MoE aux, each reported; MTP λ = 0 removes it", () => {
  const B = 2;
  const T = 12;
  for (const seq of [false, true]) {
    const cfg = tinyHybrid({ mtpWeight: 0.5, sequentialMtp: seq });
    const m = buildModel(cfg, { seed: 4 });
    const ids = tokens(B * T, cfg.vocabSize, 3);
    const r = noGrad(() => m.forward(ids, B, T, { targets: nextTokenTargets(ids, B, T) }));
    const [loss, main, mtp, aux] = [r.loss!.item(), r.lossMain!.item(), r.lossMtp!.item(), r.lossAux!.item()];
    assert.ok(mtp > 0 && aux > 0 && main > 0);
    // one parallel head (1 superblock): weight λ; sequential D=2: (λ/D)·ΣL_k = λ·mean
    assert.ok(Math.abs(loss - (main + 0.5 * mtp + aux)) < 1e-5, `${seq ? "sequential" : "parallel"}: ${loss} vs ${main} + 0.5·${mtp} + ${aux}`);
    const m0 = buildModel(tinyHybrid({ mtpWeight: 0, sequentialMtp: seq }), { seed: 4 });
    const r0 = noGrad(() => m0.forward(ids, B, T, { targets: nextTokenTargets(ids, B, T) }));
    assert.ok(Math.abs(r0.loss!.item() - (r0.lossMain!.item() + r0.lossAux!.item())) < 1e-6);
  }
  // without targets: logits only
  const m = buildModel(tinyHybrid());
  const r = noGrad(() => m.forward(tokens(8, 64), 1, 8));
  assert.deepEqual(r.logits.shape, [1, 8, 64]);
  assert.equal(r.loss, undefined);
});

test("checkFinite names the first sublayer whose output is not finite", () => {
  const cfg = tinyHybrid({ superblocks: 2 });
  const m = buildModel(cfg, { seed: 1 });
  const w = new Map(m.namedParameters()).get("layers.1.attn.o_proj.weight")!;
  w.data[5] = NaN;
  const ids = tokens(16, cfg.vocabSize);
  assert.throws(
    () => noGrad(() => m.forward(ids, 2, 8, { checkFinite: true })),
    (e: unknown) => e instanceof ChimeraError && /layers\.1\.attn\b/.test(e.message) && !/layers\.0/.test(e.message),
  );
  // without the check the NaN flows to the logits silently
  const out = noGrad(() => m.forward(ids, 2, 8)).logits.dense();
  assert.ok(out.some((v) => Number.isNaN(v)));
  const w2 = new Map(m.namedParameters()).get("layers.0.linear_attn.in_proj_qkvz.weight")!;
  w2.data[0] = Infinity;
  assert.throws(() => noGrad(() => m.forward(ids, 2, 8, { checkFinite: true })), /layers\.0\.linear_attn/);
});

// float64 so that the only difference (summation order of parameter gradients) is at 1e-16
test("checkpointing gives the same loss and gradients (dropout replayed)", () => {
  const cfg = tinyHybrid({ dropout: 0.1, superblocks: 2 });
  cfg.residualDropout = 0.1;
  const B = 2;
  const T = 10;
  const ids = tokens(B * T, cfg.vocabSize, 8);
  const targets = nextTokenTargets(ids, B, T);
  const run = (checkpointing: boolean): { loss: number; grads: Map<string, number[]> } => {
    const m = buildModel(cfg, { seed: 6, dtype: "float64" });
    manualSeed(1234);
    const r = m.forward(ids, B, T, { targets, checkpointing });
    backward([r.loss!]);
    return { loss: r.loss!.item(), grads: new Map(m.namedParameters().map(([n, p]) => [n, p.grad!.toArray()])) };
  };
  const a = run(false);
  const before = checkpointRecomputeCount();
  const b = run(true);
  assert.equal(checkpointRecomputeCount() - before, 2, "one recompute per block");
  assert.equal(a.loss, b.loss);
  for (const [n, g] of a.grads) assertClose(b.grads.get(n)!, g, 1e-12, 1e-15, n);
});

test("generateGreedy continues with the argmax of the full-sequence logits", () => {
  const cfg = tinyHybrid();
  const m = buildModel(cfg, { seed: 9 });
  const prompt = tokens(5, cfg.vocabSize, 4);
  const gen = m.generateGreedy(prompt, 6);
  assert.equal(gen.length, 6);
  const seq = Int32Array.from([...prompt, ...gen]);
  const logits = noGrad(() => m.eval().forward(seq, 1, seq.length).logits);
  const best = argmax(logits, -1);
  for (let i = 0; i < 6; i++) assert.equal(gen[i], best[prompt.length - 1 + i], `token ${i}`);
  const p = Array.from(m.probabilities(logits).dense());
  assert.ok(Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-5);
});
