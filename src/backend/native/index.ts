/**
 * The native backend: loads the C++ addon (see addon.ts) and lays its float32 kernels over the
 * reference table (kernels.ts). When the addon is missing, disabled (CHIMERA_NO_NATIVE=1) or
 * fails to load, `loadNativeKernels` returns null and records why, and the engine runs on the
 * reference backend.
 *
 * Also the addon's controls: thread count (one shared pool, CHIMERA_THREADS at start-up), which
 * gemm is active (OpenBLAS loaded at run time, or the built-in kernel; CHIMERA_BLAS=builtin
 * forces the latter), and the instruction set of the kernel table.
 */
import type { Kernels } from "../kernels.js";
import { addonLoadError, loadAddon, type NativeAddon, type NativeInfo } from "./addon.js";
import { makeNativeKernels, nativeKernelNames } from "./kernels.js";

export { setNativeSmallThreshold } from "./kernels.js";

export type { NativeAddon, NativeInfo };

export function nativeLoadError(): string {
  return addonLoadError();
}

export function loadNativeKernels(reference: Kernels): Kernels | null {
  const addon = loadAddon();
  return addon ? makeNativeKernels(addon, reference) : null;
}

/** The raw addon (benchmarks, tests), or null when it is not loaded. */
export function nativeAddon(): NativeAddon | null {
  return loadAddon();
}

/** Sets the size of the addon's thread pool (and OpenBLAS's thread count). No-op without the addon. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: need a positive integer, got ${n}`);
  loadAddon()?.setThreads(n);
}

/** Threads native kernels use (1 when the addon is not loaded: the reference is single-threaded). */
export function getThreads(): number {
  return loadAddon()?.getThreads() ?? 1;
}

export interface BlasInfo extends Partial<NativeInfo> {
  /** Which matrix multiply runs float32 gemm: OpenBLAS, the addon's built-in kernel, or none (no addon). */
  active: "openblas" | "builtin" | "none";
  /** Kernels implemented natively (empty without the addon). */
  nativeKernels: string[];
}

/** Which gemm is active and how the addon is configured. */
export function blasInfo(reference?: Kernels): BlasInfo {
  const addon = loadAddon();
  if (!addon) return { active: "none", nativeKernels: [] };
  const info = addon.info();
  return { ...info, active: info.blas, nativeKernels: reference ? nativeKernelNames(addon, reference) : [] };
}

/** Chooses the gemm ("openblas" needs the library present); returns false when unavailable. */
export function setBlas(name: "openblas" | "builtin"): boolean {
  return loadAddon()?.setBlas(name) ?? false;
}
