/**
 * Tiny model configs for tests: presets shrunk by rewriting their JSON (every width field made
 * small), so tests exercise the real preset structure in milliseconds per step.
 */
import { getPreset, toJson, validateConfig, type ModelConfig } from "../../src/config/index.js";

const SHRINK: Record<string, number> = {
  dModel: 32, headDim: 8, keyHeadDim: 8, valueHeadDim: 8, expertHidden: 32, numExperts: 4, hidden: 48,
  contextLength: 64,
};

function walk(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(walk);
  if (o && typeof o === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = k in SHRINK && typeof v === "number" ? Math.min(v, SHRINK[k]!) : walk(v);
    return out;
  }
  return o;
}

/** `preset` with tiny widths and the given vocabulary. */
export function tinyConfig(preset: string, vocabSize: number): ModelConfig {
  const json = walk(toJson(getPreset(preset))) as Record<string, unknown>;
  json.vocabSize = vocabSize;
  json.name = `${preset}-test`;
  return validateConfig(json);
}
