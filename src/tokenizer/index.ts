/**
 * Tokenizers: one `Tokenizer` interface, and `loadTokenizer(spec)` to get one by name or path.
 *   "byte"                   → 256 byte ids + `<|endoftext|>` (ByteTokenizer)
 *   "gpt2"                   → GPT-2's 50,257-id BPE (vocabulary from the `gpt-tokenizer` package)
 *   path/to/tokenizer.json   → any Hugging Face BPE tokenizer.json (e.g. one trained here)
 *   path/to/folder           → the tokenizer.json inside it
 */
import { existsSync } from "node:fs";
import { ChimeraError } from "../errors.js";
import { ByteTokenizer } from "./byte.js";
import { gpt2Tokenizer } from "./gpt2.js";
import { loadHfTokenizer } from "./hf.js";
import type { Tokenizer } from "./types.js";

export { BpeTokenizer } from "./bpe.js";
export { ByteTokenizer } from "./byte.js";
export { gpt2Spec, gpt2Tokenizer } from "./gpt2.js";
export { loadHfTokenizer, specFromJson } from "./hf.js";
export type { AddedToken, BpeSpec } from "./hf-json.js";
export { trainBpe, type TrainBpeOptions } from "./train-bpe.js";
export { END_OF_TEXT, type DecodeOptions, type EncodeOptions, type Tokenizer } from "./types.js";

/** Names `loadTokenizer` accepts besides paths. */
export const BUILTIN_TOKENIZERS = ["byte", "gpt2"] as const;

export function loadTokenizer(spec: string): Tokenizer {
  if (spec === "byte") return new ByteTokenizer();
  if (spec === "gpt2") return gpt2Tokenizer();
  if (existsSync(spec)) return loadHfTokenizer(spec);
  throw new ChimeraError(
    `tokenizer '${spec}': not one of ${BUILTIN_TOKENIZERS.map((n) => `'${n}'`).join(", ")}, and no such tokenizer.json file or folder`,
  );
}
