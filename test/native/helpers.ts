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

/** One gemm problem: C[m, n] = alpha·op(A)·op(B) + beta·C. */
export interface GemmCase {
  tA: boolean;
  tB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
}

/** Extra elements per stored row (lda, ldb, ldc beyond the minimum) and array offsets. */
export interface GemmLayout {
  padA: number;
  padB: number;
  padC: number;
  aOff: number;
  bOff: number;
  cOff: number;
}

/**
 * Runs c on table K and on the reference with seeded operands laid out with padded leading
 * dimensions and offsets (beta = 0: C starts NaN-filled, which must not leak); `edit` may change
 * A and B first. Returns both C arrays.
 */
export function gemmCase(
  c: GemmCase,
  seed: number,
  o: { K?: Kernels; layout?: GemmLayout; edit?: (A: Float32Array, B: Float32Array) => void } = {},
): { got: Float32Array; want: Float32Array } {
  const { tA, tB, m, n, k, alpha, beta } = c;
  const L = o.layout ?? { padA: 3, padB: 2, padC: 1, aOff: 5, bOff: 3, cOff: 7 };
  const lda = (tA ? m : k) + L.padA, ldb = (tB ? k : n) + L.padB, ldc = n + L.padC;
  const A = rand(L.aOff + (tA ? k : m) * lda, seed);
  const B = rand(L.bOff + (tB ? n : k) * ldb, seed + 1);
  o.edit?.(A, B);
  const C0 = rand(L.cOff + m * ldc, seed + 2);
  if (beta === 0) C0.fill(NaN);
  const got = C0.slice(), want = C0.slice();
  (o.K ?? N).gemm(tA, tB, m, n, k, alpha, A, L.aOff, lda, B, L.bOff, ldb, beta, got, L.cOff, ldc);
  R.gemm(tA, tB, m, n, k, alpha, A, L.aOff, lda, B, L.bOff, ldb, beta, want, L.cOff, ldc);
  return { got, want };
}
