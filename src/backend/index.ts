/**
 * Backend selection. `native` (the C++ addon over float32, with the reference filling any
 * kernel the addon lacks) is the default when the addon loads; `reference` is pure TypeScript.
 * float64 tensors always run on the reference kernels.
 *
 * Choose with `setBackend("reference" | "native")` or the env var CHIMERA_BACKEND.
 */
import type { DType } from "../tensor/dtype.js";
import type { Kernels } from "./kernels.js";
import { referenceKernels } from "./reference/index.js";
import { loadNativeKernels, nativeLoadError, blasInfo as nativeBlasInfo, type BlasInfo } from "./native/index.js";
import { ChimeraError } from "../errors.js";

export type BackendName = "reference" | "native";

let native: Kernels | null | undefined;
function nativeTable(): Kernels | null {
  if (native === undefined) native = loadNativeKernels(referenceKernels);
  return native;
}

let current: Kernels = referenceKernels;
let explicitChoice = false;

function init(): void {
  const env = process.env.CHIMERA_BACKEND;
  if (env === "reference") current = referenceKernels;
  else if (env === "native") {
    const n = nativeTable();
    if (!n) throw new ChimeraError(`CHIMERA_BACKEND=native but the native addon did not load: ${nativeLoadError()}`);
    current = n;
  } else current = nativeTable() ?? referenceKernels;
}
init();

export function setBackend(name: BackendName): void {
  explicitChoice = true;
  if (name === "reference") current = referenceKernels;
  else {
    const n = nativeTable();
    if (!n) throw new ChimeraError(`native backend unavailable: ${nativeLoadError()}`);
    current = n;
  }
}

export function backendName(): BackendName {
  return current.name;
}

export function nativeAvailable(): boolean {
  return nativeTable() !== null;
}

/** The kernels for a dtype under the current backend. */
export function kernelsFor(dtype: DType): Kernels {
  return dtype === "float32" ? current : referenceKernels;
}

/** Runs fn with a backend selected, restoring the previous one after (tests use this). */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const prev = current;
  const prevExplicit = explicitChoice;
  setBackend(name);
  try {
    return fn();
  } finally {
    current = prev;
    explicitChoice = prevExplicit;
  }
}

/** Which gemm is active ("openblas" | "builtin" | "none") and how the native addon is set up. */
export function blasInfo(): BlasInfo {
  return nativeBlasInfo(referenceKernels);
}

export { setThreads, getThreads, setBlas, nativeAddon, nativeLoadError } from "./native/index.js";
export type { BlasInfo };
export { referenceKernels };
export type { Kernels };
