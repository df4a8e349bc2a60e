/**
 * Deterministic train/validation split: the last `valFraction` of the corpus text (documents in
 * source order) is held out. The cut is made on the text, not on tokens, so every tokenizer sees
 * the same validation text and bits-per-byte are comparable across tokenizers. When the cut
 * falls inside a document it moves back to the nearest line break (else space) and that
 * document is divided into "name#head" (train) and "name#tail" (validation).
 */
import { ChimeraError } from "../errors.js";
import type { Document } from "./sources.js";

export interface TextSplit {
  train: Document[];
  val: Document[];
}

/** Where to cut `text` near `at`: after a newline, else after a space, else at `at`. */
function cutPoint(text: string, at: number): number {
  const nl = text.lastIndexOf("\n", at - 1);
  if (nl >= 0 && at - nl <= 4096) return nl + 1;
  const sp = text.lastIndexOf(" ", at - 1);
  if (sp >= 0 && at - sp <= 256) return sp + 1;
  const c = text.charCodeAt(at);
  return c >= 0xdc00 && c <= 0xdfff ? at - 1 : at; // never split a surrogate pair
}

export function splitDocuments(docs: Document[], valFraction: number): TextSplit {
  if (!(valFraction >= 0 && valFraction < 1)) throw new ChimeraError(`data: validation fraction must be in [0, 1), got ${valFraction}`);
  if (valFraction === 0) return { train: docs.slice(), val: [] };
  const total = docs.reduce((n, d) => n + d.text.length, 0);
  let remaining = Math.round(total * (1 - valFraction)); // characters that go to train
  const train: Document[] = [];
  const val: Document[] = [];
  for (const d of docs) {
    if (remaining >= d.text.length) {
      train.push(d);
      remaining -= d.text.length;
    } else if (remaining <= 0) val.push(d);
    else {
      const cut = cutPoint(d.text, remaining);
      if (cut > 0) train.push({ name: `${d.name}#head`, text: d.text.slice(0, cut) });
      if (cut < d.text.length) val.push({ name: `${d.name}#tail`, text: d.text.slice(cut) });
      remaining = 0;
    }
  }
  return { train, val };
}
