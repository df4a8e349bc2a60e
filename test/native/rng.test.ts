/**
 * Native Philox4x32-10 ≡ the TypeScript stream (src/tensor/rng.ts): raw u32 words and uniforms
 * bit for bit (including counters that carry into the high word), normals within 1e-6, dropout
 * masks identical; all independent of the thread count.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { philoxBlock } from "../../src/tensor/rng.js";
import { setThreads, getThreads } from "../../src/backend/index.js";
import { assertClose } from "../helpers/gradcheck.js";
import { N, R, addon, rand, sameBits, skip } from "./helpers.js";

const OFFSETS = [0, 3, 2 ** 32 - 5, 2 ** 32 + 11, 2 ** 45 + 123];
const KEYS: [number, number][] = [[0, 0], [0xdeadbeef, 0x12345678], [42, 0]];

test("raw Philox words match philoxBlock bit for bit (vector path and counter carry)", { skip }, () => {
  for (const [k0, k1] of KEYS) {
    for (const off of OFFSETS) {
      const nb = 37;
      const got = new Int32Array(4 * nb);
      addon.philoxU32(got, nb, k0, k1, off);
      const blk = new Uint32Array(4);
      for (let b = 0; b < nb; b++) {
        const ctr = off + b;
        philoxBlock(ctr >>> 0, Math.floor(ctr / 2 ** 32) >>> 0, 0, 0, k0, k1, blk);
        for (let j = 0; j < 4; j++) assert.equal(got[4 * b + j]! >>> 0, blk[j], `key ${k0},${k1} offset ${off} block ${b} lane ${j}`);
      }
    }
  }
});

test("uniform ≡ reference bit for bit; normal within 1e-6; dropout identical", { skip }, () => {
  for (const [k0, k1] of KEYS) {
    for (const off of OFFSETS) {
      for (const n of [1, 7, 63, 65, 130, 257, 5003]) {
        const u1 = new Float32Array(n), u2 = new Float32Array(n);
        N.uniform(u1, n, k0, k1, off);
        R.uniform(u2, n, k0, k1, off);
        sameBits(u1, u2, `uniform n=${n} off=${off}`);
        const g1 = new Float32Array(n), g2 = new Float32Array(n);
        N.normal(g1, n, k0, k1, off);
        R.normal(g2, n, k0, k1, off);
        assertClose(g1, g2, 1e-7, 1e-6, `normal n=${n} off=${off}`);
        const x = rand(n, n);
        const d1 = new Float32Array(n), d2 = new Float32Array(n);
        N.dropout(x, d1, n, 0.3, k0, k1, off);
        R.dropout(x, d2, n, 0.3, k0, k1, off);
        sameBits(d1, d2, `dropout n=${n} off=${off}`);
      }
    }
  }
  // writes only n elements of a longer array
  const out = new Float32Array(10).fill(-1);
  N.uniform(out, 5, 1, 2, 0);
  assert.deepEqual(Array.from(out.subarray(5)), [-1, -1, -1, -1, -1]);
});

test("random kernels give the same numbers with 1 and 2 threads", { skip }, () => {
  const before = getThreads();
  try {
    const res: Float32Array[][] = [];
    for (const th of [1, 2]) {
      setThreads(th);
      const n = 300_001;
      const u = new Float32Array(n), g = new Float32Array(n), d = new Float32Array(n);
      N.uniform(u, n, 7, 9, 1000);
      N.normal(g, n, 7, 9, 1000);
      N.dropout(rand(n, 3), d, n, 0.1, 7, 9, 1000);
      res.push([u, g, d]);
    }
    for (let i = 0; i < 3; i++) sameBits(res[0]![i]!, res[1]![i]!, `rng kernel ${i}`);
  } finally {
    setThreads(before);
  }
});
