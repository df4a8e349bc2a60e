/**
 * Loading Hugging Face tokenizer.json files beyond the ones trained here: a Llama-3-style
 * Split + ByteLevel pipeline with ignore_merges, a SentencePiece-style (Llama-2) BPE with
 * byte fallback in its two spellings (normalizer Prepend/Replace, or Metaspace), and GPT-2
 * exported as tokenizer.json — each checked id-for-id against HF tokenizers.js — plus regex
 * translation and clear errors for bad files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { loadTokenizer, specFromJson, BpeTokenizer, trainBpe, type Tokenizer } from "../../src/tokenizer/index.js";
import { translateRegex } from "../../src/tokenizer/pipeline.js";
import { NON_ASCII, corpusTexts } from "./samples.js";

const dir = mkdtempSync(join(tmpdir(), "chimera-hf-"));
const moby = corpusTexts("moby-dick");
type Json = Record<string, any>;

/** Writes the JSON and loads it: as a file, or (with a tokenizer_config.json) as a folder. */
function load(json: Json, name: string, config?: Json): Tokenizer {
  if (!config) {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(json));
    return loadTokenizer(file);
  }
  const folder = mkdtempSync(join(dir, name));
  writeFileSync(join(folder, "tokenizer.json"), JSON.stringify(json));
  writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify(config));
  return loadTokenizer(folder);
}

function agree(ours: Tokenizer, json: Json, texts: string[], roundTrip = true): void {
  const hf = new HfTokenizer(json, {});
  for (const s of texts) {
    const ids = ours.encode(s);
    assert.deepEqual(ids, hf.encode(s, { add_special_tokens: false }).ids, JSON.stringify(s.slice(0, 50)));
    if (ids.length > 0) assert.equal(ours.decode(ids), hf.decode(ids), JSON.stringify(s.slice(0, 50)));
    if (roundTrip) assert.equal(ours.decode(ids), s);
  }
}

const LLAMA3_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

test("hf: Llama-3-style Split regex + ByteLevel + ignore_merges matches tokenizers.js", () => {
  const json = trainBpe(moby.slice(0, 40), { vocabSize: 1500 }).toJSON() as Json;
  json.pre_tokenizer = {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: LLAMA3_REGEX }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  json.model.ignore_merges = true;
  const tok = load(json, "llama3");
  agree(tok, json, [...NON_ASCII.filter((s) => s !== ""), "IT'S DON'T We'LL 1234567 x\r\n\r\ny", moby[3]!]);
});

test("hf: regex translation expands (?i:…) and drops possessive quantifiers", () => {
  assert.equal(translateRegex("(?i:'s|'T)"), "(?:'[sS]|'[tT])");
  assert.equal(translateRegex(String.raw`\p{L}++ ?[^\s]*+x?+\++`), String.raw`\p{L}+ ?[^\s]*x?\++`);
  assert.equal(translateRegex("(?i:[ab]c)"), "(?:[aAbB][cC])");
  assert.throws(() => translateRegex("(?i:[a-c])"), /character range inside \(\?i:/);
});

/** A small SentencePiece-style BPE: ▁ for spaces, byte fallback, unk. */
function spJson(style: "normalizer" | "metaspace"): Json {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  for (const ch of "▁abcdefghijklmnopqrstuvwxyzTHE,.é") vocab[ch] ??= Object.keys(vocab).length;
  const pairs = [["▁", "t"], ["h", "e"], ["▁t", "he"], ["a", "t"], ["▁", "c"], ["▁c", "at"], ["▁", "s"], ["▁s", "at"], ["o", "n"], ["▁", "on"], ["▁", "m"], ["▁m", "at"]];
  for (const [a, b] of pairs) vocab[a! + b!] ??= Object.keys(vocab).length;
  const decoderSteps = [
    { type: "Replace", pattern: { String: "▁" }, content: " " },
    { type: "ByteFallback" },
    { type: "Fuse" },
    { type: "Strip", content: " ", start: 1, stop: 0 },
  ];
  return {
    version: "1.0",
    added_tokens: ["<unk>", "<s>", "</s>"].map((c, id) => ({ id, content: c, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false })),
    normalizer:
      style === "normalizer"
        ? { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] }
        : null,
    pre_tokenizer: style === "metaspace" ? { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false } : null,
    post_processor: null,
    decoder: style === "normalizer" ? { type: "Sequence", decoders: decoderSteps } : { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", fuse_unk: true, byte_fallback: true, vocab, merges: pairs.map(([a, b]) => `${a} ${b}`) },
  };
}

test("hf: SentencePiece-style BPE with byte fallback (Prepend/Replace normalizer) matches tokenizers.js", () => {
  const json = spJson("normalizer");
  const tok = load(json, "sp", { eos_token: "</s>" });
  assert.equal(tok.eotId, 2);
  agree(tok, json, ["the cat sat on the mat", "THE CAT, the 🐋 ate.", "naïve résumé 日本", "a  b   c", "x"]);
});

test("hf: SentencePiece-style BPE with a Metaspace pre-tokenizer and decoder matches tokenizers.js", () => {
  const json = spJson("metaspace");
  const tok = load(json, "sp-meta");
  agree(tok, json, ["the cat sat on the mat", "résumé"]);
  // As in HF: this decoder has no ByteFallback step, so byte tokens stay visible, and a
  // leading space is taken for the prepended "▁" and stripped.
  agree(tok, json, ["the 🐋 ate.", " lead space"], false);
});

test("hf: GPT-2 exported as tokenizer.json encodes like tokenizers.js and reloads identically", () => {
  const gpt2 = loadTokenizer("gpt2");
  const json = JSON.parse(JSON.stringify(gpt2.toJSON!()));
  agree(load(json, "gpt2"), json, [...NON_ASCII.filter((s) => s !== ""), moby[1]!]);
  const back = new BpeTokenizer(specFromJson(json, "gpt2.json"));
  assert.deepEqual(back.encode(moby[2]!), gpt2.encode(moby[2]!));
  assert.equal(back.eotId, 50256);
});

test("hf: a tokenizer.json without an end-of-text token gets <|endoftext|> appended", () => {
  const json = trainBpe(["hello world"], { vocabSize: 260, minFrequency: 1 }).toJSON() as Json;
  json.added_tokens = [];
  const tok = new BpeTokenizer(specFromJson(json, "x.json"));
  assert.equal(tok.eotId, 259);
  assert.equal(tok.vocabSize, 260);
});

test("hf: bad files are refused with messages that name the file and the problem", () => {
  const base = () => trainBpe(["hello world"], { vocabSize: 262, minFrequency: 1 }).toJSON() as Json;
  const bad = (mut: (j: Json) => void, re: RegExp) => {
    const j = base();
    mut(j);
    assert.throws(() => new BpeTokenizer(specFromJson(j, "bad.json")), re);
  };
  bad((j) => (j.model.type = "WordPiece"), /bad\.json: model type 'WordPiece' is not supported/);
  bad((j) => (j.model.merges[0] = "nospace"), /bad\.json: model\.merges\[0\]/);
  bad((j) => (j.model.merges[0] = "q z"), /merges\[0\] 'q z'.*not in the vocabulary/);
  bad((j) => (j.pre_tokenizer = { type: "BertPreTokenizer" }), /unsupported type 'BertPreTokenizer'/);
  const file = join(dir, "broken.json");
  writeFileSync(file, "{ not json");
  assert.throws(() => loadTokenizer(file), /broken\.json: invalid JSON/);
  assert.throws(() => loadTokenizer(join(dir, "missing")), /tokenizer '.*missing': not one of 'byte', 'gpt2'/);
});
