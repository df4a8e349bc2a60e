// Philox4x32-10 RNG (src/tensor/rng.ts): the published known-answer vectors (Random123
// kat_vectors), draws that give the same numbers however they are split, seeds and offsets that
// differ, the moments of the normals, and native ≡ reference bit for bit whatever the thread count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Generator, philoxBlock, philoxNormal, philoxUniform } from "../../src/tensor/rng.js";
import { rand, randn } from "../../src/tensor/creation.js";
import { nativeAvailable, referenceKernels, withBackend, kernelsFor } from "../../src/backend/index.js";

test("philox4x32-10 known answers (Random123 kat_vectors)", () => {
  const cases: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  const out = new Uint32Array(4);
  for (const [c, k, want] of cases) {
    philoxBlock(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!, out);
    assert.deepEqual(Array.from(out), want);
  }
});

test("a draw split into pieces at block offsets equals one draw (uniform and normal, float32 and float64)", () => {
  const [k0, k1] = [7, 0xdeadbeef];
  for (const Arr of [Float32Array, Float64Array]) {
    for (const fill of [philoxUniform, philoxNormal]) {
      const whole = new Arr(1001);
      fill(whole, k0, k1, 13);
      for (const cut of [4, 64, 400, 996]) {
        const a = new Arr(cut);
        const b = new Arr(1001 - cut);
        fill(a, k0, k1, 13);
        fill(b, k0, k1, 13 + cut / 4);
        assert.deepEqual(Array.from(a), Array.from(whole.subarray(0, cut)));
        assert.deepEqual(Array.from(b), Array.from(whole.subarray(cut)));
      }
      // and through the kernel table's offset argument
      const viaKernel = new Arr(1001);
      (fill === philoxUniform ? referenceKernels.uniform : referenceKernels.normal)(viaKernel, 1001, k0, k1, 13);
      assert.deepEqual(Array.from(viaKernel), Array.from(whole));
    }
  }
  // across the 2^32 boundary of the low counter word
  const near = new Float64Array(40);
  philoxUniform(near, 1, 2, 4294967290);
  const tail = new Float64Array(16);
  philoxUniform(tail, 1, 2, 4294967296);
  assert.deepEqual(Array.from(near.subarray(24)), Array.from(tail));
  // generators: consecutive draws tile the stream
  const g1 = new Generator(99);
  const g2 = new Generator(99);
  const parts = [...rand([400], { generator: g1 }).toArray(), ...rand([601], { generator: g1 }).toArray()];
  assert.deepEqual(parts, rand([1001], { generator: g2 }).toArray());
  assert.equal(g1.offset, g2.offset);
  // state save/restore replays
  const s = g1.getState();
  const r1 = randn([37], { generator: g1 }).toArray();
  g1.setState(s);
  assert.deepEqual(randn([37], { generator: g1 }).toArray(), r1);
});

test("different seeds and offsets give different streams; uniforms lie in (0, 1]", () => {
  const a = rand([4096], { generator: new Generator(1) }).toArray();
  const b = rand([4096], { generator: new Generator(2) }).toArray();
  const c = rand([4096], { generator: new Generator(2 + 4294967296) }).toArray(); // differs in the high key word only
  let same = 0;
  for (let i = 0; i < a.length; i++) same += (a[i] === b[i] ? 1 : 0) + (b[i] === c[i] ? 1 : 0);
  assert.ok(same < 4, `${same} equal draws`);
  assert.ok(a.every((v) => v > 0 && v <= 1));
  const g = new Generator(5);
  const d1 = rand([64], { generator: g }).toArray();
  const d2 = rand([64], { generator: g }).toArray();
  assert.notDeepEqual(d1, d2);
});

test("normal and uniform moments", () => {
  const n = 200_000;
  const x = new Float64Array(n);
  philoxNormal(x, 123, 456, 0);
  let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (const v of x) m1 += v;
  m1 /= n;
  for (const v of x) {
    const d = v - m1;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  const skew = m3 / n / m2 ** 1.5;
  const kurt = m4 / n / (m2 * m2);
  // standard errors: mean 1/√n ≈ 0.0022, var √(2/n) ≈ 0.0032, skew √(6/n) ≈ 0.0055, kurt √(24/n) ≈ 0.011
  assert.ok(Math.abs(m1) < 0.01, `mean ${m1}`);
  assert.ok(Math.abs(m2 - 1) < 0.015, `variance ${m2}`);
  assert.ok(Math.abs(skew) < 0.03, `skewness ${skew}`);
  assert.ok(Math.abs(kurt - 3) < 0.06, `kurtosis ${kurt}`);
  const u = new Float64Array(n);
  philoxUniform(u, 123, 456, 0);
  let um = 0, uv = 0;
  for (const v of u) um += v;
  um /= n;
  for (const v of u) uv += (v - um) ** 2;
  uv /= n;
  assert.ok(Math.abs(um - 0.5) < 0.003, `uniform mean ${um}`);
  assert.ok(Math.abs(uv - 1 / 12) < 0.002, `uniform variance ${uv}`);
});

test("native random kernels ≡ reference (uniform bit for bit) at odd sizes and offsets", { skip: !nativeAvailable() && "native addon not built" }, () => {
  for (const n of [1, 7, 63, 65, 130, 4099]) {
    for (const offset of [0, 3, 4294967294]) {
      const [k0, k1] = [n, 0xabcdef];
      const nat = new Float32Array(n);
      const ref = new Float32Array(n);
      withBackend("native", () => kernelsFor("float32").uniform(nat, n, k0, k1, offset));
      referenceKernels.uniform(ref, n, k0, k1, offset);
      assert.deepEqual(nat, ref, `uniform n=${n} offset=${offset}`);
      withBackend("native", () => kernelsFor("float32").normal(nat, n, k0, k1, offset));
      referenceKernels.normal(ref, n, k0, k1, offset);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(nat[i]! - ref[i]!) <= 1e-5 * Math.max(1, Math.abs(ref[i]!)), `normal n=${n} offset=${offset} [${i}]: ${nat[i]} vs ${ref[i]}`);
      const x = new Float32Array(n).fill(2);
      withBackend("native", () => kernelsFor("float32").dropout(x, nat, n, 0.4, k0, k1, offset));
      referenceKernels.dropout(x, ref, n, 0.4, k0, k1, offset);
      assert.deepEqual(nat, ref, `dropout n=${n} offset=${offset}`);
    }
  }
});

test("native streams are identical with CHIMERA_THREADS=1 and 2", { skip: !nativeAvailable() && "native addon not built" }, async () => {
  const self = fileURLToPath(import.meta.url);
  const child = fileURLToPath(new URL(`./rng-child${extname(self)}`, import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--test"));
  // 2^16 + 3 elements: 17 chunks of 4096, so the addon splits the draw across its threads;
  // the offset makes the draw cross the 2^32 boundary of the counter's low word
  const runOne = (threads: string): Promise<Record<string, { hash: string; refHash: string; maxDiff: number }>> =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [...execArgv, child, String((1 << 16) + 3), "4294967000"], {
        env: { ...process.env, CHIMERA_THREADS: threads },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      p.stdout.on("data", (d: Buffer) => (out += d));
      p.stderr.on("data", (d: Buffer) => (err += d));
      const timer = setTimeout(() => p.kill(), 25_000);
      p.on("close", (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`child (CHIMERA_THREADS=${threads}) exited ${code}: ${err}`));
        else resolve(JSON.parse(out.trim().split("\n").pop()!));
      });
    });
  const [one, two] = await Promise.all([runOne("1"), runOne("2")]);
  assert.equal(one.native as unknown, true);
  for (const kind of ["uniform", "normal", "dropout"]) {
    assert.equal(one[kind]!.hash, two[kind]!.hash, `${kind}: 1 thread vs 2 threads`);
    assert.ok(one[kind]!.maxDiff <= 1e-5, `${kind}: native vs reference max diff ${one[kind]!.maxDiff}`);
  }
  assert.equal(one.uniform!.hash, one.uniform!.refHash, "uniform: native ≡ reference bit for bit");
  assert.equal(one.dropout!.hash, one.dropout!.refHash, "dropout: native ≡ reference bit for bit");
});
