/**
 * A BPE tokenizer built from a `BpeSpec` (see hf-json.ts): the GPT-2 byte-level kind (text →
 * UTF-8 bytes → byte symbols → merges, used by GPT-2, Llama 3, Qwen, and the tokenizers trained
 * here) and the SentencePiece-style kind (characters, `▁` for spaces, `<0xAB>` byte fallback,
 * used by Llama 2 and Mistral). Pieces from the pre-tokenizer are encoded once and cached, so
 * encoding a corpus costs one regex pass plus a map lookup per word.
 */
import { ChimeraError } from "../errors.js";
import { BYTE_TO_CHAR, bytesToSymbols, symbolsToBytes, utf8Into } from "./byte-level.js";
import { specToJson, type BpeSpec, type Json } from "./hf-json.js";
import { splitOnSpecials, utf8Decode, writeFileAtomic } from "./io.js";
import { MergeTable } from "./merges.js";
import { compileDecoder, compileNormalizer, compilePreTokenizer, mentionsType, type Decode, type Normalize, type PreTokenize } from "./pipeline.js";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./types.js";

const MAX_CACHED_PIECE = 256;
const MAX_CACHE_ENTRIES = 200_000;
const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]); // U+FFFD
const utf8 = new TextEncoder();

export class BpeTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eotId: number;
  readonly byteLevel: boolean;
  private readonly idToStr: (string | undefined)[];
  private readonly idBytes: (Uint8Array | undefined)[];
  private readonly special = new Set<number>();
  private readonly plainAdded = new Map<string, number>();
  private readonly allAdded = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly merges: MergeTable;
  private readonly normalize: Normalize;
  private readonly preTokenize: PreTokenize;
  private readonly decoder: Decode;
  private readonly unkId: number;
  private readonly cache = new Map<string, number[]>();
  private buf: Uint8Array = new Uint8Array(1024);

  constructor(readonly spec: BpeSpec) {
    this.name = spec.name;
    const tokenToId = new Map(spec.vocab);
    for (const t of spec.added) tokenToId.set(t.content, t.id);
    let maxId = -1;
    for (const id of tokenToId.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.idToStr = new Array(this.vocabSize);
    for (const [tok, id] of tokenToId) this.idToStr[id] = tok;

    for (const t of spec.added) {
      if (t.special) this.special.add(t.id);
      else this.plainAdded.set(t.content, t.id);
      this.allAdded.set(t.content, t.id);
    }
    const eot = tokenToId.get(spec.eot);
    if (eot === undefined) throw new ChimeraError(`${spec.name}: end-of-text token '${spec.eot}' is not in the vocabulary`);
    this.eotId = eot;
    this.unkId = spec.unkToken !== null ? (tokenToId.get(spec.unkToken) ?? -1) : -1;

    const pre = compilePreTokenizer(spec.preTokenizer);
    this.byteLevel = pre.byteLevel || mentionsType(spec.decoder, "ByteLevel");
    this.preTokenize = pre.split;
    this.normalize = compileNormalizer(spec.normalizer);
    this.decoder = compileDecoder(spec.decoder);

    this.idBytes = new Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      const s = this.idToStr[id];
      if (s === undefined) continue;
      const isAdded = this.special.has(id) || this.plainAdded.has(s);
      this.idBytes[id] = (this.byteLevel && !isAdded && symbolsToBytes(s)) || utf8.encode(s);
    }
    if (this.byteLevel) {
      for (let b = 0; b < 256; b++) {
        const id = spec.vocab.get(BYTE_TO_CHAR[b]!);
        if (id === undefined)
          throw new ChimeraError(`${spec.name}: byte-level vocabulary lacks the symbol '${BYTE_TO_CHAR[b]}' for byte 0x${b.toString(16).padStart(2, "0")}`);
        this.byteIds[b] = id;
      }
    }
    this.merges = new MergeTable(
      spec.merges.map(([l, r], i) => {
        const a = spec.vocab.get(l);
        const b = spec.vocab.get(r);
        const z = spec.vocab.get(l + r);
        if (a === undefined || b === undefined || z === undefined)
          throw new ChimeraError(`${spec.name}: merges[${i}] '${l} ${r}': ${a === undefined ? `'${l}'` : b === undefined ? `'${r}'` : `'${l + r}'`} is not in the vocabulary`);
        return [a, b, z] as const;
      }),
    );
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const added = opts.allowSpecial ? this.allAdded : this.plainAdded;
    for (const seg of splitOnSpecials(text, added)) {
      if ("special" in seg) {
        out.push(seg.special);
        continue;
      }
      for (const piece of this.preTokenize(this.normalize(seg.text))) {
        const cached = this.cache.get(piece);
        if (cached) {
          for (const id of cached) out.push(id);
          continue;
        }
        const ids = this.encodePiece(piece);
        if (piece.length <= MAX_CACHED_PIECE) {
          if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
          this.cache.set(piece, ids);
        }
        for (const id of ids) out.push(id);
      }
    }
    return out;
  }

  private encodePiece(piece: string): number[] {
    if (this.byteLevel) {
      const [buf, n] = utf8Into(piece, this.buf);
      this.buf = buf;
      if (this.spec.ignoreMerges) {
        const whole = this.spec.vocab.get(bytesToSymbols(buf.subarray(0, n)));
        if (whole !== undefined) return [whole];
      }
      const ids = new Array<number>(n);
      for (let i = 0; i < n; i++) ids[i] = this.byteIds[buf[i]!]!;
      return this.merges.apply(ids);
    }
    if (this.spec.ignoreMerges) {
      const whole = this.spec.vocab.get(piece);
      if (whole !== undefined) return [whole];
    }
    const ids: number[] = [];
    for (const ch of piece) {
      const id = this.spec.vocab.get(ch);
      if (id !== undefined) ids.push(id);
      else if (this.spec.byteFallback) {
        for (const b of utf8.encode(ch)) {
          const bid = this.spec.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
          if (bid === undefined) throw new ChimeraError(`${this.name}: byte-fallback token for 0x${b.toString(16)} is missing`);
          ids.push(bid);
        }
      } else if (this.unkId >= 0) ids.push(this.unkId);
      else throw new ChimeraError(`${this.name}: character '${ch}' (U+${ch.codePointAt(0)!.toString(16).toUpperCase()}) is not in the vocabulary and there is no unk_token`);
    }
    return this.merges.apply(ids);
  }

  decodeBytes(ids: ArrayLike<number>, opts: DecodeOptions = {}): Uint8Array {
    if (!this.byteLevel) return utf8.encode(this.decode(ids, opts));
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (opts.skipSpecial && this.special.has(id)) continue;
      const b = this.idBytes[id] ?? REPLACEMENT;
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    if (this.byteLevel) return utf8Decode(this.decodeBytes(ids, opts));
    let text = "";
    let run: string[] = [];
    let runStart = 0;
    const flush = (at: number) => {
      if (run.length > 0) text += this.decoder(run, runStart === 0);
      run = [];
      runStart = at;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const tok = this.idToStr[id];
      if (this.special.has(id) || (tok !== undefined && this.plainAdded.has(tok))) {
        flush(i + 1);
        if (!(opts.skipSpecial && this.special.has(id))) text += tok;
      } else run.push(tok ?? "\uFFFD");
    }
    flush(ids.length);
    return text;
  }

  idToToken(id: number): string | undefined {
    return this.idToStr[id];
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  toJSON(): Json {
    return specToJson(this.spec);
  }

  save(path: string): void {
    writeFileAtomic(path, JSON.stringify(this.toJSON(), null, 2) + "\n");
  }
}
