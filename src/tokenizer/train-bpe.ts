/**
 * Byte-level BPE training (Sennrich et al. 2016; GPT-2's byte-level variant). The text is split
 * into pieces by the GPT-2 regex and counted; each distinct piece becomes a word of byte ids.
 * Then, until the vocabulary is full, the most frequent adjacent pair is merged into a new id.
 * Pair counts are updated incrementally: only the words that contain the merged pair are
 * re-counted (an index maps each pair to the words it occurs in), and a lazy max-heap finds the
 * next best pair. Ties go to the smaller (left id, right id), so training is deterministic.
 *
 * Vocabulary layout: ids 0–255 are the bytes (in byte order), then one id per merge in merge
 * order, then the special tokens (`<|endoftext|>` by default).
 */
import { ChimeraError } from "../errors.js";
import { BpeTokenizer } from "./bpe.js";
import { BYTE_TO_CHAR, GPT2_PATTERN, utf8Into } from "./byte-level.js";
import { BYTE_LEVEL_DECODER, BYTE_LEVEL_PRE_TOKENIZER } from "./hf-json.js";
import { END_OF_TEXT } from "./types.js";

export interface TrainBpeOptions {
  /** Total vocabulary size, bytes and special tokens included (≥ 256 + specials). */
  vocabSize: number;
  /** Special tokens appended after the merges; the first is the end-of-text token. */
  specials?: string[];
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
  /** Display name of the result (default `bpe-<vocabSize>`). */
  name?: string;
  /** Called every 256 merges. */
  onProgress?: (merges: number, target: number) => void;
}

const SHIFT = 65536; // pair key = left * SHIFT + right; ids stay below 65,536

/** Trains a byte-level BPE tokenizer on the given texts. */
export function trainBpe(texts: Iterable<string>, opts: TrainBpeOptions): BpeTokenizer {
  const specials = opts.specials ?? [END_OF_TEXT];
  const target = opts.vocabSize - 256 - specials.length;
  if (!Number.isInteger(opts.vocabSize) || target < 0)
    throw new ChimeraError(`tokenizer train: vocab size must be an integer ≥ ${256 + specials.length} (256 bytes + ${specials.length} special), got ${opts.vocabSize}`);
  if (opts.vocabSize > SHIFT) throw new ChimeraError(`tokenizer train: vocab size must be ≤ ${SHIFT}, got ${opts.vocabSize}`);
  const minFreq = Math.max(1, opts.minFrequency ?? 2);

  // 1. Count pre-tokenised pieces.
  const pieceCounts = new Map<string, number>();
  const re = new RegExp(GPT2_PATTERN, "gu");
  for (const text of texts) for (const m of text.matchAll(re)) pieceCounts.set(m[0], (pieceCounts.get(m[0]) ?? 0) + 1);

  // 2. Words as byte-id lists, with their frequencies.
  const words: number[][] = [];
  const freq: number[] = [];
  let buf: Uint8Array = new Uint8Array(256);
  for (const [piece, count] of pieceCounts) {
    const [b, n] = utf8Into(piece, buf);
    buf = b;
    if (n < 2) continue; // a single byte can take part in no merge
    words.push(Array.from(b.subarray(0, n)));
    freq.push(count);
  }

  // 3. Initial pair counts and the pair → words index.
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.length; i++) {
      const k = w[i]! * SHIFT + w[i + 1]!;
      pairCount.set(k, (pairCount.get(k) ?? 0) + freq[wi]!);
      const list = where.get(k);
      if (list === undefined) where.set(k, [wi]);
      else if (list[list.length - 1] !== wi) list.push(wi);
    }
  });
  const heap = new CountHeap();
  for (const [k, c] of pairCount) heap.push(c, k);

  // 4. Merge loop.
  const tokens: string[] = [...BYTE_TO_CHAR];
  const idOf = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const merges: Array<[string, string]> = [];
  const stamp = new Int32Array(words.length).fill(-1);
  while (tokens.length - 256 < target && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale heap entry
    if (count < minFreq) break;
    const a = Math.floor(key / SHIFT);
    const b = key % SHIFT;
    const str = tokens[a]! + tokens[b]!;
    let z = idOf.get(str);
    if (z === undefined) {
      z = tokens.length;
      tokens.push(str);
      idOf.set(str, z);
    }
    merges.push([tokens[a]!, tokens[b]!]);
    const step = merges.length;
    const delta = new Map<number, number>();
    const add = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const wi of where.get(key) ?? []) {
      if (stamp[wi] === step) continue;
      stamp[wi] = step;
      const w = words[wi]!;
      const f = freq[wi]!;
      let hit = false;
      for (let i = 0; i + 1 < w.length && !hit; i++) hit = w[i] === a && w[i + 1] === b;
      if (!hit) continue;
      for (let i = 0; i + 1 < w.length; i++) add(w[i]! * SHIFT + w[i + 1]!, -f);
      const merged: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          merged.push(z);
          i++;
        } else merged.push(w[i]!);
      }
      words[wi] = merged;
      for (let i = 0; i + 1 < merged.length; i++) {
        const k = merged[i]! * SHIFT + merged[i + 1]!;
        add(k, f);
        if (merged[i] === z || merged[i + 1] === z) {
          const list = where.get(k);
          if (list === undefined) where.set(k, [wi]);
          else if (list[list.length - 1] !== wi) list.push(wi);
        }
      }
    }
    where.delete(key);
    pairCount.delete(key);
    delta.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) {
        pairCount.set(k, c);
        heap.push(c, k);
      } else pairCount.delete(k);
    }
    if (opts.onProgress && step % 256 === 0) opts.onProgress(tokens.length - 256, target);
  }

  const vocab = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const added = specials.map((content, i) => ({ id: tokens.length + i, content, special: true }));
  return new BpeTokenizer({
    name: opts.name ?? `bpe-${tokens.length + specials.length}`,
    vocab,
    merges,
    added,
    eot: specials[0] ?? END_OF_TEXT,
    normalizer: null,
    preTokenizer: BYTE_LEVEL_PRE_TOKENIZER,
    decoder: BYTE_LEVEL_DECODER,
    postProcessor: null,
    byteFallback: false,
    unkToken: null,
    ignoreMerges: false,
  });
}

/** Max-heap of (count, pair key); ties go to the smaller key (left id, then right id). */
class CountHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.size - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.size - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.before(l, m)) m = l;
      if (r < last && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
