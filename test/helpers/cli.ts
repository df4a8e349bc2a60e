/** Runs the `chimera` CLI in a child process (compiled dist when present, else through tsx). */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export function chimera(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  const root = process.cwd();
  const dist = join(root, "dist", "src", "cli", "main.js");
  const entry = existsSync(dist) ? [dist] : ["--import", "tsx", join(root, "src", "cli", "main.ts")];
  return spawnSync(process.execPath, [...entry, ...args], {
    encoding: "utf8",
    cwd: opts.cwd ?? root,
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 120_000,
    input: opts.input,
  });
}
