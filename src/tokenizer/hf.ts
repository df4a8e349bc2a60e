/**
 * Loads a Hugging Face `tokenizer.json` (model type BPE) into a `BpeTokenizer`: vocab, merges
 * in either form (`"a b"` strings or `["a", "b"]` pairs), added tokens, and the normalizer /
 * pre-tokenizer / decoder sections. The end-of-text token is taken from a neighbouring
 * `tokenizer_config.json` (`eos_token`) when there is one, else from well-known names; a
 * tokenizer with none gets `<|endoftext|>` appended as a new special id.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { ChimeraError } from "../errors.js";
import { BpeTokenizer } from "./bpe.js";
import type { AddedToken, BpeSpec, Json } from "./hf-json.js";
import { END_OF_TEXT } from "./types.js";

const EOT_CANDIDATES = [END_OF_TEXT, "<|end_of_text|>", "</s>", "<eos>", "<|im_end|>", "<|eot_id|>"];

/** Parses a tokenizer.json object into a spec; `where` names the file in errors. */
export function specFromJson(j: unknown, where: string, eosHint?: string): BpeSpec {
  const fail = (what: string): never => {
    throw new ChimeraError(`${where}: ${what}`);
  };
  if (!j || typeof j !== "object") fail("not a JSON object");
  const root = j as Json;
  const model = root.model as Json | undefined;
  if (!model || typeof model !== "object") fail("missing 'model' section");
  const type = model!.type ?? (model!.merges ? "BPE" : undefined);
  if (type !== "BPE") fail(`model type '${String(type)}' is not supported (only BPE)`);
  for (const k of ["continuing_subword_prefix", "end_of_word_suffix"] as const)
    if (model![k]) fail(`model.${k} '${String(model![k])}' is not supported`);

  const rawVocab = model!.vocab;
  if (!rawVocab || typeof rawVocab !== "object" || Array.isArray(rawVocab)) fail("model.vocab must be an object of token → id");
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(rawVocab as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail(`model.vocab['${tok}'] must be a non-negative integer id`);
    vocab.set(tok, id as number);
  }

  const rawMerges = model!.merges;
  if (!Array.isArray(rawMerges)) fail("model.merges must be an array");
  const merges = (rawMerges as unknown[]).map((m, i): [string, string] => {
    if (typeof m === "string") {
      const sp = m.indexOf(" ", 1);
      if (sp < 0) fail(`model.merges[${i}] '${m}' is not two tokens separated by a space`);
      return [m.slice(0, sp), m.slice(sp + 1)];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]];
    return fail(`model.merges[${i}] must be "a b" or ["a", "b"]`);
  });

  const added: AddedToken[] = [];
  const rawAdded = root.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) fail("added_tokens must be an array");
  (rawAdded as Json[]).forEach((t, i) => {
    if (!t || typeof t.content !== "string" || !Number.isInteger(t.id)) fail(`added_tokens[${i}] needs 'id' and 'content'`);
    added.push({ ...(t as object), id: t.id as number, content: t.content as string, special: t.special !== false } as AddedToken);
  });

  const known = (s: string | undefined) => s !== undefined && (vocab.has(s) || added.some((t) => t.content === s));
  let eot = [eosHint, ...EOT_CANDIDATES].find(known);
  if (eot === undefined) {
    let next = 0;
    for (const id of vocab.values()) next = Math.max(next, id + 1);
    for (const t of added) next = Math.max(next, t.id + 1);
    added.push({ id: next, content: END_OF_TEXT, special: true });
    eot = END_OF_TEXT;
  }
  return {
    name: where,
    vocab,
    merges,
    added,
    eot,
    normalizer: (root.normalizer as Json) ?? null,
    preTokenizer: (root.pre_tokenizer as Json) ?? null,
    decoder: (root.decoder as Json) ?? null,
    postProcessor: (root.post_processor as Json) ?? null,
    byteFallback: model!.byte_fallback === true,
    unkToken: typeof model!.unk_token === "string" ? model!.unk_token : null,
    ignoreMerges: model!.ignore_merges === true,
  };
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ChimeraError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ChimeraError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** The `eos_token` named by a tokenizer_config.json beside the file, if any. */
function eosFromConfig(dir: string): string | undefined {
  const p = join(dir, "tokenizer_config.json");
  if (!existsSync(p)) return undefined;
  const cfg = readJson(p) as Json;
  const eos = cfg?.eos_token;
  if (typeof eos === "string") return eos;
  if (eos && typeof eos === "object" && typeof (eos as Json).content === "string") return (eos as Json).content as string;
  return undefined;
}

/** Loads a tokenizer.json file, or the tokenizer.json inside a folder. */
export function loadHfTokenizer(path: string): BpeTokenizer {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    file = join(path, "tokenizer.json");
    if (!existsSync(file)) throw new ChimeraError(`${path}: folder has no tokenizer.json`);
  }
  return new BpeTokenizer(specFromJson(readJson(file), file, eosFromConfig(dirname(file))));
}
