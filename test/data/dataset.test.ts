/**
 * Dataset: deterministic disjoint split, packing with EOT separators into T+1-token sequences
 * with shifted targets, seeded shuffling, exact resume from a saved cursor, bits-per-byte
 * bookkeeping, the on-disk token cache, and the errors for corpora too small to train on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchIterator,
  bitsPerByte,
  loadDataset,
  loadDocuments,
  packSplit,
  sequence,
  splitDocuments,
  tokenStream,
  type Batch,
  type Document,
} from "../../src/data/index.js";
import { ByteTokenizer } from "../../src/tokenizer/byte.js";
import { trainBpe } from "../../src/tokenizer/train-bpe.js";

const byte = new ByteTokenizer();
const docs = (...texts: string[]): Document[] => texts.map((text, i) => ({ name: `d${i}`, text }));

test("split: deterministic, disjoint, in order, cut at a line break", () => {
  const moby = loadDocuments("moby-dick");
  const a = splitDocuments(moby, 0.1);
  const b = splitDocuments(moby, 0.1);
  assert.deepEqual(a, b);
  const joined = [...a.train, ...a.val].map((d) => d.text).join("");
  assert.equal(joined, moby.map((d) => d.text).join(""));
  const valChars = a.val.reduce((n, d) => n + d.text.length, 0);
  assert.ok(Math.abs(valChars / joined.length - 0.1) < 0.005, `val fraction ${valChars / joined.length}`);
  assert.match(a.train.at(-1)!.name, /#head$/);
  assert.match(a.val[0]!.name, /#tail$/);
  assert.ok(a.train.at(-1)!.text.endsWith("\n"));
  assert.equal(splitDocuments(moby, 0).val.length, 0);
  assert.throws(() => splitDocuments(moby, 1), /validation fraction must be in \[0, 1\)/);
});

test("packing: EOT between documents, T+1 tokens per sequence, targets are inputs shifted", () => {
  const { tokens, textBytes } = tokenStream(docs("abc", "dé"), byte);
  assert.deepEqual([...tokens], [256, 97, 98, 99, 256, 100, 0xc3, 0xa9, 256]);
  assert.equal(textBytes, 6);
  const split = packSplit("train", tokens, 3, 2, textBytes, "test");
  assert.equal(split.numSequences, 2);
  assert.deepEqual([...sequence(split, 0)], [256, 97, 98, 99]);
  assert.deepEqual([...sequence(split, 1)], [99, 256, 100, 0xc3]);
  const batch = new BatchIterator(split, 2, 0, undefined, false).next();
  assert.deepEqual([...batch.inputs], [256, 97, 98, 99, 256, 100]);
  assert.deepEqual([...batch.targets], [97, 98, 99, 256, 100, 0xc3]);
});

test("packing: every batch row of a real corpus is T+1 consecutive stream tokens", () => {
  const ds = loadDataset({ data: "moby-dick", tokenizer: byte, seqLen: 64 });
  const T = 64;
  const it = ds.batches(8, 1);
  for (let k = 0; k < 20; k++) {
    const b = it.next();
    assert.equal(b.inputs.length, 8 * T);
    for (let r = 0; r < 8; r++) for (let t = 0; t + 1 < T; t++) assert.equal(b.targets[r * T + t], b.inputs[r * T + t + 1]);
  }
  const stream = ds.train.tokens;
  const eots = stream.reduce((n, x) => n + (x === byte.eotId ? 1 : 0), 0);
  assert.equal(eots, ds.train.documents + 1);
});

function take(it: BatchIterator, n: number): Batch[] {
  return Array.from({ length: n }, () => it.next());
}

test("shuffle: reproducible with a seed, different with another, each epoch a permutation", () => {
  const stream = Int32Array.from({ length: 10 * 4 + 1 }, (_, i) => i);
  const split = packSplit("train", stream, 4, 1, 41, "test");
  const firsts = (seed: number) => take(new BatchIterator(split, 5, seed), 4).flatMap((b) => [0, 1, 2, 3, 4].map((r) => b.inputs[r * 4]! / 4));
  const a = firsts(42);
  assert.deepEqual(a, firsts(42));
  assert.notDeepEqual(a, firsts(43));
  assert.deepEqual([...a.slice(0, 10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...a.slice(10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(a.slice(0, 10), a.slice(10)); // a new order each epoch
});

test("cursor: saving and restoring resumes the identical batch sequence, across epochs", () => {
  const ds = loadDataset({ data: docs("x".repeat(500), "y".repeat(300)), tokenizer: byte, seqLen: 16, valFraction: 0.2 });
  const run = ds.batches(7, 9);
  const all = take(run, 12); // 84 sequences: runs into the third epoch of 40
  const fresh = ds.batches(7, 9);
  take(fresh, 5);
  const saved = JSON.parse(JSON.stringify(fresh.cursor));
  assert.deepEqual(saved, all[5]!.cursor);
  const resumed = take(ds.batches(7, 9, saved), 7);
  resumed.forEach((b, i) => {
    assert.deepEqual(b.inputs, all[5 + i]!.inputs);
    assert.deepEqual(b.targets, all[5 + i]!.targets);
  });
  assert.ok(all.at(-1)!.cursor.epoch >= 1);
  assert.throws(() => ds.batches(7, 9, { epoch: 0, index: 10_000 }), /invalid data cursor/);
});

test("bits per byte: validation text is tokenizer-independent; bpb = loss / (ln 2 · bytes/token)", () => {
  const moby = loadDocuments("moby-dick").slice(0, 40);
  const bpe = trainBpe(moby.map((d) => d.text), { vocabSize: 512 });
  const a = loadDataset({ data: moby, tokenizer: byte, seqLen: 32 });
  const b = loadDataset({ data: moby, tokenizer: bpe, seqLen: 32 });
  assert.equal(a.val!.textBytes, b.val!.textBytes);
  assert.ok(Math.abs(a.bytesPerToken - 1) < 0.01);
  assert.ok(b.bytesPerToken > 2, `${b.bytesPerToken}`);
  assert.equal(b.bytesPerToken, b.val!.textBytes / (b.val!.tokens.length - 1));
  assert.equal(bitsPerByte(Math.LN2 * 2, 2), 1);
  const rows = [...a.valBatches(64)].reduce((n, x) => n + x.rows, 0);
  assert.equal(rows, a.val!.numSequences);
});

test("cache: token streams are written once and read back identically", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "chimera-cache-"));
  const a = loadDataset({ data: "moby-dick", tokenizer: byte, seqLen: 128, cacheDir });
  assert.equal(readdirSync(cacheDir).length, 1);
  const b = loadDataset({ data: "moby-dick", tokenizer: byte, seqLen: 128, cacheDir });
  assert.deepEqual(b.train.tokens, a.train.tokens);
  assert.deepEqual(b.val!.tokens, a.val!.tokens);
  assert.equal(b.fingerprint, a.fingerprint);
  assert.equal(b.bytesPerToken, a.bytesPerToken);
});

test("errors: a corpus shorter than one sequence, or a too-small validation split", () => {
  assert.throws(
    () => loadDataset({ data: docs("tiny"), tokenizer: byte, seqLen: 64, valFraction: 0 }),
    /data 'documents': the training split has 6 tokens, fewer than one sequence of 64\+1/,
  );
  assert.throws(() => loadDataset({ data: docs("x".repeat(1000)), tokenizer: byte, seqLen: 200, valFraction: 0.1 }), /validation split has .* tokens/);
});
