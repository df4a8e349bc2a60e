/**
 * The BPE merge engine (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
 * Subword Units"), independent of how symbols were made: given a word as a list of symbol ids,
 * repeatedly merge the adjacent pair with the lowest merge rank (leftmost first among equals)
 * until no adjacent pair has a merge. Short words use a direct scan; long ones a binary heap
 * over a linked list, so a megabyte with no spaces still encodes in O(n log n).
 */

const KEY_SHIFT = 2 ** 21; // ids must be < 2^21 (2,097,152) so a pair fits one double exactly

export class MergeTable {
  private readonly rankOf = new Map<number, number>();
  private readonly result: Int32Array;

  /** `merges[r] = [a, b, z]`: the rank-r merge joins ids a and b into id z. */
  constructor(merges: ReadonlyArray<readonly [number, number, number]>) {
    this.result = new Int32Array(merges.length);
    merges.forEach(([a, b, z], r) => {
      const key = a * KEY_SHIFT + b;
      if (!this.rankOf.has(key)) this.rankOf.set(key, r); // a repeated merge keeps its first rank
      this.result[r] = z;
    });
  }

  get size(): number {
    return this.result.length;
  }

  /** Rank of merging a then b, or −1 if there is no such merge. */
  rank(a: number, b: number): number {
    const r = this.rankOf.get(a * KEY_SHIFT + b);
    return r === undefined ? -1 : r;
  }

  /** Applies all merges to `ids` and returns the merged list (the input may be reused). */
  apply(ids: number[]): number[] {
    if (ids.length < 2) return ids;
    return ids.length <= 64 ? this.applyScan(ids) : this.applyHeap(ids);
  }

  private applyScan(ids: number[]): number[] {
    for (;;) {
      let best = -1;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.rank(ids[i]!, ids[i + 1]!);
        if (r >= 0 && (best < 0 || r < best)) {
          best = r;
          at = i;
        }
      }
      if (best < 0) return ids;
      ids.splice(at, 2, this.result[best]!);
    }
  }

  private applyHeap(ids: number[]): number[] {
    const n = ids.length;
    const sym = Int32Array.from(ids);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    const push = (i: number) => {
      const j = next[i]!;
      if (i < 0 || j < 0) return;
      const r = this.rank(sym[i]!, sym[j]!);
      if (r >= 0) heap.push(r, i, sym[i]!, sym[j]!);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const [r, i, a, b] = heap.pop();
      const j = next[i]!;
      // Stale entry: the left symbol was merged away, or either side changed since the push.
      if (sym[i] !== a || j < 0 || sym[j] !== b) continue;
      sym[i] = this.result[r]!;
      sym[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      push(prev[i]!);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return out;
  }
}

/** Min-heap of (rank, position, left id, right id), ordered by rank then position. */
class PairHeap {
  private data: number[] = [];
  get size(): number {
    return this.data.length / 4;
  }
  private less(x: number, y: number): boolean {
    const d = this.data;
    return d[4 * x]! < d[4 * y]! || (d[4 * x] === d[4 * y] && d[4 * x + 1]! < d[4 * y + 1]!);
  }
  private swap(x: number, y: number): void {
    const d = this.data;
    for (let k = 0; k < 4; k++) {
      const t = d[4 * x + k]!;
      d[4 * x + k] = d[4 * y + k]!;
      d[4 * y + k] = t;
    }
  }
  push(rank: number, pos: number, a: number, b: number): void {
    this.data.push(rank, pos, a, b);
    let i = this.size - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number, number, number] {
    const d = this.data;
    const top: [number, number, number, number] = [d[0]!, d[1]!, d[2]!, d[3]!];
    const last = this.size - 1;
    if (last > 0) this.swap(0, last);
    d.length -= 4;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
