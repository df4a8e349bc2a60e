/**
 * GPT-2's byte-level alphabet and pre-tokenisation (Radford et al. 2019, "Language Models are
 * Unsupervised Multitask Learners", §2.2): every byte 0–255 is shown as one printable Unicode
 * character, so BPE tokens are plain strings (a space is "Ġ", a newline "Ċ"), and text is first
 * split into word-like pieces by a regex so merges never cross a word and its punctuation.
 */

/** GPT-2's pre-tokenisation pattern: contractions, letters, digits, other symbols, spaces. */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** Byte → its one-character byte-level symbol. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return out;
})();

/** Byte-level symbol char code → byte (−1 for characters outside the alphabet). */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(512).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (out[c.charCodeAt(0)] = b));
  return out;
})();

/** Byte-level string of some bytes ("Hello world" → "HelloĠworld"). */
export function bytesToSymbols(bytes: ArrayLike<number>): string {
  const codes = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i++) codes[i] = BYTE_CODE[bytes[i]!]!;
  return String.fromCharCode(...codes);
}
const BYTE_CODE = Int32Array.from(BYTE_TO_CHAR, (c) => c.charCodeAt(0));

/** Byte-level string → bytes, or undefined if a character is outside the alphabet. */
export function symbolsToBytes(symbols: string): Uint8Array | undefined {
  const out = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const c = symbols.charCodeAt(i);
    const b = c < 512 ? CHAR_TO_BYTE[c]! : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

/**
 * Writes the UTF-8 encoding of `s` into `buf` (grown as needed) and returns [buf, length].
 * Lone surrogates become U+FFFD, as TextEncoder does. Faster than TextEncoder for the short
 * pieces the tokenizer handles because it allocates nothing.
 */
export function utf8Into(s: string, buf: Uint8Array): [Uint8Array, number] {
  if (buf.length < s.length * 3) buf = new Uint8Array(s.length * 3 + 16);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) buf[n++] = c;
    else if (c < 0x800) {
      buf[n++] = 0xc0 | (c >> 6);
      buf[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[n++] = 0xf0 | (c >> 18);
          buf[n++] = 0x80 | ((c >> 12) & 63);
          buf[n++] = 0x80 | ((c >> 6) & 63);
          buf[n++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      buf[n++] = 0xe0 | (c >> 12);
      buf[n++] = 0x80 | ((c >> 6) & 63);
      buf[n++] = 0x80 | (c & 63);
    }
  }
  return [buf, n];
}
