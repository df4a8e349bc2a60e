/**
 * Streaming detokenisation with stop strings. Token bytes go through a streaming UTF-8 decoder
 * (a character split across tokens is emitted once complete). Text that could be the start of a
 * stop string is held back until it is either completed (generation stops; the stop string and
 * everything after it are dropped, as the OpenAI API does) or ruled out (the text is released).
 * Because nothing that could begin a match is ever released, a match always lies inside the
 * held-back text plus the new text.
 */
import type { Tokenizer } from "../tokenizer/types.js";

export class TextStream {
  private readonly decoder = new TextDecoder("utf-8");
  private held = "";
  /** Text released so far. */
  text = "";
  /** True once a stop string was found. */
  stopped = false;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly stops: readonly string[] = [],
  ) {}

  /** Adds one token; returns the newly released text ("" if none, or after a stop). */
  push(token: number): string {
    if (this.stopped) return "";
    const chunk = this.decoder.decode(this.tokenizer.decodeBytes([token]), { stream: true });
    return this.release(chunk);
  }

  /** End of generation: flushes the decoder and the held-back text. */
  finish(): string {
    if (this.stopped) return "";
    const rest = this.release(this.decoder.decode());
    if (this.stopped) return rest;
    const out = rest + this.held;
    this.text += this.held;
    this.held = "";
    return out;
  }

  private release(chunk: string): string {
    const buf = this.held + chunk;
    if (this.stops.length === 0) {
      this.held = "";
      this.text += buf;
      return buf;
    }
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = "";
      const out = buf.slice(0, cut);
      this.text += out;
      return out;
    }
    // hold back the longest suffix of buf that is a proper prefix of some stop string
    let keep = 0;
    for (const s of this.stops)
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--)
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
    const out = buf.slice(0, buf.length - keep);
    this.held = buf.slice(buf.length - keep);
    this.text += out;
    return out;
  }
}
