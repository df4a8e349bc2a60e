// The docs stay true: the example config in docs/configuration.md validates, and the table in
// docs/architecture.md is the current output of `chimera spec hybrid-235b`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import spec from "../../src/cli/commands/spec.js";
import { costOf, validateConfig } from "../../src/config/index.js";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

test("the example config of docs/configuration.md validates", () => {
  const md = readFileSync(join(repoRoot(), "docs/configuration.md"), "utf8");
  const block = /```json\n([\s\S]*?)```/.exec(md);
  assert.ok(block, "no json block");
  const cfg = validateConfig(JSON.parse(block[1]!));
  assert.equal(cfg.layers.length, 4);
  // 2·4096·128 + 4·(attention 49,152 + swiglu 147,456 + 2 norms 256) + final norm 128
  assert.equal(costOf(cfg).params.total, 2 * 4096 * 128 + 4 * (128 * 128 * 2 + 2 * 128 * 64 + 3 * 128 * 384 + 256) + 128);
});

test("docs/architecture.md holds the current `chimera spec hybrid-235b` output", async () => {
  const md = readFileSync(join(repoRoot(), "docs/architecture.md"), "utf8");
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    assert.equal(await spec.run(["hybrid-235b"]), 0);
  } finally {
    console.log = log;
  }
  assert.ok(md.includes(lines.join("\n")), "regenerate the pasted table: npx tsx src/cli/main.ts spec hybrid-235b");
});
