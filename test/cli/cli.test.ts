import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chimera } from "../helpers/cli.js";

test("chimera --help lists every command and each command has --help", () => {
  const r = chimera(["--help"]);
  assert.equal(r.status, 0, r.stderr);
  const names = [...r.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
  for (const n of ["train", "eval", "plot", "spec", "presets", "tokenizer"]) assert.ok(names.includes(n), `lists ${n}`);
  for (const n of names) {
    const h = chimera([n, "--help"]);
    assert.equal(h.status, 0, `${n} --help: ${h.stderr}`);
    assert.match(h.stdout, /Usage:/, `${n} --help shows a usage line`);
    assert.match(h.stdout, new RegExp(`chimera ${n}`), `${n} --help names the command`);
  }
});

test("unknown commands and flags are clear errors, not stack traces", () => {
  const a = chimera(["frobnicate"]);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /unknown command 'frobnicate'/);
  const b = chimera(["train", "--preset", "hybrid-tiny", "--stepz", "3"]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /unknown flag '--stepz'/);
  assert.doesNotMatch(b.stderr, /at .*\.js:\d+/);
});

test("train rejects bad input at once and leaves files untouched", () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-train-"));
  const cases: [string[], RegExp][] = [
    [["--preset", "hybrid-tinyy"], /hybrid-tiny/],
    [["--preset", "hybrid-tiny", "--data", join(dir, "missing.txt")], /missing\.txt/],
    [["--preset", "hybrid-tiny", "--steps", "-3"], /--steps must be ≥ 1/],
    [["--preset", "hybrid-tiny", "--lr", "fast"], /--lr must be a number/],
  ];
  const empty = join(dir, "empty.txt");
  writeFileSync(empty, "");
  cases.push([["--preset", "hybrid-tiny", "--data", empty, "--tokenizer", "byte"], /empty/i]);
  const short = join(dir, "short.txt");
  writeFileSync(short, "Too short.");
  cases.push([["--preset", "hybrid-tiny", "--data", short, "--tokenizer", "byte", "--seq-len", "64"], /shorter than one sequence|too small|fewer than/i]);
  for (const [args, re] of cases) {
    const r = chimera(["train", ...args, "--out", join(dir, "run"), "--quiet"]);
    assert.equal(r.status, 2, `${args.join(" ")}: exit ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
  // an output folder that cannot be created (its parent is a file)
  writeFileSync(join(dir, "placeholder"), "");
  const r = chimera(["train", "--preset", "hybrid-tiny", "--out", join(dir, "placeholder", "x"), "--quiet"]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /not writable/);
  assert.deepEqual(readdirSync(dir).sort(), ["empty.txt", "placeholder", "short.txt"].sort().concat(readdirSync(dir).includes("run") ? ["run"] : []).sort());
});

test("train refuses to clobber a run, and --resume refuses a different config, changing nothing", async () => {
  const { tinyConfig } = await import("../helpers/tiny.js");
  const { toJsonText } = await import("../../src/config/index.js");
  const dir = mkdtempSync(join(tmpdir(), "cli-resume-"));
  writeFileSync(join(dir, "c.txt"), "The sea was calm and the whale was near. ".repeat(60));
  writeFileSync(join(dir, "a.json"), toJsonText(tinyConfig("hybrid-tiny", 257)));
  writeFileSync(join(dir, "b.json"), toJsonText(tinyConfig("llama-tiny", 257)));
  const base = ["train", "--data", join(dir, "c.txt"), "--tokenizer", "byte", "--steps", "2", "--batch-size", "2", "--seq-len", "16", "--eval-every", "0", "--out", join(dir, "run"), "--quiet"];
  const first = chimera([...base, "--config", join(dir, "a.json")]);
  assert.equal(first.status, 0, first.stderr);
  const before = readFileSync(join(dir, "run", "config.json"), "utf8");
  const again = chimera([...base, "--config", join(dir, "a.json")]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds a run; pass --resume/);
  const other = chimera([...base, "--config", join(dir, "b.json"), "--resume"]);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /different config/);
  assert.equal(readFileSync(join(dir, "run", "config.json"), "utf8"), before, "config.json untouched");
});
