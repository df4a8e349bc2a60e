/**
 * GPT-2 tokenizer: Chimera's BPE on the vocabulary shipped by `gpt-tokenizer` must give exactly
 * the ids of that package's own r50k_base (= GPT-2) encoder, on corpora, non-ASCII text and
 * pathological long words, and must round-trip.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode as refDecode, encode as refEncode } from "gpt-tokenizer/encoding/r50k_base";
import { Rng } from "../../src/data/rng.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { NON_ASCII, corpusTexts } from "./samples.js";

const tok = loadTokenizer("gpt2");
const plain = (s: string) => refEncode(s, { disallowedSpecial: new Set() });

test("gpt2: 50,257 ids, <|endoftext|> = 50256", () => {
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eotId, 50256);
  assert.deepEqual(tok.encode("Hello world"), [15496, 995]);
  assert.deepEqual(tok.encode("a<|endoftext|>b", { allowSpecial: true }), [64, 50256, 65]);
  assert.equal(tok.decode([15496, 50300]), "Hello\uFFFD"); // a padded-vocabulary id
});

test("gpt2: matches the gpt-tokenizer package's encoder on all of Moby Dick and a SOTU sample", () => {
  const moby = corpusTexts("moby-dick").join("\n");
  const ids = tok.encode(moby);
  assert.deepEqual(ids, plain(moby));
  assert.equal(tok.decode(ids), moby);
  const sotu = corpusTexts("sotu").filter((_, i) => i % 20 === 0);
  for (const s of sotu) assert.deepEqual(tok.encode(s), plain(s));
});

test("gpt2: matches on non-ASCII strings and round-trips them", () => {
  for (const s of NON_ASCII) {
    const ids = tok.encode(s);
    assert.deepEqual(ids, plain(s), JSON.stringify(s));
    assert.equal(tok.decode(ids), s);
    assert.equal(refDecode(ids), s);
  }
});

test("gpt2: matches on long words without spaces (the heap merge path)", () => {
  const rng = new Rng(1);
  const alpha = "abcdeéth";
  const cases = [
    "a".repeat(1001),
    " ".repeat(500) + "x",
    "-".repeat(777),
    Array.from({ length: 3000 }, () => alpha[rng.below(alpha.length)]).join(""),
    Array.from({ length: 2000 }, () => String.fromCodePoint(0x4e00 + rng.below(300))).join(""),
  ];
  for (const s of cases) assert.deepEqual(tok.encode(s), plain(s), s.slice(0, 20));
});
