/**
 * The byte-level tokenizer: ids 0–255 are the UTF-8 bytes of the text, id 256 is
 * `<|endoftext|>`. No training, no unknown tokens, 257 ids; useful as a baseline and for tiny
 * models. Every string round-trips exactly.
 */
import { splitOnSpecials, utf8Decode } from "./io.js";
import { END_OF_TEXT, type DecodeOptions, type EncodeOptions, type Tokenizer } from "./types.js";

const encoder = new TextEncoder();
const EOT_BYTES = encoder.encode(END_OF_TEXT);
const SPECIALS: ReadonlyMap<string, number> = new Map([[END_OF_TEXT, 256]]);

export class ByteTokenizer implements Tokenizer {
  readonly name = "byte";
  readonly vocabSize = 257;
  readonly eotId = 256;

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const segments = opts.allowSpecial ? splitOnSpecials(text, SPECIALS) : [{ text }];
    for (const s of segments) {
      if ("special" in s) out.push(s.special);
      else for (const b of encoder.encode(s.text)) out.push(b);
    }
    return out;
  }

  decodeBytes(ids: ArrayLike<number>, opts: DecodeOptions = {}): Uint8Array {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id >= 0 && id < 256) out.push(id);
      else if (id === this.eotId) {
        if (!opts.skipSpecial) for (const b of EOT_BYTES) out.push(b);
      } else out.push(0xef, 0xbf, 0xbd); // unknown id (e.g. a padded vocabulary slot) → U+FFFD
    }
    return Uint8Array.from(out);
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return utf8Decode(this.decodeBytes(ids, opts));
  }

  idToToken(id: number): string | undefined {
    if (id === this.eotId) return END_OF_TEXT;
    return Number.isInteger(id) && id >= 0 && id < 256 ? String.fromCharCode(id) : undefined;
  }

  isSpecial(id: number): boolean {
    return id === this.eotId;
  }
}
