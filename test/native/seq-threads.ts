/**
 * Helper of the sequence-kernel tests: runs seq-child with CHIMERA_THREADS=1 and =2 in child
 * processes and asserts every output hash is identical (results must not depend on the pool size).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";

function runChild(which: string, threads: string): Promise<Record<string, string | boolean>> {
  const self = fileURLToPath(import.meta.url);
  const child = fileURLToPath(new URL(`./seq-child${extname(self)}`, import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--test"));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...execArgv, child, which], {
      env: { ...process.env, CHIMERA_THREADS: threads, CHIMERA_BACKEND: "native" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (err += d));
    const timer = setTimeout(() => p.kill(), 25_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`seq-child ${which} (CHIMERA_THREADS=${threads}) exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as Record<string, string | boolean>);
    });
  });
}

/** Runs kernel family `which` with 1 and 2 threads; every output must be bit-identical. */
export async function assertThreadIndependent(which: "attention" | "rope" | "conv"): Promise<void> {
  const [one, two] = await Promise.all([runChild(which, "1"), runChild(which, "2")]);
  assert.equal(one.native, true, "child did not load the native addon");
  const keys = Object.keys(one).filter((k) => k !== "native");
  assert.ok(keys.length > 0, "child produced no outputs");
  for (const k of keys) assert.equal(one[k], two[k], `${which}: ${k} differs between 1 and 2 threads`);
}
