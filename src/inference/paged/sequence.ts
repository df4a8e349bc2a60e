/**
 * One sequence's view of a paged KV cache: a block table per cache group (logical block i →
 * physical block id, −1 once a sliding-window layer has released it) and the number of positions
 * held. Blocks are allocated on demand as tokens arrive (`reserve`), so at most one partially
 * filled block per group is ever wasted (components.md §23).
 *
 * Sharing: `fork()` gives a second sequence holding the same blocks (each block's refcount + 1),
 * e.g. n completions of one prompt. The first write into a block that another sequence also
 * holds copies it first (copy-on-write at block granularity), so siblings never see each other's
 * tokens. `free()` drops every reference.
 *
 * Sliding windows: once no future query can see a block (every position in it is below
 * length − maxRollback − W + 1), the block is released back to its group's free list.
 */
import { ChimeraError } from "../../errors.js";
import { PoolExhaustedError } from "./allocator.js";
import type { PagedKVPool } from "./pool.js";

let nextSeqId = 1;

export class PagedSequence {
  readonly id = nextSeqId++;
  /** Per group: physical block ids of logical blocks 0, 1, … (−1 = released by the window). */
  readonly tables: number[][];
  /** Positions held (the next token's position). */
  length = 0;
  private freed = false;

  constructor(readonly pool: PagedKVPool) {
    this.tables = pool.groups.map(() => []);
  }

  get isFreed(): boolean {
    return this.freed;
  }

  /** Physical block holding position p in group g. */
  blockOf(g: number, p: number): number {
    return this.tables[g]![Math.floor(p / this.pool.blockSize)] ?? -1;
  }

  /** New blocks (fresh or copy-on-write copies) each group needs to write positions length … length+n−1. */
  blocksNeeded(n: number): number[] {
    this.checkLive("blocksNeeded");
    const bs = this.pool.blockSize;
    return this.pool.groups.map((g, gi) => {
      if (n <= 0) return 0;
      const table = this.tables[gi]!;
      const first = Math.floor(this.length / bs);
      const last = Math.floor((this.length + n - 1) / bs);
      let need = 0;
      for (let i = first; i <= last; i++) {
        const b = table[i];
        if (b === undefined || b < 0 || g.allocator.refCount(b) > 1) need++;
      }
      return need;
    });
  }

  /** True when the pool has the blocks to write n more positions. */
  canReserve(n: number): boolean {
    const need = this.blocksNeeded(n);
    return need.every((k, g) => k <= this.pool.groups[g]!.allocator.numFree);
  }

  /**
   * Makes positions length … length+n−1 writable in every group: allocates missing blocks and
   * copies shared ones (copy-on-write). All-or-nothing: throws PoolExhaustedError, allocating
   * nothing, when some group lacks blocks.
   */
  reserve(n: number): void {
    const need = this.blocksNeeded(n);
    need.forEach((k, g) => {
      const a = this.pool.groups[g]!.allocator;
      if (k > a.numFree) throw new PoolExhaustedError(`sequence ${this.id} needs ${k} blocks (group window ${this.pool.groups[g]!.window}) but ${a.numFree} are free`, a.numBlocks);
    });
    if (n <= 0) return;
    const bs = this.pool.blockSize;
    const first = Math.floor(this.length / bs);
    const last = Math.floor((this.length + n - 1) / bs);
    this.pool.groups.forEach((g, gi) => {
      const table = this.tables[gi]!;
      for (let i = first; i <= last; i++) {
        const b = table[i];
        if (b === undefined || b < 0) {
          while (table.length < i) table.push(-1);
          table[i] = g.allocator.allocate();
        } else if (g.allocator.refCount(b) > 1) {
          const copy = g.allocator.allocate();
          this.pool.copyBlock(gi, b, copy);
          g.allocator.release(b);
          table[i] = copy;
        }
      }
    });
  }

  /** Marks n more positions as held (their K/V written) and releases blocks out of every window. */
  advance(n: number): void {
    this.checkLive("advance");
    this.length += n;
    this.releaseOutOfWindow();
  }

  /** First position sliding group g still holds (keys below it were released). */
  firstHeld(g: number): number {
    const table = this.tables[g]!;
    let i = 0;
    while (i < table.length && table[i]! < 0) i++;
    return i * this.pool.blockSize;
  }

  private releaseOutOfWindow(): void {
    const bs = this.pool.blockSize;
    this.pool.groups.forEach((g, gi) => {
      if (g.window === 0) return;
      // keys a query at position ≥ length − maxRollback can still see start at lo
      const lo = this.length - this.pool.maxRollback - g.window + 1;
      const table = this.tables[gi]!;
      for (let i = 0; (i + 1) * bs <= lo && i < table.length; i++) {
        if (table[i]! >= 0) {
          g.allocator.release(table[i]!);
          table[i] = -1;
        }
      }
    });
  }

  /** Drops positions n … length−1 (rejected speculative drafts); frees blocks past the new end. */
  truncate(n: number): void {
    this.checkLive("truncate");
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new ChimeraError(`paged kv cache: truncate to ${n} of a sequence of length ${this.length}`);
    this.pool.groups.forEach((g, gi) => {
      if (g.window > 0 && this.firstHeld(gi) > Math.max(0, n - g.window + 1))
        throw new ChimeraError(
          `paged kv cache: truncate to ${n} needs keys from ${n - g.window + 1} but the window group released them (raise maxRollback, now ${this.pool.maxRollback})`,
        );
    });
    this.length = n;
    const keep = Math.ceil(n / this.pool.blockSize);
    this.pool.groups.forEach((g, gi) => {
      const table = this.tables[gi]!;
      while (table.length > keep) {
        const b = table.pop()!;
        if (b >= 0) g.allocator.release(b);
      }
    });
  }

  /** A sibling sharing every block (refcounts + 1); writes after the fork copy on write. */
  fork(): PagedSequence {
    this.checkLive("fork");
    const s = new PagedSequence(this.pool);
    s.length = this.length;
    this.pool.groups.forEach((g, gi) => {
      for (const b of this.tables[gi]!) {
        if (b >= 0) g.allocator.retain(b);
        s.tables[gi]!.push(b);
      }
    });
    return s;
  }

  /** Releases every block this sequence holds. Idempotent. */
  free(): void {
    if (this.freed) return;
    this.pool.groups.forEach((g, gi) => {
      for (const b of this.tables[gi]!) if (b >= 0) g.allocator.release(b);
      this.tables[gi]!.length = 0;
    });
    this.freed = true;
  }

  /** Token slots of the blocks this sequence holds in group g (shared blocks counted in full). */
  heldSlots(g: number): number {
    let n = 0;
    for (const b of this.tables[g]!) if (b >= 0) n++;
    return n * this.pool.blockSize;
  }

  /** Positions group g actually needs: all for full attention, the window (+ rollback) for sliding. */
  liveTokens(g: number): number {
    const w = this.pool.groups[g]!.window;
    return w === 0 ? this.length : Math.min(this.length, this.length - this.firstHeld(g));
  }

  private checkLive(what: string): void {
    if (this.freed) throw new ChimeraError(`paged kv cache: ${what} on sequence ${this.id} after free()`);
  }
}
