/** `chimera tokenizer` sub-commands: train writes a loadable tokenizer.json; encode/decode. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import command from "../../src/cli/commands/tokenizer.js";
import { UsageError } from "../../src/cli/command.js";
import { Rng } from "../../src/data/rng.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";

const dir = mkdtempSync(join(tmpdir(), "chimera-cli-"));

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const write = process.stdout.write;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  process.stdout.write = ((s: string) => (lines.push(String(s).replace(/\n$/, "")), true)) as typeof process.stdout.write;
  try {
    const code = await command.run(argv);
    return { code, out: lines.join("\n") };
  } finally {
    console.log = log;
    process.stdout.write = write;
  }
}

test("cli: tokenizer train writes tokenizer.json and reports time and compression", async () => {
  const data = join(dir, "corpus.txt");
  const rng = new Rng(3);
  const word = () => Array.from({ length: 1 + rng.below(7) }, () => "etaoinshrdlu"[rng.below(12)]).join("");
  writeFileSync(data, Array.from({ length: 6000 }, word).join(" "));
  const out = join(dir, "tok", "tokenizer.json");
  const r = await capture(["train", "--data", data, "--vocab", "300", "--out", out]);
  assert.equal(r.code, 0);
  assert.match(r.out, /trained bpe-300 .* in \d+\.\d+ s/);
  assert.match(r.out, /compression: \d+\.\d+ bytes\/token on the training text/);
  assert.ok(existsSync(out));
  const tok = loadTokenizer(join(dir, "tok"));
  assert.equal(tok.vocabSize, 300);
  const enc = await capture(["encode", "--tokenizer", out, "--text", "the cat"]);
  const ids = enc.out.split("\n")[0]!.split(" ").map(Number);
  assert.deepEqual(ids, tok.encode("the cat"));
  const dec = await capture(["decode", "--tokenizer", out, "--ids", ids.join(",")]);
  assert.equal(dec.out, "the cat");
});

test("cli: tokenizer usage errors name the problem", async () => {
  await assert.rejects(command.run(["train", "--data", "moby-dick", "--out", join(dir, "x.json")]), /--vocab is required/);
  await assert.rejects(command.run(["train", "--vocab", "100", "--out", join(dir, "x.json")]), /--vocab must be ≥ 257/);
  await assert.rejects(command.run(["frobnicate"]), (e: Error) => e instanceof UsageError && /unknown sub-command 'frobnicate'/.test(e.message));
  await assert.rejects(command.run(["decode", "--tokenizer", "byte", "--ids", "1,999"]), /id 999 ≥ vocabulary size 257/);
  await assert.rejects(command.run(["train", "--data", "nowhere", "--vocab", "300", "--out", join(dir, "y.json")]), /data 'nowhere'/);
});
