/**
 * `chimera tokenizer …`: train a byte-level BPE tokenizer on a corpus and write it as a Hugging
 * Face tokenizer.json; encode and decode with any tokenizer; show a tokenizer's facts and its
 * compression on a corpus; export a built-in tokenizer (e.g. gpt2) as tokenizer.json.
 */
import { parseArgs, numberFlag, type ParsedArgs } from "../args.js";
import { UsageError, type Command } from "../command.js";
import { loadDocuments } from "../../data/sources.js";
import { splitDocuments } from "../../data/split.js";
import { loadTokenizer, trainBpe, type Tokenizer } from "../../tokenizer/index.js";
import { writeFileAtomic } from "../../tokenizer/io.js";

const NAME = "tokenizer";

const help = `Usage:
  chimera tokenizer train  --data <moby-dick|sotu|path> --vocab N --out <tokenizer.json> [--val-fraction F] [--min-frequency K]
  chimera tokenizer encode --tokenizer <spec> (--text "…" | --file <path>) [--tokens] [--special]
  chimera tokenizer decode --tokenizer <spec> --ids "1,2,3"
  chimera tokenizer info   --tokenizer <spec> [--data <spec>]
  chimera tokenizer export --tokenizer <spec> --out <tokenizer.json>

Tokenizer specs: byte | gpt2 | path/to/tokenizer.json | folder containing tokenizer.json
Data specs: moby-dick (default) | sotu | a .txt file | a .jsonl file ({"text": …} per line) | a folder of them

train    Trains a byte-level BPE (GPT-2 pre-tokenisation; ids 0–255 are bytes, then merges, then
         <|endoftext|>) on the training part of the data — the same split 'chimera train' uses,
         so the validation text stays unseen — and writes a Hugging Face tokenizer.json.
         --vocab N          total vocabulary size, bytes and <|endoftext|> included (≥ 257)
         --val-fraction F   held-out tail of the text not trained on (default 0.1)
         --min-frequency K  stop when the best pair occurs fewer than K times (default 2)
encode   Prints the token ids of the text, space-separated (--tokens: also the token strings;
         --special: match <|endoftext|> and other special tokens written in the text).
decode   Prints the text of comma- or space-separated ids.
info     Prints vocabulary size and end-of-text id; with --data, bytes per token on that corpus.
export   Writes a tokenizer (e.g. gpt2) as a Hugging Face tokenizer.json.

Examples:
  chimera tokenizer train --data moby-dick --vocab 4096 --out runs/tok/tokenizer.json
  chimera tokenizer encode --tokenizer gpt2 --text "Call me Ishmael."
  chimera tokenizer decode --tokenizer gpt2 --ids "14134 502 1148 21720 417 13"`;

const FLAGS = {
  data: { type: "string" },
  vocab: { type: "string" },
  out: { type: "string", alias: "o" },
  "val-fraction": { type: "string" },
  "min-frequency": { type: "string" },
  tokenizer: { type: "string", alias: "t" },
  text: { type: "string" },
  file: { type: "string" },
  ids: { type: "string" },
  tokens: { type: "boolean" },
  special: { type: "boolean" },
} as const;

function need(flags: ParsedArgs["flags"], name: string, sub: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`chimera tokenizer ${sub}: --${name} is required (see 'chimera tokenizer --help')`);
  return v;
}

function utf8Bytes(texts: string[]): number {
  return texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
}

function countTokens(tok: Tokenizer, texts: string[]): number {
  return texts.reduce((n, t) => n + tok.encode(t).length, 0);
}

async function train(flags: ParsedArgs["flags"]): Promise<number> {
  const data = typeof flags.data === "string" ? flags.data : "moby-dick";
  const out = need(flags, "out", "train");
  const vocab = numberFlag(NAME, flags, "vocab", NaN, { integer: true, min: 257, max: 65536 });
  if (Number.isNaN(vocab)) throw new UsageError("chimera tokenizer train: --vocab is required (e.g. --vocab 4096)");
  const valFraction = numberFlag(NAME, flags, "val-fraction", 0.1, { min: 0, max: 0.99 });
  const minFrequency = numberFlag(NAME, flags, "min-frequency", 2, { integer: true, min: 1 });
  const docs = loadDocuments(data);
  const { train: trainDocs, val: valDocs } = splitDocuments(docs, valFraction);
  const texts = trainDocs.map((d) => d.text);
  const t0 = performance.now();
  const tok = trainBpe(texts, { vocabSize: vocab, minFrequency });
  const seconds = (performance.now() - t0) / 1000;
  tok.save(out);
  const bytes = utf8Bytes(texts);
  console.log(`trained ${tok.name} on ${data} (${trainDocs.length} document${trainDocs.length === 1 ? "" : "s"}, ${(bytes / 1e6).toFixed(2)} MB) in ${seconds.toFixed(2)} s`);
  if (tok.vocabSize < vocab) console.log(`note: stopped at ${tok.vocabSize} ids — no pair occurs ${minFrequency}+ times`);
  console.log(`compression: ${(bytes / countTokens(tok, texts)).toFixed(3)} bytes/token on the training text`);
  if (valDocs.length > 0) {
    const v = valDocs.map((d) => d.text);
    console.log(`             ${(utf8Bytes(v) / countTokens(tok, v)).toFixed(3)} bytes/token on the held-out text`);
  }
  console.log(`wrote ${out}`);
  return 0;
}

function parseIds(raw: string): number[] {
  const parts = raw.split(/[\s,[\]]+/).filter((s) => s !== "");
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`chimera tokenizer decode: '${p}' is not a token id`);
    return n;
  });
}

async function run(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(NAME, argv, FLAGS);
  const sub = positional[0];
  if (positional.length > 1) throw new UsageError(`chimera tokenizer: unexpected argument '${positional[1]}'`);
  switch (sub) {
    case "train":
      return train(flags);
    case "encode": {
      const tok = loadTokenizer(need(flags, "tokenizer", sub));
      let text: string;
      if (typeof flags.text === "string") text = flags.text;
      else if (typeof flags.file === "string") text = loadDocuments(flags.file).map((d) => d.text).join("\n");
      else throw new UsageError("chimera tokenizer encode: give --text \"…\" or --file <path>");
      const ids = tok.encode(text, { allowSpecial: flags.special === true });
      console.log(ids.join(" "));
      if (flags.tokens) console.log(ids.map((id) => JSON.stringify(tok.idToToken(id))).join(" "));
      console.error(`${ids.length} tokens, ${Buffer.byteLength(text, "utf8")} bytes`);
      return 0;
    }
    case "decode": {
      const tok = loadTokenizer(need(flags, "tokenizer", sub));
      const ids = parseIds(need(flags, "ids", sub));
      const bad = ids.find((id) => id >= tok.vocabSize);
      if (bad !== undefined) throw new UsageError(`chimera tokenizer decode: id ${bad} ≥ vocabulary size ${tok.vocabSize}`);
      process.stdout.write(tok.decode(ids) + "\n");
      return 0;
    }
    case "info": {
      const tok = loadTokenizer(need(flags, "tokenizer", sub));
      console.log(`name: ${tok.name}\nvocab size: ${tok.vocabSize}\nend-of-text id: ${tok.eotId} (${JSON.stringify(tok.idToToken(tok.eotId))})`);
      if (typeof flags.data === "string") {
        const texts = loadDocuments(flags.data).map((d) => d.text);
        const t0 = performance.now();
        const n = countTokens(tok, texts);
        const s = (performance.now() - t0) / 1000;
        const bytes = utf8Bytes(texts);
        console.log(`${flags.data}: ${n} tokens, ${bytes} bytes, ${(bytes / n).toFixed(3)} bytes/token (encoded in ${s.toFixed(2)} s, ${(bytes / 1e6 / s).toFixed(1)} MB/s)`);
      }
      return 0;
    }
    case "export": {
      const tok = loadTokenizer(need(flags, "tokenizer", sub));
      const out = need(flags, "out", sub);
      if (!tok.toJSON) throw new UsageError(`chimera tokenizer export: tokenizer '${tok.name}' has no tokenizer.json form`);
      writeFileAtomic(out, JSON.stringify(tok.toJSON(), null, 2) + "\n");
      console.log(`wrote ${out}`);
      return 0;
    }
    case undefined:
      throw new UsageError(`chimera tokenizer: give a sub-command: train, encode, decode, info or export (see 'chimera tokenizer --help')`);
    default:
      throw new UsageError(`chimera tokenizer: unknown sub-command '${sub}' (train, encode, decode, info, export)`);
  }
}

const command: Command = {
  name: NAME,
  summary: "train a BPE tokenizer (tokenizer.json); encode, decode, inspect, export tokenizers",
  help,
  run,
};
export default command;
