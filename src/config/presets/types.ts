/** A named preset: plain config data built on demand (each build returns a fresh object). */
import type { ModelConfig } from "../types.js";

export interface PresetDef {
  name: string;
  /** Family file it lives in: hybrid, gpt2, llama, qwen3, … */
  family: string;
  /** One line for `chimera presets`. */
  description: string;
  build(): ModelConfig;
}
