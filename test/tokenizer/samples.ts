/**
 * Shared test inputs for tokenizer tests: non-ASCII strings that stress byte-level handling
 * (emoji and ZWJ sequences, CJK, accents precomposed and combining, RTL, control characters,
 * odd whitespace) and a loader for the built-in corpora.
 */
import { loadDocuments } from "../../src/data/sources.js";

export const NON_ASCII: readonly string[] = [
  "",
  " ",
  "a",
  "Hello, world!",
  "naïve café résumé — “quoted” ‘single’ …",
  "e\u0301 a\u0308 n\u0303 o\u0302\u0323 combining marks",
  "日本語のテキストと中文文本，한국어 텍스트",
  "🐋🐳 whale emoji, 👩‍👩‍👧‍👦 family ZWJ, 🇺🇸 flag, 👍🏽 skin tone",
  "עברית العربية Ελληνικά Русский",
  "tabs\tand\nnewlines\r\n\n\n  trailing spaces   ",
  "\u0000\u0001\u007f control \u00a0nbsp \u2028 line sep \ufeff bom",
  "numbers 1234567890 ½ ² ١٢٣ and symbols <|> @#$%^&*()",
  "it's they're we've I'm you'll he'd DON'T",
  "x".repeat(300) + "🙂".repeat(50),
];

/** The full text of a built-in corpus, one string per document. */
export function corpusTexts(name: "moby-dick" | "sotu"): string[] {
  return loadDocuments(name).map((d) => d.text);
}
