/**
 * A training dataset: documents (sources.ts) → text split (split.ts) → token streams packed into
 * T+1-token sequences (pack.ts) → shuffled, resumable batches (batches.ts), plus the validation
 * bytes-per-token needed to report bits per byte. With `cacheDir`, token streams are cached on
 * disk under a hash of the data, the tokenizer and the split, written atomically.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../tokenizer/io.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { BatchIterator, sequentialBatches, type Batch, type Cursor } from "./batches.js";
import { bytesPerToken, packSplit, tokenStream, type PackedSplit } from "./pack.js";
import { loadDocuments, type Document } from "./sources.js";
import { splitDocuments } from "./split.js";

export interface DatasetOptions {
  /** A data spec ("moby-dick", "sotu", a path; see sources.ts) or documents. */
  data: string | Document[];
  tokenizer: Tokenizer;
  /** Sequence length T. */
  seqLen: number;
  /** Fraction of the text held out for validation (default 0.1; 0 = no validation split). */
  valFraction?: number;
  /** Folder for cached token streams (off when undefined). */
  cacheDir?: string;
}

export interface Dataset {
  /** The data spec, or "documents" when documents were passed in. */
  source: string;
  tokenizer: Tokenizer;
  train: PackedSplit;
  val: PackedSplit | null;
  /** UTF-8 bytes per token of the validation split (train when there is none). */
  bytesPerToken: number;
  /** Hash of data, tokenizer and split: a saved cursor is only valid for the same value. */
  fingerprint: string;
  /** Shuffled training batches from `cursor` (default the start). */
  batches(batchSize: number, seed: number, cursor?: Cursor): BatchIterator;
  /** Validation batches in order (at most `maxBatches`); the training split when there is no validation split. */
  valBatches(batchSize: number, maxBatches?: number): Generator<Batch>;
}

interface Streams {
  train: Int32Array;
  val: Int32Array;
  trainBytes: number;
  valBytes: number;
  trainDocs: number;
  valDocs: number;
}

const CACHE_MAGIC = "chimera-token-cache-v1";

function tokenizerIdentity(tok: Tokenizer): string {
  const json = tok.toJSON?.();
  return json === undefined ? `${tok.name}|${tok.vocabSize}|${tok.eotId}` : JSON.stringify(json);
}

function fingerprintOf(docs: Document[], tok: Tokenizer, valFraction: number): string {
  const h = createHash("sha256");
  h.update(`${CACHE_MAGIC}\0${valFraction}\0`);
  h.update(tokenizerIdentity(tok));
  for (const d of docs) h.update(`\0${d.name}\0${d.text}`);
  return h.digest("hex").slice(0, 32);
}

function readCache(path: string): Streams | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const buf = readFileSync(path);
    const headerLen = buf.readUInt32LE(0);
    const h = JSON.parse(buf.subarray(4, 4 + headerLen).toString("utf8")) as Omit<Streams, "train" | "val"> & { magic: string; trainLen: number; valLen: number };
    if (h.magic !== CACHE_MAGIC) return undefined;
    const body = buf.subarray(4 + headerLen);
    if (body.length !== 4 * (h.trainLen + h.valLen)) return undefined;
    const all = new Int32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
    return { ...h, train: all.slice(0, h.trainLen), val: all.slice(h.trainLen) };
  } catch {
    return undefined; // a damaged cache file is rebuilt
  }
}

function writeCache(path: string, s: Streams): void {
  const { train, val, ...rest } = s;
  const header = Buffer.from(JSON.stringify({ magic: CACHE_MAGIC, ...rest, trainLen: train.length, valLen: val.length }), "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const body = Buffer.concat([Buffer.from(train.buffer, train.byteOffset, train.byteLength), Buffer.from(val.buffer, val.byteOffset, val.byteLength)]);
  writeFileAtomic(path, Buffer.concat([len, header, body]));
}

/** Loads, splits, tokenises and packs a corpus. */
export function loadDataset(opts: DatasetOptions): Dataset {
  const valFraction = opts.valFraction ?? 0.1;
  const source = typeof opts.data === "string" ? opts.data : "documents";
  const docs = typeof opts.data === "string" ? loadDocuments(opts.data) : opts.data;
  const { train, val } = splitDocuments(docs, valFraction);
  const fingerprint = fingerprintOf(docs, opts.tokenizer, valFraction);
  const cachePath = opts.cacheDir ? join(opts.cacheDir, `${fingerprint}.tokens`) : undefined;
  let streams = cachePath ? readCache(cachePath) : undefined;
  if (!streams) {
    const t = tokenStream(train, opts.tokenizer);
    const v = tokenStream(val, opts.tokenizer);
    streams = { train: t.tokens, val: v.tokens, trainBytes: t.textBytes, valBytes: v.textBytes, trainDocs: train.length, valDocs: val.length };
    if (cachePath) writeCache(cachePath, streams);
  }
  const trainSplit = packSplit("train", streams.train, opts.seqLen, streams.trainDocs, streams.trainBytes, source);
  const valSplit = valFraction > 0 ? packSplit("val", streams.val, opts.seqLen, streams.valDocs, streams.valBytes, source) : null;
  return {
    source,
    tokenizer: opts.tokenizer,
    train: trainSplit,
    val: valSplit,
    bytesPerToken: bytesPerToken(valSplit ?? trainSplit),
    fingerprint,
    batches: (batchSize, seed, cursor) => new BatchIterator(trainSplit, batchSize, seed, cursor),
    valBatches: (batchSize, maxBatches) => sequentialBatches(valSplit ?? trainSplit, batchSize, maxBatches),
  };
}
