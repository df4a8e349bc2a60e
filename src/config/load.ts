/**
 * `loadConfig(pathOrPreset)`: a preset name (`hybrid-235b`) or a JSON file path
 * (`configs/my.json`). Names that look like paths (contain `/` or end in `.json`) are read as files;
 * anything else is a preset, and an unknown one lists the closest preset names.
 */
import { existsSync } from "node:fs";
import { getPreset, hasPreset } from "./presets/index.js";
import { readJsonFile } from "./json.js";
import type { ModelConfig } from "./types.js";
import { validateConfig } from "./validate.js";

export function looksLikePath(s: string): boolean {
  return s.includes("/") || s.includes("\\") || s.endsWith(".json");
}

export function loadConfig(pathOrPreset: string): ModelConfig {
  if (hasPreset(pathOrPreset)) return getPreset(pathOrPreset);
  if (looksLikePath(pathOrPreset) || existsSync(pathOrPreset)) return validateConfig(readJsonFile(pathOrPreset));
  return getPreset(pathOrPreset); // throws: unknown preset, with close names
}
