/**
 * JSON in and out. `toJson` writes a config with consecutive identical blocks folded into
 * `{repeat, blocks}` groups; `validateConfig(toJson(c))` deep-equals `c`. `parseJsonText` reports
 * syntax errors with file, line and column. `loadConfig` accepts a preset name or a file path.
 */
import { existsSync, readFileSync } from "node:fs";
import { ChimeraError } from "../errors.js";
import { compactLayers } from "./pattern.js";
import type { ModelConfig } from "./types.js";

/** A plain JSON object for `cfg` (layers folded into repeat groups). */
export function toJson(cfg: ModelConfig): Record<string, unknown> {
  const { layers, ...rest } = structuredClone(cfg);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    out[k] = v;
    if (k === "positional") out.layers = compactLayers(layers);
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

/** Pretty JSON text for `cfg`. */
export function toJsonText(cfg: ModelConfig): string {
  return JSON.stringify(toJson(cfg), null, 2) + "\n";
}

/** Line and column (1-based) of character offset `pos` in `text`. */
export function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  return { line, col: pos - before.lastIndexOf("\n") };
}

/** JSON.parse with an error naming the file and the line:column of the syntax error. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const m = /at position (\d+)/.exec(msg);
    const lc = /line (\d+) column (\d+)/.exec(msg);
    let where = "";
    if (lc) where = `:${lc[1]}:${lc[2]}`;
    else if (m) {
      const { line, col } = lineCol(text, Number(m[1]));
      where = `:${line}:${col}`;
    } else if (/Unexpected end of JSON input/.test(msg)) {
      const { line, col } = lineCol(text, text.length);
      where = `:${line}:${col}`;
    }
    throw new ChimeraError(`${file}${where}: invalid JSON: ${msg}`);
  }
}

/** Reads and parses a JSON file, with readable errors for missing files and bad syntax. */
export function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new ChimeraError(`${file}: no such file`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ChimeraError(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseJsonText(text, file);
}
