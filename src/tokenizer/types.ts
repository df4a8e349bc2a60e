/**
 * The one interface every Chimera tokenizer implements (byte-level, byte-level BPE trained here,
 * GPT-2's BPE, any Hugging Face `tokenizer.json`), so the data pipeline, training and generation
 * never care which one they hold.
 */

/** The special token that separates documents in packed training data. */
export const END_OF_TEXT = "<|endoftext|>";

export interface EncodeOptions {
  /**
   * When true, occurrences of special tokens (e.g. `<|endoftext|>`) in the text become their
   * ids. Default false: text is encoded as plain text, so a corpus that happens to contain the
   * string `<|endoftext|>` cannot inject document separators.
   */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens instead of writing their text. Default false. */
  skipSpecial?: boolean;
}

export interface Tokenizer {
  /** Short description: "byte", "gpt2", "bpe-4096", or the file it came from. */
  readonly name: string;
  /** One more than the largest id the tokenizer can produce (specials included). */
  readonly vocabSize: number;
  /** Id of the end-of-text / document-separator token. */
  readonly eotId: number;
  /** Text → token ids. */
  encode(text: string, opts?: EncodeOptions): number[];
  /**
   * Token ids → text. Invalid UTF-8 left by a partial sequence, and ids the tokenizer does not
   * have (such as the padding slots of a model's rounded-up vocabulary), decode to U+FFFD.
   */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  /** Token ids → raw UTF-8 bytes (for streaming decode during generation). Specials as text. */
  decodeBytes(ids: ArrayLike<number>, opts?: DecodeOptions): Uint8Array;
  /** The token's own string form (byte-level symbols for BPE), or undefined for an unknown id. */
  idToToken(id: number): string | undefined;
  /** Whether an id is a special (added) token. */
  isSpecial(id: number): boolean;
  /** A Hugging Face `tokenizer.json` object, for tokenizers that have one. */
  toJSON?(): unknown;
  /** Writes `toJSON()` to a file atomically. */
  save?(path: string): void;
}
