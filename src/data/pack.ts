/**
 * Packing: a split's documents are tokenised and joined into one stream with the end-of-text
 * token before every document and after the last (EOT d₁ EOT d₂ … EOT dₙ EOT), then read as
 * sequences of T+1 tokens that overlap by one: sequence i is stream[i·T … i·T+T], its inputs
 * the first T tokens and its targets the last T (inputs shifted by one). Every stream token
 * but the first is a target exactly once; the tail that does not fill a sequence is dropped.
 */
import { ChimeraError } from "../errors.js";
import type { Tokenizer } from "../tokenizer/types.js";
import type { Document } from "./sources.js";

export interface PackedSplit {
  name: "train" | "val";
  /** The token stream. */
  tokens: Int32Array;
  /** Sequence length T (inputs per sequence). */
  seqLen: number;
  /** Number of (T+1)-token sequences: ⌊(tokens − 1) / T⌋. */
  numSequences: number;
  /** Documents in the split. */
  documents: number;
  /** UTF-8 bytes of the split's text (separators not counted). */
  textBytes: number;
}

/** Tokenises documents into the EOT-separated stream. */
export function tokenStream(docs: Document[], tokenizer: Tokenizer): { tokens: Int32Array; textBytes: number } {
  const parts: number[][] = [];
  let n = 1;
  let textBytes = 0;
  for (const d of docs) {
    const ids = tokenizer.encode(d.text);
    parts.push(ids);
    n += ids.length + 1;
    textBytes += Buffer.byteLength(d.text, "utf8");
  }
  const tokens = new Int32Array(n);
  let o = 0;
  tokens[o++] = tokenizer.eotId;
  for (const ids of parts) {
    tokens.set(ids, o);
    o += ids.length;
    tokens[o++] = tokenizer.eotId;
  }
  return { tokens, textBytes };
}

/** Wraps a stream as a packed split; fails if it cannot fill one sequence. */
export function packSplit(name: "train" | "val", tokens: Int32Array, seqLen: number, documents: number, textBytes: number, source: string): PackedSplit {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new ChimeraError(`data: sequence length must be a positive integer, got ${seqLen}`);
  const numSequences = Math.floor((tokens.length - 1) / seqLen);
  if (numSequences < 1)
    throw new ChimeraError(
      `data '${source}': the ${name === "train" ? "training" : "validation"} split has ${tokens.length} tokens, fewer than one sequence of ${seqLen}+1; ` +
        `use a shorter sequence length${name === "val" ? ", a larger validation fraction" : ""} or more data`,
    );
  return { name, tokens, seqLen, numSequences, documents, textBytes };
}

/** Sequence i of a split: a view of T+1 tokens. */
export function sequence(split: PackedSplit, i: number): Int32Array {
  if (!(i >= 0 && i < split.numSequences)) throw new RangeError(`${split.name} sequence ${i} out of range [0, ${split.numSequences})`);
  return split.tokens.subarray(i * split.seqLen, i * split.seqLen + split.seqLen + 1);
}

/** UTF-8 bytes per predicted token of a split: textBytes / (stream tokens − 1). */
export function bytesPerToken(split: PackedSplit): number {
  return split.textBytes / Math.max(1, split.tokens.length - 1);
}

/**
 * Bits per byte from a mean cross-entropy in nats per token:
 * bpb = loss / ln 2 × tokens / bytes = loss / (ln 2 × bytesPerToken).
 */
export function bitsPerByte(meanLossNats: number, bytesPerTok: number): number {
  return meanLossNats / (Math.LN2 * bytesPerTok);
}
