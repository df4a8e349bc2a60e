/**
 * Physical block allocator of a paged KV cache (PagedAttention, Kwon et al. 2023, arXiv
 * 2309.06180; components.md §23): `numBlocks` fixed-size blocks, a free list, and a reference
 * count per block. A block is live while its count is > 0; sequences that share a prefix hold
 * the same block (count = number of holders) and copy it before writing (copy-on-write, done by
 * the caller: `PagedSequence`).
 *
 * The allocator only counts; the storage the ids index lives in `PagedKVPool`.
 */
import { ChimeraError } from "../../errors.js";

/** Thrown when a block is requested from an empty pool (callers check `numFree` first). */
export class PoolExhaustedError extends ChimeraError {
  constructor(what: string, numBlocks: number) {
    super(`paged kv cache: ${what}: all ${numBlocks} blocks are in use`);
    this.name = "PoolExhaustedError";
  }
}

export class BlockAllocator {
  /** Stack of free block ids (the lowest ids are handed out first). */
  private readonly free: Int32Array;
  private freeTop: number;
  private readonly refs: Int32Array;

  constructor(readonly numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new ChimeraError(`paged kv cache: numBlocks must be a positive integer, got ${numBlocks}`);
    this.free = new Int32Array(numBlocks);
    for (let i = 0; i < numBlocks; i++) this.free[i] = numBlocks - 1 - i;
    this.freeTop = numBlocks;
    this.refs = new Int32Array(numBlocks);
  }

  get numFree(): number {
    return this.freeTop;
  }

  get numUsed(): number {
    return this.numBlocks - this.freeTop;
  }

  /** A fresh block with reference count 1. */
  allocate(): number {
    if (this.freeTop === 0) throw new PoolExhaustedError("allocate", this.numBlocks);
    const id = this.free[--this.freeTop]!;
    this.refs[id] = 1;
    return id;
  }

  refCount(id: number): number {
    this.check(id, "refCount");
    return this.refs[id]!;
  }

  /** One more holder of a live block. */
  retain(id: number): void {
    this.check(id, "retain");
    if (this.refs[id]! <= 0) throw new ChimeraError(`paged kv cache: retain of free block ${id}`);
    this.refs[id]!++;
  }

  /** One holder fewer; the block returns to the free list when none remain. */
  release(id: number): void {
    this.check(id, "release");
    if (this.refs[id]! <= 0) throw new ChimeraError(`paged kv cache: release of free block ${id} (double free)`);
    if (--this.refs[id]! === 0) this.free[this.freeTop++] = id;
  }

  /** Sum of reference counts (tests: returns to 0 once every sequence is freed). */
  totalRefs(): number {
    let s = 0;
    for (let i = 0; i < this.numBlocks; i++) s += this.refs[i]!;
    return s;
  }

  private check(id: number, what: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks)
      throw new ChimeraError(`paged kv cache: ${what} of block ${id}, outside [0, ${this.numBlocks})`);
  }
}
