/**
 * Small shared helpers for tokenizers: atomic file writes (temp file + rename, so a crash never
 * leaves a half-written `tokenizer.json`) and splitting text on special-token strings.
 */
/** Atomic writes live in src/io/atomic.ts; re-exported for the tokenizer and data modules. */
export { writeFileAtomic } from "../io/atomic.js";

const patterns = new WeakMap<ReadonlyMap<string, number>, RegExp>();

/** A piece of text, or a special token found in it. */
export type Segment = { text: string } | { special: number };

/**
 * Splits `text` on the given special-token strings (longest match first at each position).
 * With no specials the whole text is one segment.
 */
export function splitOnSpecials(text: string, specials: ReadonlyMap<string, number>): Segment[] {
  if (specials.size === 0 || text.length === 0) return [{ text }];
  let re = patterns.get(specials);
  if (!re) {
    const names = [...specials.keys()].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    re = new RegExp(names.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
    patterns.set(specials, re);
  }
  const out: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index! > last) out.push({ text: text.slice(last, m.index) });
    out.push({ special: specials.get(m[0])! });
    last = m.index! + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
/** UTF-8 bytes → string; invalid sequences become U+FFFD. A leading BOM is kept. */
export function utf8Decode(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
