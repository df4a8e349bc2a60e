/** BPE merge engine: the heap path (long words) agrees with the direct scan (short words). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MergeTable } from "../../src/tokenizer/merges.js";
import { Rng } from "../../src/data/rng.js";

/** Reference: repeatedly merge the lowest-rank pair at its leftmost position. */
function naive(table: MergeTable, merges: [number, number, number][], ids: number[]): number[] {
  ids = ids.slice();
  for (;;) {
    let best = -1;
    let at = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const r = table.rank(ids[i]!, ids[i + 1]!);
      if (r >= 0 && (best < 0 || r < best)) [best, at] = [r, i];
    }
    if (best < 0) return ids;
    ids.splice(at, 2, merges[best]![2]);
  }
}

test("merge engine: heap and scan paths equal the naive definition on random words", () => {
  const rng = new Rng(7);
  // Alphabet 0..3; random merges over existing ids, new ids from 4 on.
  const merges: [number, number, number][] = [];
  let next = 4;
  for (let i = 0; i < 40; i++) merges.push([rng.below(next), rng.below(next), next++]);
  const table = new MergeTable(merges);
  for (const len of [0, 1, 2, 3, 5, 17, 63, 64, 65, 130, 1000]) {
    for (let rep = 0; rep < 20; rep++) {
      const word = Array.from({ length: len }, () => rng.below(4));
      assert.deepEqual(table.apply(word.slice()), naive(table, merges, word), `len ${len}`);
    }
  }
});

test("merge engine: runs of one symbol merge leftmost first", () => {
  const table = new MergeTable([[0, 0, 1]]);
  assert.deepEqual(table.apply([0, 0, 0]), [1, 0]);
  assert.deepEqual(table.apply(new Array(101).fill(0)), [...new Array(50).fill(1), 0]);
});
