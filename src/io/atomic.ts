/**
 * Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the
 * target. A crash mid-write leaves the previous file intact (rename is atomic on POSIX).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, accessSync, constants } from "node:fs";
import { dirname, basename, join } from "node:path";
import { ChimeraError } from "../errors.js";

export function writeFileAtomic(path: string, chunks: Uint8Array | string | (Uint8Array | string)[]): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const list = Array.isArray(chunks) ? chunks : [chunks];
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, "w");
  } catch (e) {
    throw new ChimeraError(`cannot write '${path}': ${(e as Error).message}`);
  }
  try {
    for (const c of list) {
      const buf = typeof c === "string" ? Buffer.from(c, "utf8") : c;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw new ChimeraError(`cannot write '${path}': ${(e as Error).message}`);
  }
}

/** Creates the folder (recursively) and checks it is writable; names the folder on failure. */
export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new ChimeraError(`output folder '${dir}' is not writable: ${(e as Error).message}`);
  }
}
