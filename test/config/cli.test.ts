// `chimera spec` and `chimera presets`: JSON shape, human table, and exit code 2 on bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import spec from "../../src/cli/commands/spec.js";
import presets from "../../src/cli/commands/presets.js";
import { getPreset, toJson } from "../../src/config/index.js";

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const code = await fn();
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test("spec --json prints nested params / flopsPerToken / memory / config", async () => {
  const r = await capture(() => spec.run(["llama3-8b", "--context", "4096", "--json"]));
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  assert.equal(j.params.total, 8_030_261_248);
  assert.equal(j.params.active, 8_030_261_248);
  assert.equal(typeof j.params.embedding, "number");
  assert.ok(j.params.breakdown["attention.gqa"].total > 0);
  assert.equal(j.context, 4096);
  assert.equal(j.flopsPerToken.train, 3 * j.flopsPerToken.forward);
  assert.equal(j.memory.kvCacheBytesPerToken, 131_072);
  assert.equal(j.memory.recurrentStateBytes, 0);
  assert.equal(j.memory.weightsBytes, 2 * 8_030_261_248);
  assert.equal(j.memory.trainingBytes, 16 * 8_030_261_248);
  assert.equal(j.config.dModel, 4096);
});

test("spec human output shows the totals with separators and suffixes", async () => {
  const r = await capture(() => spec.run(["hybrid-235b"]));
  assert.equal(r.code, 0);
  assert.match(r.out, /total\s+234,800,537,344\s+234\.8B/);
  assert.match(r.out, /gated_deltanet 16 key heads × 256, 32 value heads × 256/);
  assert.match(r.out, /KV cache per token\s+98,304 B/);
});

test("spec reads a config file, and reports bad files and fields with exit 2", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chimera-spec-"));
  const good = join(dir, "good.json");
  writeFileSync(good, JSON.stringify(toJson(getPreset("gpt-bench"))));
  const ok = await capture(() => spec.run([good, "--json"]));
  assert.equal(ok.code, 0);
  assert.equal(JSON.parse(ok.out).params.total, 5_322_240);

  const bad = join(dir, "bad.json");
  writeFileSync(bad, '{\n  "vocabSize": 10,\n  "dModel": 8,,\n}');
  const r1 = await capture(() => spec.run([bad]));
  assert.equal(r1.code, 2);
  assert.ok(r1.err.includes(`${bad}:3:`), r1.err);
  assert.match(r1.err, /invalid JSON/);

  const j = toJson(getPreset("gpt-bench")) as any;
  j.layers[0].blocks[0].sublayers[0].attention.numKvHeads = 3;
  const invalid = join(dir, "invalid.json");
  writeFileSync(invalid, JSON.stringify(j));
  const r2 = await capture(() => spec.run([invalid]));
  assert.equal(r2.code, 2);
  assert.match(r2.err, /layers\[0\]\.blocks\[0\]\.sublayers\[0\]\.attention\.numKvHeads: must divide numHeads/);

  const r3 = await capture(() => spec.run([join(dir, "missing.json")]));
  assert.equal(r3.code, 2);
  assert.match(r3.err, /no such file/);
});

test("unknown preset lists close names with exit 2", async () => {
  const r = await capture(() => spec.run(["hybrid-235"]));
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown preset 'hybrid-235'; did you mean .*'hybrid-235b'/);
  const r2 = await capture(() => spec.run(["llama3_8b"]));
  assert.match(r2.err, /'llama3-8b'/);
});

test("presets lists every preset with a description; --json parses", async () => {
  const r = await capture(() => presets.run(["--json"]));
  assert.equal(r.code, 0);
  const rows = JSON.parse(r.out) as { name: string; description: string; params: { total: number } }[];
  const names = rows.map((x) => x.name);
  for (const n of ["hybrid-235b", "hybrid-mvp1", "hybrid-mvp2", "hybrid-mvp3", "hybrid-mvp4", "hybrid-tiny", "gpt2-124m", "gpt-bench", "llama3-8b", "llama-tiny"])
    assert.ok(names.includes(n), n);
  assert.ok(rows.every((x) => x.description.length > 0 && x.params.total > 0));
  const h = await capture(() => presets.run([]));
  assert.match(h.out, /hybrid-235b\s+hybrid\s+234\.8B/);
});
