/**
 * Byte-level BPE trainer: exact vocabulary size and layout, deterministic tie-breaking,
 * round-trips on Moby Dick, SOTU and non-ASCII text, save → load gives identical encodings,
 * and the written tokenizer.json encodes identically in Hugging Face tokenizers.js.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ChimeraError } from "../../src/errors.js";
import { loadTokenizer, trainBpe } from "../../src/tokenizer/index.js";
import { NON_ASCII, corpusTexts } from "./samples.js";

const moby = corpusTexts("moby-dick");
const t0 = performance.now();
const tok = trainBpe(moby, { vocabSize: 4096 });
const trainMs = performance.now() - t0;
const dir = mkdtempSync(join(tmpdir(), "chimera-bpe-"));

test("trainer: vocab 4096 on Moby Dick in seconds, bytes first, <|endoftext|> last", () => {
  assert.ok(trainMs < 10_000, `training took ${trainMs.toFixed(0)} ms`);
  assert.equal(tok.vocabSize, 4096);
  assert.equal(tok.eotId, 4095);
  assert.equal(tok.idToToken(4095), "<|endoftext|>");
  assert.equal(tok.idToToken(32), "Ġ"); // byte 0x20 is id 32
  assert.equal(tok.spec.merges.length, 4096 - 256 - 1);
});

test("trainer: round-trips all of Moby Dick, a SOTU sample and non-ASCII strings", () => {
  let bytes = 0;
  let tokens = 0;
  const t = performance.now();
  for (const s of moby) {
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s);
    bytes += Buffer.byteLength(s);
    tokens += ids.length;
  }
  const ms = performance.now() - t;
  assert.ok(bytes / tokens > 3, `compression ${bytes / tokens} bytes/token`);
  assert.ok(ms < 5000, `encoding Moby Dick took ${ms.toFixed(0)} ms`);
  for (const s of corpusTexts("sotu").filter((_, i) => i % 10 === 0)) assert.equal(tok.decode(tok.encode(s)), s);
  for (const s of NON_ASCII) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
});

test("trainer: deterministic, ties go to the smaller (left, right) pair", () => {
  const tiny = trainBpe(["abcd"], { vocabSize: 256 + 3 + 1, minFrequency: 1 });
  assert.deepEqual(tiny.spec.merges, [["a", "b"], ["c", "d"], ["ab", "cd"]]);
  const part = moby.slice(0, 30);
  const a = JSON.stringify(trainBpe(part, { vocabSize: 1024 }).toJSON());
  const b = JSON.stringify(trainBpe(part, { vocabSize: 1024 }).toJSON());
  assert.equal(a, b);
});

test("trainer: saved tokenizer.json reloads with identical encodings (file and folder specs)", () => {
  const file = join(dir, "tokenizer.json");
  tok.save(file);
  for (const spec of [file, dir]) {
    const back = loadTokenizer(spec);
    assert.equal(back.vocabSize, tok.vocabSize);
    assert.equal(back.eotId, tok.eotId);
    for (const s of [...NON_ASCII, ...moby.slice(0, 20)]) assert.deepEqual(back.encode(s), tok.encode(s));
  }
});

test("trainer: merges written as [a, b] pairs load the same as 'a b' strings", () => {
  const json = tok.toJSON() as { model: { merges: string[] } };
  json.model.merges = json.model.merges.map((m) => m.split(" ")) as never;
  const file = join(dir, "pairs.json");
  writeFileSync(file, JSON.stringify(json));
  const back = loadTokenizer(file);
  for (const s of moby.slice(0, 10)) assert.deepEqual(back.encode(s), tok.encode(s));
});

test("trainer: Hugging Face tokenizers.js loads the file and encodes identically", () => {
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const hf = new HfTokenizer(json, {});
  for (const s of [...NON_ASCII.filter((x) => x !== ""), moby[5]!, moby[60]!]) {
    assert.deepEqual(hf.encode(s, { add_special_tokens: false }).ids, tok.encode(s), JSON.stringify(s.slice(0, 40)));
    assert.equal(hf.decode(tok.encode(s)), s);
  }
});

test("trainer: a vocabulary too small for the bytes and specials is refused", () => {
  assert.throws(() => trainBpe(["x"], { vocabSize: 100 }), ChimeraError);
  assert.throws(() => trainBpe(["x"], { vocabSize: 70_000 }), /≤ 65536/);
});
