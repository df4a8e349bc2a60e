/**
 * Native fused attention (native/src/ops_attention.cc) ≡ the reference kernel
 * (src/backend/reference/attention.ts): forward (out, lse) and backward (gq, gk, gv, gSinks) on
 * odd lengths T ∈ {1, 7, 63, 65, 130}, GQA 4/2 and 4/1 and MHA, causal and full, sliding window,
 * sinks, qStart > 0 (queries at the end of a longer key sequence) and < 0 (rows that see no key),
 * D = Dv and D ≠ Dv, large logits; on the AVX-512 and AVX2 tables; and identical bits with
 * CHIMERA_THREADS=1 and 2. Skips cleanly when the addon is not built.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertClose } from "../helpers/gradcheck.js";
import { blasInfo } from "../../src/backend/index.js";
import { N, R, addon, rand, skip } from "./helpers.js";
import { assertThreadIndependent } from "./seq-threads.js";

interface Case {
  B: number; Tq: number; Tk: number; Hq: number; Hkv: number; D: number; Dv: number;
  causal: boolean; window: number; sinks: boolean; qStart: number; scale?: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  const gqa: [number, number][] = [[4, 2], [4, 1], [2, 2]];
  let i = 0;
  for (const T of [1, 7, 63, 65, 130])
    for (const [Hq, Hkv] of gqa) {
      i++;
      const D = T >= 63 ? 16 : 24;
      const Dv = i % 2 ? D : D + 8; // D = Dv and D ≠ Dv
      out.push({ B: 2, Tq: T, Tk: T, Hq, Hkv, D, Dv, causal: true, window: 0, sinks: i % 3 === 0, qStart: 0 });
      out.push({ B: 1, Tq: T, Tk: T, Hq, Hkv, D, Dv: 8, causal: true, window: 5 + (i % 4) * 17, sinks: i % 2 === 0, qStart: 0 });
    }
  // decode-like: a few queries at the end of a longer key sequence (qStart > 0), with window
  out.push({ B: 2, Tq: 1, Tk: 65, Hq: 4, Hkv: 2, D: 16, Dv: 16, causal: true, window: 0, sinks: false, qStart: 64 });
  out.push({ B: 1, Tq: 7, Tk: 130, Hq: 4, Hkv: 1, D: 8, Dv: 12, causal: true, window: 16, sinks: true, qStart: 123 });
  out.push({ B: 1, Tq: 63, Tk: 130, Hq: 4, Hkv: 2, D: 16, Dv: 8, causal: true, window: 0, sinks: false, qStart: 67 });
  // full (non-causal) attention, with and without a window
  out.push({ B: 2, Tq: 33, Tk: 65, Hq: 2, Hkv: 1, D: 17, Dv: 9, causal: false, window: 0, sinks: false, qStart: 0 });
  out.push({ B: 1, Tq: 65, Tk: 65, Hq: 4, Hkv: 2, D: 16, Dv: 16, causal: false, window: 7, sinks: true, qStart: 0 });
  // qStart < 0: the first queries see no key (zeros; lse = −∞ or the sink)
  out.push({ B: 1, Tq: 9, Tk: 9, Hq: 2, Hkv: 1, D: 8, Dv: 8, causal: true, window: 0, sinks: false, qStart: -3 });
  out.push({ B: 1, Tq: 9, Tk: 9, Hq: 2, Hkv: 1, D: 8, Dv: 8, causal: true, window: 0, sinks: true, qStart: -3 });
  // large logits (online-softmax rescaling), wide heads
  out.push({ B: 1, Tq: 65, Tk: 65, Hq: 2, Hkv: 2, D: 64, Dv: 64, causal: true, window: 0, sinks: true, qStart: 0, scale: 3 });
  out.push({ B: 1, Tq: 130, Tk: 130, Hq: 1, Hkv: 1, D: 128, Dv: 96, causal: true, window: 0, sinks: false, qStart: 0 });
  return out;
}

function run(c: Case, seed: number): void {
  const { B, Tq, Tk, Hq, Hkv, D, Dv, causal, window, qStart } = c;
  const scale = c.scale ?? 1 / Math.sqrt(D);
  const q = rand(B * Tq * Hq * D, seed, -1.5, 1.5);
  const k = rand(B * Tk * Hkv * D, seed + 1, -1.5, 1.5);
  const v = rand(B * Tk * Hkv * Dv, seed + 2);
  const s = c.sinks ? rand(Hq, seed + 3, -2, 2) : null;
  const what = JSON.stringify(c);
  const oR = new Float32Array(B * Tq * Hq * Dv), lR = new Float32Array(B * Hq * Tq);
  const oN = oR.slice().fill(NaN), lN = lR.slice().fill(NaN); // outputs must be written, never read
  R.attention(q, k, v, s, oR, lR, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
  N.attention(q, k, v, s, oN, lN, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
  // float32 logits carry ~1e-7·|logit| error: loosen the absolute floor for the large-logit case
  const atol = c.scale ? 3e-5 : 2e-6;
  assertClose(oN, oR, 2e-6, atol, `out ${what}`);
  assertClose(lN, lR, 1e-6, atol, `lse ${what}`);

  const gOut = rand(oR.length, seed + 4);
  const gR = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)];
  const gN = gR.map((g) => g.slice().fill(NaN));
  const gsR = s ? new Float32Array(Hq) : null;
  const gsN = s ? new Float32Array(Hq).fill(NaN) : null;
  R.attentionBackward(q, k, v, s, oR, lR, gOut, gR[0]!, gR[1]!, gR[2]!, gsR, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
  N.attentionBackward(q, k, v, s, oR, lR, gOut, gN[0]!, gN[1]!, gN[2]!, gsN, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
  ["gq", "gk", "gv"].forEach((name, i) => assertClose(gN[i]!, gR[i]!, 5e-6, 3 * atol, `${name} ${what}`));
  if (gsR) assertClose(gsN!, gsR, 5e-6, 3 * atol, `gSinks ${what}`);
}

test("attention forward/backward: native ≡ reference (odd T, GQA, window, sinks, qStart, D ≠ Dv)", { skip }, () => {
  assert.equal(N.attention === R.attention, false, "attention is not native");
  cases().forEach((c, i) => run(c, 100 + 10 * i));
});

test("attention: AVX2 table ≡ reference", { skip }, () => {
  assert.ok(addon.setIsa("avx2"));
  try {
    cases().filter((_, i) => i % 3 === 0).forEach((c, i) => run(c, 700 + 10 * i));
  } finally {
    addon.setIsa(blasInfo().avx512 ? "avx512" : "avx2");
  }
});

test("attention: rows that see no key give zeros and lse = −∞ (or the sink)", { skip }, () => {
  const [B, Tq, Tk, Hq, Hkv, D, Dv] = [1, 4, 4, 2, 1, 8, 8];
  const q = rand(B * Tq * Hq * D, 1), k = rand(B * Tk * Hkv * D, 2), v = rand(B * Tk * Hkv * Dv, 3);
  for (const sinks of [null, Float32Array.of(0.5, -1)]) {
    const o = new Float32Array(B * Tq * Hq * Dv).fill(NaN), l = new Float32Array(B * Hq * Tq).fill(NaN);
    N.attention(q, k, v, sinks, o, l, B, Tq, Tk, Hq, Hkv, D, Dv, 0.3, true, 0, -2); // queries at −2, −1, 0, 1
    for (let h = 0; h < Hq; h++)
      for (let i = 0; i < 2; i++) {
        assert.equal(l[h * Tq + i], sinks ? sinks[h] : -Infinity);
        for (let d = 0; d < Dv; d++) assert.equal(o[(i * Hq + h) * Dv + d], 0);
      }
  }
});

test("attention: outputs identical with CHIMERA_THREADS=1 and 2", { skip }, async () => {
  await assertThreadIndependent("attention");
});
