/**
 * The text stages around a Hugging Face BPE model, compiled from their `tokenizer.json` form:
 * normalizer (text → text), pre-tokenizer (text → pieces) and decoder (token strings → text).
 * Supported: normalizers NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace, Sequence;
 * pre-tokenizers ByteLevel, Split, Digits, Metaspace, Sequence; decoders ByteLevel, Metaspace,
 * Replace, ByteFallback, Fuse, Strip, Sequence. Anything else is refused with its type named.
 * HF (Rust/Oniguruma) regexes are translated to JavaScript: `(?i:…)` groups are expanded to
 * case classes and possessive quantifiers (`++`, `*+`, `?+`) become greedy ones.
 */
import { ChimeraError } from "../errors.js";
import { GPT2_PATTERN } from "./byte-level.js";

type Json = Record<string, unknown>;
export type Normalize = (text: string) => string;
export type PreTokenize = (text: string) => string[];
/** Joins a run of token strings into text; `atStart` says the run begins the whole output. */
export type Decode = (tokens: string[], atStart: boolean) => string;

export interface CompiledPreTokenizer {
  split: PreTokenize;
  /** True when a ByteLevel step is present: pieces are then byte-level encoded. */
  byteLevel: boolean;
}

function fail(where: string, what: string): never {
  throw new ChimeraError(`tokenizer.json: ${where}: ${what}`);
}

function stepsOf(j: Json, key: string): Json[] {
  const list = j[key];
  if (!Array.isArray(list)) fail(String(j.type), `expected an array '${key}'`);
  return list as Json[];
}

/** Rust-regex → JS regex source (see file comment). */
export function translateRegex(src: string): string {
  let out = "";
  let inClass = false;
  let caseless = 0; // depth of (?i: groups currently open
  const groupStack: boolean[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === "\\") {
      const m = /^\\[pP]\{[^}]*\}/.exec(src.slice(i));
      const esc = m ? m[0] : src.slice(i, i + 2);
      out += esc;
      i += esc.length - 1;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      else if (caseless && c === "-" && src[i + 1] !== "]" && !out.endsWith("["))
        fail("regex", `a character range inside (?i:…) is not supported: ${src}`);
      out += caseless && /[a-z]/i.test(c) ? c.toLowerCase() + c.toUpperCase() : c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (src[i + 1] === "^") out += src[++i];
      continue;
    }
    if (c === "(") {
      if (src.startsWith("(?i:", i)) {
        groupStack.push(true);
        caseless++;
        out += "(?:";
        i += 3;
        continue;
      }
      groupStack.push(false);
      out += c;
      continue;
    }
    if (c === ")") {
      if (groupStack.pop()) caseless--;
      out += c;
      continue;
    }
    if ((c === "+" || c === "*" || c === "?" || c === "}") && src[i + 1] === "+") {
      out += c;
      i++;
      continue;
    }
    out += caseless && /[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
  }
  return out;
}

function compilePattern(p: unknown, where: string): RegExp {
  const pat = p as { Regex?: string; String?: string } | undefined;
  let source: string;
  if (pat && typeof pat.Regex === "string") source = translateRegex(pat.Regex);
  else if (pat && typeof pat.String === "string") source = pat.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  else fail(where, `expected pattern {"Regex": …} or {"String": …}`);
  try {
    return new RegExp(source, "gu");
  } catch (e) {
    fail(where, `regex cannot be used in JavaScript (${(e as Error).message}): ${source}`);
  }
}

/** Splits `text` by `re` with HF's SplitDelimiterBehavior. */
function splitBy(text: string, re: RegExp, behavior: string, invert: boolean): string[] {
  // Collect alternating [isMatch, piece] spans covering the whole text.
  const spans: [boolean, string][] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index! > last) spans.push([invert, text.slice(last, m.index)]);
    spans.push([!invert, m[0]]);
    last = m.index! + m[0].length;
  }
  if (last < text.length) spans.push([invert, text.slice(last)]);
  const out: string[] = [];
  switch (behavior) {
    case "Isolated":
      for (const [, s] of spans) out.push(s);
      break;
    case "Removed":
      for (const [isDelim, s] of spans) if (!isDelim) out.push(s);
      break;
    case "MergedWithPrevious":
      for (const [isDelim, s] of spans) {
        if (isDelim && out.length > 0) out[out.length - 1] += s;
        else out.push(s);
      }
      break;
    case "MergedWithNext": {
      let carry = "";
      for (const [isDelim, s] of spans) {
        if (isDelim) carry += s;
        else {
          out.push(carry + s);
          carry = "";
        }
      }
      if (carry) out.push(carry);
      break;
    }
    case "Contiguous": {
      let prevDelim = false;
      for (const [isDelim, s] of spans) {
        if (isDelim && prevDelim) out[out.length - 1] += s;
        else out.push(s);
        prevDelim = isDelim;
      }
      break;
    }
    default:
      fail("pre_tokenizer Split", `unsupported behavior '${behavior}'`);
  }
  return out.filter((s) => s.length > 0);
}

/** Whether a pipeline section mentions a step of the given type anywhere (e.g. ByteLevel). */
export function mentionsType(j: unknown, type: string): boolean {
  if (!j || typeof j !== "object") return false;
  if ((j as Json).type === type) return true;
  return Object.values(j as Json).some((v) => Array.isArray(v) && v.some((x) => mentionsType(x, type)));
}

export function compileNormalizer(j: Json | null | undefined): Normalize {
  if (!j) return (s) => s;
  switch (j.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = j.type;
      return (s) => s.normalize(form);
    }
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Prepend": {
      const p = String(j.prepend ?? "");
      return (s) => (s.length > 0 ? p + s : s);
    }
    case "Replace": {
      const re = compilePattern(j.pattern, "normalizer Replace");
      const content = String(j.content ?? "");
      return (s) => s.replace(re, () => content);
    }
    case "Sequence": {
      const steps = stepsOf(j, "normalizers").map(compileNormalizer);
      return (s) => steps.reduce((acc, f) => f(acc), s);
    }
    default:
      fail("normalizer", `unsupported type '${String(j.type)}'`);
  }
}

/** Metaspace's prepend rule: "always", "first" (only at the very start) or "never". */
function prependScheme(j: Json): string {
  if (typeof j.prepend_scheme === "string") return j.prepend_scheme;
  return j.add_prefix_space === false ? "never" : "always";
}

export function compilePreTokenizer(j: Json | null | undefined): CompiledPreTokenizer {
  if (!j) return { split: (s) => (s.length > 0 ? [s] : []), byteLevel: false };
  switch (j.type) {
    case "ByteLevel": {
      const re = j.use_regex === false ? null : new RegExp(GPT2_PATTERN, "gu");
      const prefix = j.add_prefix_space === true;
      return {
        byteLevel: true,
        split: (s) => {
          if (prefix && s.length > 0 && !s.startsWith(" ")) s = " " + s;
          if (!re) return s.length > 0 ? [s] : [];
          return s.match(re) ?? [];
        },
      };
    }
    case "Split": {
      const re = compilePattern(j.pattern, "pre_tokenizer Split");
      const behavior = String(j.behavior ?? "Isolated");
      const invert = j.invert === true;
      return { byteLevel: false, split: (s) => splitBy(s, re, behavior, invert) };
    }
    case "Digits": {
      const re = j.individual_digits ? /\p{N}/gu : /\p{N}+/gu;
      return { byteLevel: false, split: (s) => splitBy(s, re, "Isolated", false) };
    }
    case "Metaspace": {
      const rep = String(j.replacement ?? "▁");
      const scheme = prependScheme(j);
      const split = j.split !== false;
      return {
        byteLevel: false,
        split: (s) => {
          s = s.replaceAll(" ", rep);
          if (scheme !== "never" && s.length > 0 && !s.startsWith(rep)) s = rep + s;
          if (!split) return s.length > 0 ? [s] : [];
          return splitBy(s, new RegExp(rep, "gu"), "MergedWithNext", false);
        },
      };
    }
    case "Sequence": {
      const steps = stepsOf(j, "pretokenizers").map(compilePreTokenizer);
      return {
        byteLevel: steps.some((s) => s.byteLevel),
        split: (s) => steps.reduce<string[]>((pieces, step) => pieces.flatMap(step.split), [s]),
      };
    }
    default:
      fail("pre_tokenizer", `unsupported type '${String(j.type)}'`);
  }
}

/** Token-string → token-string list steps; the last step's strings are concatenated. */
type DecodeStep = (tokens: string[], atStart: boolean) => string[];

function compileDecodeStep(j: Json): DecodeStep {
  switch (j.type) {
    case "Replace": {
      const re = compilePattern(j.pattern, "decoder Replace");
      const content = String(j.content ?? "");
      return (ts) => ts.map((t) => t.replace(re, () => content));
    }
    case "ByteFallback":
      return (ts) => byteFallback(ts);
    case "Fuse":
      return (ts) => [ts.join("")];
    case "Strip": {
      const content = String(j.content ?? " ");
      const start = Number(j.start ?? 0);
      const stop = Number(j.stop ?? 0);
      return (ts, atStart) =>
        ts.map((t, i) => {
          let a = 0;
          let b = t.length;
          if (i === 0 && atStart) for (let k = 0; k < start && t.startsWith(content, a); k++) a += content.length;
          for (let k = 0; k < stop && b - content.length >= a && t.startsWith(content, b - content.length); k++) b -= content.length;
          return t.slice(a, b);
        });
    }
    case "Metaspace": {
      const rep = String(j.replacement ?? "▁");
      const strip = prependScheme(j) !== "never";
      return (ts, atStart) =>
        ts.map((t, i) => {
          const s = t.replaceAll(rep, " ");
          return strip && atStart && i === 0 && s.startsWith(" ") ? s.slice(1) : s;
        });
    }
    case "Sequence": {
      const steps = stepsOf(j, "decoders").map(compileDecodeStep);
      return (ts, atStart) => steps.reduce((acc, f) => f(acc, atStart), ts);
    }
    default:
      fail("decoder", `unsupported type '${String(j.type)}'`);
  }
}

/** Turns runs of `<0xAB>` tokens into the UTF-8 text they spell (U+FFFD where invalid). */
export function byteFallback(ts: string[]): string[] {
  const out: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) out.push(new TextDecoder().decode(Uint8Array.from(bytes)));
    bytes = [];
  };
  for (const t of ts) {
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
    if (m) bytes.push(parseInt(m[1]!, 16));
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

/** Decoder for non-byte-level models (byte-level decoding is done on bytes by the tokenizer). */
export function compileDecoder(j: Json | null | undefined): Decode {
  if (!j || j.type === "ByteLevel") return (ts) => ts.join("");
  const step = compileDecodeStep(j);
  return (ts, atStart) => step(ts, atStart).join("");
}
