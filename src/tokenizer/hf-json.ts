/**
 * The Hugging Face `tokenizer.json` format for BPE models, as Chimera reads and writes it:
 * the in-memory `BpeSpec` (vocab, ranked merges, added tokens, and the normalizer /
 * pre-tokenizer / decoder / post-processor sections kept verbatim) and its JSON writer. Files
 * written here load in HF `tokenizers` (Python/Rust) and tokenizers.js.
 */

export type Json = Record<string, unknown>;

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
}

export interface BpeSpec {
  /** Display name ("bpe-4096", "gpt2", or the file it came from). */
  name: string;
  /** Model vocabulary: token string → id (added tokens may also appear here). */
  vocab: Map<string, number>;
  /** Merges in rank order: the pair's left and right token strings. */
  merges: Array<[string, string]>;
  /** Added tokens (specials such as `<|endoftext|>`). */
  added: AddedToken[];
  /** Content of the end-of-text token; must be in `added` or `vocab`. */
  eot: string;
  normalizer: Json | null;
  preTokenizer: Json | null;
  decoder: Json | null;
  postProcessor: Json | null;
  /** SentencePiece-style `<0xAB>` tokens for characters outside the vocabulary. */
  byteFallback: boolean;
  unkToken: string | null;
  /** HF `ignore_merges`: a piece that is itself a vocabulary entry is emitted whole. */
  ignoreMerges: boolean;
}

/** Pre-tokenizer / decoder sections of a GPT-2-style byte-level BPE. */
export const BYTE_LEVEL_PRE_TOKENIZER: Json = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
export const BYTE_LEVEL_DECODER: Json = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };

/** The spec as a `tokenizer.json` object. Merges use the "a b" form when no token has a space. */
export function specToJson(spec: BpeSpec): Json {
  const vocab: Record<string, number> = {};
  for (const [tok, id] of [...spec.vocab].sort((a, b) => a[1] - b[1])) vocab[tok] = id;
  const spaced = spec.merges.some(([a, b]) => a.includes(" ") || b.includes(" "));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: spec.added.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: t.single_word ?? false,
      lstrip: t.lstrip ?? false,
      rstrip: t.rstrip ?? false,
      normalized: t.normalized ?? false,
      special: t.special,
    })),
    normalizer: spec.normalizer,
    pre_tokenizer: spec.preTokenizer,
    post_processor: spec.postProcessor,
    decoder: spec.decoder,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: spec.unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: spec.byteFallback,
      ignore_merges: spec.ignoreMerges,
      vocab,
      merges: spaced ? spec.merges.map(([a, b]) => [a, b]) : spec.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
