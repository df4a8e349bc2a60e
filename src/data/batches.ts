/**
 * Batches of packed sequences. Training order: each epoch is a fresh permutation of the
 * sequences drawn from Rng(seed, epoch); a batch takes the next B sequences of that order and
 * runs on into the next epoch when one ends. The position is a cursor {epoch, index} — the
 * next batch starts at sequence `index` of epoch `epoch`'s order — which can be saved with a
 * checkpoint and given back to resume with exactly the same batches. Validation batches are the
 * sequences in order, without shuffling.
 *
 * Shapes: inputs [B*T] and targets [B*T], row-major (row b = sequence b), Int32.
 */
import { ChimeraError } from "../errors.js";
import type { PackedSplit } from "./pack.js";
import { permutation, Rng } from "./rng.js";

export interface Cursor {
  epoch: number;
  index: number;
}

export interface Batch {
  /** Token ids [rows*T]. */
  inputs: Int32Array;
  /** Next-token ids [rows*T]: targets[r*T + t] = sequence r's token t+1. */
  targets: Int32Array;
  /** Rows in this batch (B, or fewer for the last validation batch). */
  rows: number;
  seqLen: number;
  /** Cursor of this batch's first sequence. */
  cursor: Cursor;
}

/** Copies sequence `s` of the split into row `r` of a batch. */
function fillRow(split: PackedSplit, s: number, r: number, inputs: Int32Array, targets: Int32Array): void {
  const T = split.seqLen;
  const base = s * T;
  inputs.set(split.tokens.subarray(base, base + T), r * T);
  targets.set(split.tokens.subarray(base + 1, base + T + 1), r * T);
}

export function validateCursor(c: unknown, numSequences: number): Cursor {
  const k = c as Cursor | null;
  if (!k || !Number.isInteger(k.epoch) || k.epoch < 0 || !Number.isInteger(k.index) || k.index < 0 || k.index >= numSequences)
    throw new ChimeraError(`data: invalid data cursor ${JSON.stringify(c)} (need integers epoch ≥ 0 and 0 ≤ index < ${numSequences})`);
  return { epoch: k.epoch, index: k.index };
}

export class BatchIterator {
  private pos: Cursor;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;

  constructor(
    readonly split: PackedSplit,
    readonly batchSize: number,
    readonly seed: number,
    cursor: Cursor = { epoch: 0, index: 0 },
    readonly shuffle = true,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ChimeraError(`data: batch size must be a positive integer, got ${batchSize}`);
    this.pos = validateCursor(cursor, split.numSequences);
  }

  /** Where the next batch starts; save it to resume later. */
  get cursor(): Cursor {
    return { ...this.pos };
  }

  /** Sequences per epoch. */
  get epochSize(): number {
    return this.split.numSequences;
  }

  private orderOf(epoch: number): Uint32Array | null {
    if (!this.shuffle) return null;
    if (this.orderEpoch !== epoch) {
      this.order = permutation(this.split.numSequences, new Rng(this.seed, epoch));
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The next B sequences as a batch; advances the cursor. */
  next(): Batch {
    const B = this.batchSize;
    const T = this.split.seqLen;
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    const start = this.cursor;
    for (let r = 0; r < B; r++) {
      const order = this.orderOf(this.pos.epoch);
      const s = order ? order[this.pos.index]! : this.pos.index;
      fillRow(this.split, s, r, inputs, targets);
      if (++this.pos.index === this.split.numSequences) this.pos = { epoch: this.pos.epoch + 1, index: 0 };
    }
    return { inputs, targets, rows: B, seqLen: T, cursor: start };
  }
}

/** Validation batches: sequences 0…N−1 in order, B at a time (the last may be smaller). */
export function* sequentialBatches(split: PackedSplit, batchSize: number, maxBatches = Infinity): Generator<Batch> {
  const T = split.seqLen;
  for (let b = 0, s = 0; s < split.numSequences && b < maxBatches; b++) {
    const rows = Math.min(batchSize, split.numSequences - s);
    const inputs = new Int32Array(rows * T);
    const targets = new Int32Array(rows * T);
    for (let r = 0; r < rows; r++) fillRow(split, s + r, r, inputs, targets);
    yield { inputs, targets, rows, seqLen: T, cursor: { epoch: 0, index: s } };
    s += rows;
  }
}
