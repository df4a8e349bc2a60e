/** `chimera eval`: validation loss, perplexity and bits per byte of a trained model. */
import type { Command } from "../command.js";
import { UsageError } from "../command.js";
import { parseArgs, numberFlag } from "../args.js";
import { loadRun } from "../../train/run.js";
import { loadDataset } from "../../data/index.js";
import { evaluate } from "../../train/evaluate.js";

const FLAGS = {
  model: { type: "string" },
  data: { type: "string" },
  "seq-len": { type: "string" },
  "batch-size": { type: "string" },
  batches: { type: "string" },
  "val-fraction": { type: "string" },
  json: { type: "boolean" },
} as const;

const help = `Usage: chimera eval --model <run-dir> [--data SPEC] [options]

Prints validation loss (nats/token), perplexity and bits per byte of the newest checkpoint in
<run-dir> (or of a checkpoint folder). Bits per byte = loss / ln 2 × tokens / UTF-8 bytes, so
models with different tokenizers compare fairly.

  --model DIR         run folder written by 'chimera train' (or one of its checkpoints/step-N)
  --data SPEC         moby-dick (default) | sotu | file | folder | .jsonl — the held-out split is used
  --val-fraction F    held-out fraction (default 0.05, as in training)
  --seq-len T         sequence length (default 128, capped by the model's context)
  --batch-size B      sequences per batch (default 8)
  --batches N         evaluate at most N batches (default: all)
  --json              print {valLoss, perplexity, valBpb, tokens} as JSON`;

const command: Command = {
  name: "eval",
  summary: "validation loss, perplexity and bits per byte of a trained model",
  help,
  async run(argv) {
    const { flags, positional } = parseArgs("eval", argv, FLAGS);
    if (positional.length) throw new UsageError(`chimera eval: unexpected argument '${positional[0]}'`);
    const dir = flags.model as string | undefined;
    if (!dir) throw new UsageError("chimera eval: --model <run-dir> is required");
    const run = loadRun(dir);
    const seqLen = numberFlag("eval", flags, "seq-len", Math.min(128, run.config.contextLength), { integer: true, min: 1 });
    const data = loadDataset({
      data: (flags.data as string | undefined) ?? "moby-dick",
      tokenizer: run.tokenizer,
      seqLen,
      valFraction: numberFlag("eval", flags, "val-fraction", 0.05, { min: 0.001, max: 0.5 }),
    });
    const batches = flags.batches === undefined ? undefined : numberFlag("eval", flags, "batches", 0, { integer: true, min: 1 });
    const r = evaluate(run.model, data, { batchSize: numberFlag("eval", flags, "batch-size", 8, { integer: true, min: 1 }), maxBatches: batches });
    const out = { valLoss: r.loss, perplexity: r.ppl, valBpb: r.bpb, tokens: r.tokens, step: run.step, model: run.dir };
    if (flags.json) console.log(JSON.stringify(out, null, 2));
    else
      console.log(
        `model ${run.dir} (step ${run.step ?? "?"}) on ${data.source} validation (${r.tokens.toLocaleString("en-US")} tokens):\n` +
          `  loss        ${r.loss.toFixed(4)} nats/token\n  perplexity  ${r.ppl.toFixed(2)}\n  bits/byte   ${r.bpb.toFixed(4)}`,
      );
    return 0;
  },
};
export default command;
