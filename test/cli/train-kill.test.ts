import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { chimera } from "../helpers/cli.js";
import { tinyConfig } from "../helpers/tiny.js";
import { toJsonText } from "../../src/config/index.js";
import { readMetrics } from "../../src/train/metrics.js";

const TEXT = Array.from({ length: 40 }, (_, i) => `Line ${i}: the whale, the sea, and the long voyage of the Pequod under Ahab.`).join("\n");

function setup(): { dir: string; args: (out: string) => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "kill-"));
  writeFileSync(join(dir, "corpus.txt"), TEXT);
  writeFileSync(join(dir, "tiny.json"), toJsonText(tinyConfig("hybrid-tiny", 257)));
  const args = (out: string): string[] => [
    "train", "--config", join(dir, "tiny.json"), "--data", join(dir, "corpus.txt"), "--tokenizer", "byte",
    "--steps", "10", "--batch-size", "2", "--seq-len", "32", "--checkpoint-every", "2", "--eval-every", "0",
    "--log-every", "1", "--lr", "3e-3", "--out", out, "--quiet",
  ];
  return { dir, args };
}

const trainLosses = (out: string): [number, number][] =>
  readMetrics(join(out, "metrics.jsonl")).filter((r) => typeof r.loss === "number").map((r) => [r.step as number, r.loss as number]);

test("SIGKILL mid-run, then --resume: the loss trajectory equals an uninterrupted run", async () => {
  const { dir, args } = setup();
  const full = chimera(args(join(dir, "full")), { timeoutMs: 300_000 });
  assert.equal(full.status, 0, full.stderr);

  const out = join(dir, "killed");
  const entry = existsSync(join(process.cwd(), "dist/src/cli/main.js"))
    ? [join(process.cwd(), "dist/src/cli/main.js")]
    : ["--import", "tsx", join(process.cwd(), "src/cli/main.ts")];
  const child = spawn(process.execPath, [...entry, ...args(out)], { stdio: "ignore" });
  // kill -9 as soon as step 5 is logged (a checkpoint exists at step 4, the next would be 6)
  await new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const steps = existsSync(join(out, "metrics.jsonl")) ? trainLosses(out).length : 0;
      if (steps >= 5) {
        child.kill("SIGKILL");
        clearInterval(poll);
        resolve();
      } else if (Date.now() - t0 > 240_000) {
        clearInterval(poll);
        child.kill("SIGKILL");
        reject(new Error("run did not reach step 5"));
      }
    }, 20);
    child.on("exit", () => {
      clearInterval(poll);
      resolve();
    });
  });
  const killedAt = trainLosses(out).length;
  assert.ok(killedAt < 10, `killed before the end (reached ${killedAt})`);
  const latest = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as { step: number };
  assert.ok(latest.step >= 2 && latest.step % 2 === 0, `a complete checkpoint survives the kill (step ${latest.step})`);

  const resumed = chimera([...args(out), "--resume"], { timeoutMs: 300_000 });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(trainLosses(out), trainLosses(join(dir, "full")));
});
