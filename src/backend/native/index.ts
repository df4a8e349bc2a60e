/**
 * Loads the C++ addon (build/Release/chimera_native.node) and lays its kernels over the
 * reference table. Returns null (and records why) when the addon is missing or fails to load,
 * so the engine falls back to the reference backend.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kernels } from "../kernels.js";

let loadError = "not attempted";

function findAddon(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "build", "Release", "chimera_native.node");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

export function nativeLoadError(): string {
  return loadError;
}

export function loadNativeKernels(reference: Kernels): Kernels | null {
  if (process.env.CHIMERA_NO_NATIVE === "1") {
    loadError = "disabled by CHIMERA_NO_NATIVE=1";
    return null;
  }
  const path = findAddon();
  if (!path) {
    loadError = "build/Release/chimera_native.node not found (run `npm run build`)";
    return null;
  }
  try {
    const require = createRequire(import.meta.url);
    const addon = require(path) as Record<string, unknown>;
    const wrap = (addon as { makeKernels?: (ref: Kernels) => Partial<Kernels> }).makeKernels;
    const overrides: Partial<Kernels> = wrap ? wrap(reference) : {};
    return { ...reference, ...overrides, name: "native" };
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    return null;
  }
}
