/** Byte tokenizer: ids are UTF-8 bytes, 256 is <|endoftext|>, everything round-trips. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteTokenizer } from "../../src/tokenizer/byte.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { NON_ASCII, corpusTexts } from "./samples.js";

const tok = new ByteTokenizer();

test("byte tokenizer: ids are the UTF-8 bytes; 257 ids with <|endoftext|> = 256", () => {
  assert.equal(tok.vocabSize, 257);
  assert.equal(tok.eotId, 256);
  assert.deepEqual(tok.encode("aé🐋"), [0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x90, 0x8b]);
  assert.equal(loadTokenizer("byte").name, "byte");
});

test("byte tokenizer: round-trips non-ASCII strings, all of Moby Dick and a SOTU sample", () => {
  for (const s of NON_ASCII) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  for (const s of corpusTexts("moby-dick")) assert.equal(tok.decode(tok.encode(s)), s);
  for (const s of corpusTexts("sotu").filter((_, i) => i % 10 === 0)) assert.equal(tok.decode(tok.encode(s)), s);
});

test("byte tokenizer: special tokens only when asked; decode can skip them", () => {
  assert.equal(tok.encode("<|endoftext|>").length, 13);
  assert.deepEqual(tok.encode("a<|endoftext|>b", { allowSpecial: true }), [97, 256, 98]);
  assert.equal(tok.decode([97, 256, 98]), "a<|endoftext|>b");
  assert.equal(tok.decode([97, 256, 98], { skipSpecial: true }), "ab");
});

test("byte tokenizer: a cut UTF-8 sequence decodes to U+FFFD; bytes are exact", () => {
  const ids = tok.encode("🐋");
  assert.equal(tok.decode(ids.slice(0, 2)), "\uFFFD");
  assert.deepEqual([...tok.decodeBytes(ids)], ids);
  assert.equal(tok.decode([104, 300, 105]), "h\uFFFDi");
});
