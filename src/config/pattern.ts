/**
 * Tiling of blocks: `pattern(superblock, 12)` repeats a block (or a group of blocks, e.g. Gemma's
 * 5 local + 1 global) N times, as HF `layer_types` / nanochat's "SSSL" strings do. In JSON a
 * `layers` entry may be `{ "repeat": N, "blocks": [...] }` (or `"block": {...}`); `compactLayers`
 * folds consecutive repeats back into that form when writing JSON.
 */
import type { BlockSpec } from "./types.js";

/** A repeat group as written in JSON. */
export interface RepeatGroup {
  repeat: number;
  blocks: BlockSpec[];
}

/** `blocks` tiled `times` times; every copy is independent (deep-cloned). */
export function pattern(blocks: BlockSpec | BlockSpec[], times: number): BlockSpec[] {
  const unit = Array.isArray(blocks) ? blocks : [blocks];
  const out: BlockSpec[] = [];
  for (let r = 0; r < times; r++) for (const b of unit) out.push(structuredClone(b));
  return out;
}

/**
 * Greedy folding: at each position take the period p (up to 8 blocks) whose consecutive repeats
 * cover the most blocks; runs of one stay plain blocks. `expand(compactLayers(x))` equals x.
 */
export function compactLayers(blocks: BlockSpec[]): (BlockSpec | RepeatGroup)[] {
  const keys = blocks.map((b) => JSON.stringify(b));
  const out: (BlockSpec | RepeatGroup)[] = [];
  let i = 0;
  while (i < blocks.length) {
    let best = { p: 1, reps: 1 };
    for (let p = 1; p <= 8 && i + 2 * p <= blocks.length; p++) {
      let reps = 1;
      while (i + (reps + 1) * p <= blocks.length && samePeriod(keys, i, i + reps * p, p)) reps++;
      if (reps >= 2 && reps * p > best.p * best.reps) best = { p, reps };
    }
    if (best.reps >= 2) {
      out.push({ repeat: best.reps, blocks: blocks.slice(i, i + best.p).map((b) => structuredClone(b)) });
      i += best.p * best.reps;
    } else {
      out.push(structuredClone(blocks[i]!));
      i++;
    }
  }
  return out;
}

function samePeriod(keys: string[], a: number, b: number, p: number): boolean {
  for (let k = 0; k < p; k++) if (keys[a + k] !== keys[b + k]) return false;
  return true;
}
