/** Shared helpers for the native ≡ reference tests: kernel tables, seeded data, skip reason. */
import { kernelsFor, nativeAvailable, referenceKernels, withBackend, type Kernels } from "../../src/backend/index.js";
import { nativeAddon, nativeLoadError, setNativeSmallThreshold } from "../../src/backend/native/index.js";
import type { NativeAddon } from "../../src/backend/native/addon.js";

/** false when the addon is built and loaded; otherwise the reason tests are skipped. */
export const skip: string | false = nativeAvailable() ? false : `native addon not built/loaded (${nativeLoadError()}); run \`npm run build\``;

export const R: Kernels = referenceKernels;
// run every size on the addon (by default tiny problems go to the reference kernels)
setNativeSmallThreshold(0);
/** The native kernel table (reference kernels where the addon lacks one). */
export const N: Kernels = nativeAvailable() ? withBackend("native", () => kernelsFor("float32")) : referenceKernels;
export const addon = nativeAddon() as NativeAddon;

/** Deterministic uniform floats in [lo, hi) (mulberry32). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo));
  }
  return out;
}

/** Sizes the brief asks every kernel to be checked on. */
export const ODD = [1, 7, 63, 65, 130, 257];

/** Edge values mixed into inputs: large ±, zeros, tiny, NaN, ±inf. */
export const EDGES = [0, -0, 1e-30, -1e-30, 30, -30, 88, -88, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];

/** Copy of x with EDGES written at a spread of positions. */
export function withEdges(x: Float32Array, edges: readonly number[] = EDGES): Float32Array {
  const y = x.slice();
  for (let i = 0; i < edges.length && i < y.length; i++) y[Math.floor((i * y.length) / edges.length)] = edges[i]!;
  return y;
}

/** Bitwise equality of two float arrays (NaN == NaN, +0 ≠ −0 ignored). */
export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) throw new Error(`${what}[${i}]: ${x} vs ${y}`);
  }
}
