import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { saveSafetensors, loadSafetensors, parseSafetensors } from "../../src/io/safetensors.js";

test("safetensors round trip keeps names, shapes, values and metadata; writes atomically", () => {
  const dir = mkdtempSync(join(tmpdir(), "st-"));
  const a = new Tensor(Float32Array.from([1, -2.5, 3e-8, 7]), [2, 2]);
  const b = new Tensor(Float64Array.from([Math.PI]), [1]);
  const p = join(dir, "m.safetensors");
  saveSafetensors(p, new Map([["layer.a", a], ["b", b]]), { format: "pt" });
  const r = loadSafetensors(p);
  assert.deepEqual(r.tensors.get("layer.a")!.shape, [2, 2]);
  assert.deepEqual(r.tensors.get("layer.a")!.toArray(), Array.from(a.data));
  assert.equal(r.tensors.get("b")!.toArray()[0], Math.PI);
  assert.deepEqual(r.metadata, { format: "pt" });
  // header length is 8-aligned and JSON is valid
  const buf = readFileSync(p);
  assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0);
  assert.deepEqual(readdirSync(dir), ["m.safetensors"], "no temporary files left");
});

test("corrupt safetensors files give errors naming the file and the problem", () => {
  const dir = mkdtempSync(join(tmpdir(), "st-"));
  const p = join(dir, "bad.safetensors");
  writeFileSync(p, Buffer.from([1, 2, 3]));
  assert.throws(() => loadSafetensors(p), /bad\.safetensors: not a valid safetensors file: only 3 bytes/);
  const good = join(dir, "good.safetensors");
  saveSafetensors(good, new Map([["w", new Tensor(new Float32Array(16), [4, 4])]]));
  const buf = readFileSync(good);
  assert.throws(() => parseSafetensors(buf.subarray(0, buf.length - 4), "trunc"), /trunc: .*tensor 'w' has data_offsets/);
  const hdr = Buffer.from(buf);
  hdr[9] = 0x7b; // break JSON
  hdr[8] = 0x7b;
  assert.throws(() => parseSafetensors(hdr, "hdr"), /hdr: .*header is not JSON/);
  assert.ok(existsSync(good));
});

test("reads BF16 and F16 tensors as float32", () => {
  // build a file by hand: one BF16 [2] = [1.0, -2.0], one F16 [1] = [0.5]
  const header = JSON.stringify({ x: { dtype: "BF16", shape: [2], data_offsets: [0, 4] }, y: { dtype: "F16", shape: [1], data_offsets: [4, 6] } });
  const h = Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const data = Buffer.alloc(6);
  data.writeUInt16LE(0x3f80, 0);
  data.writeUInt16LE(0xc000, 2);
  data.writeUInt16LE(0x3800, 4);
  const r = parseSafetensors(Buffer.concat([len, h, data]));
  assert.deepEqual(r.tensors.get("x")!.toArray(), [1, -2]);
  assert.deepEqual(r.tensors.get("y")!.toArray(), [0.5]);
});
