/**
 * The paged inference engine on a small float64 model against a full recompute after every call:
 * a prefill, single-token decode steps, a 3-token step, a second prefill chunk over a held prefix,
 * then a ragged two-row step (the second row a fork holding 3 positions) ≡ that row alone. Used by
 * the MLA and DSA tests (latent pages); the caller frees `seq`, `other` and `twin`.
 */
import { assertClose } from "./gradcheck.js";
import { tokens } from "../models/tiny_configs.js";
import { noGrad } from "../../src/autograd/node.js";
import type { CausalLM } from "../../src/models/causal_lm.js";
import type { InferenceEngine, EngineSequence } from "../../src/inference/engine.js";

/** Logits of the last position of a full forward over `ids` (batch 1). */
export function fullLast(m: CausalLM, ids: number[]): Float64Array {
  return noGrad(() => {
    const { logits } = m.forward(Int32Array.from(ids), 1, ids.length);
    const V = logits.shape[2]!;
    return Float64Array.from(logits.dense().subarray((ids.length - 1) * V, ids.length * V));
  });
}

export interface PagedRun {
  seq: EngineSequence;
  other: EngineSequence;
  twin: EngineSequence;
  /** Every token `seq` has been fed, including the ragged step's. */
  ids: number[];
  /** The ragged step's logits [2, V] (row 0: seq, row 1: other). */
  both: Float32Array | Float64Array;
}

export function checkPagedAgainstFull(m: CausalLM, eng: InferenceEngine, V: number): PagedRun {
  const seq = eng.newSequence();
  const ids = Array.from(tokens(10, V, 5));
  let out = eng.forward([seq], Int32Array.from(ids), ids.length);
  assertClose(out.logits, fullLast(m, ids), 1e-10, 1e-11, "prefill");
  for (let step = 0; step < 6; step++) {
    const next = (step * 7 + 3) % V;
    ids.push(next);
    out = eng.forward([seq], Int32Array.of(next), 1);
    assertClose(out.logits, fullLast(m, ids), 1e-10, 1e-11, `decode step ${step}`);
  }
  const three = [5, 9, 11];
  out = eng.forward([seq], Int32Array.from(three), 3, { logitsFrom: 0 });
  for (let t = 0; t < 3; t++) {
    ids.push(three[t]!);
    assertClose(out.logits.slice(t * V, (t + 1) * V), fullLast(m, ids), 1e-10, 1e-11, `3-token step t=${t}`);
  }
  // a second prefill chunk (≥ 8 tokens: fused attention over the gathered latent prefix)
  const chunk = Array.from(tokens(9, V, 6));
  out = eng.forward([seq], Int32Array.from(chunk), chunk.length);
  ids.push(...chunk);
  assertClose(out.logits, fullLast(m, ids), 1e-10, 1e-11, "prefill chunk after a held prefix");
  // ragged rows (28 and 3 positions held) in one decode step ≡ each row alone; fork shares blocks
  const other = eng.newSequence();
  eng.forward([other], Int32Array.from(tokens(3, V, 8)), 3);
  const twin = eng.fork(other);
  const both = eng.forward([seq, other], Int32Array.of(1, 2), 1);
  const alone = eng.forward([twin], Int32Array.of(2), 1);
  assertClose(both.logits.slice(V, 2 * V), alone.logits, 1e-12, 1e-13, "ragged row vs alone");
  ids.push(1);
  return { seq, other, twin, ids, both: both.logits };
}
