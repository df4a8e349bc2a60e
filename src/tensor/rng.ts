/**
 * Philox4x32-10 counter-based RNG (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011). Element i of a draw at stream offset `o` uses counter (o + ⌊i/4⌋) and lane i mod 4,
 * so a draw gives the same numbers however it is split across threads. The native addon uses the
 * same constants and layout; tests check both agree bit for bit.
 *
 * A `Generator` is (key: 64-bit seed as two u32, offset: number of 128-bit blocks consumed).
 * Its whole state is two numbers, which is what checkpoints save.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const hilo = aHi * bLo;
  const lohi = aLo * bHi;
  const hihi = aHi * bHi;
  const mid = (lolo >>> 16) + (hilo & 0xffff) + (lohi & 0xffff);
  return (hihi + (hilo >>> 16) + (lohi >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: writes 4 u32 into `out` for counter (c0,c1,c2,c3) and key (k0,k1). */
export function philoxBlock(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

const TWO32 = 4294967296;
/** u32 → uniform float in (0, 1]: never 0 so log() is safe. */
export function u32ToUniform(x: number): number {
  return (x + 1) / TWO32;
}

/** Fills `out[i]` with uniforms in (0,1] for stream offset `offset` (in 128-bit blocks). */
export function philoxUniform(out: Float32Array | Float64Array, k0: number, k1: number, offset: number): void {
  const blk = new Uint32Array(4);
  const n = out.length;
  for (let i = 0; i < n; i += 4) {
    const ctr = offset + i / 4;
    philoxBlock(ctr >>> 0, Math.floor(ctr / TWO32) >>> 0, 0, 0, k0, k1, blk);
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = u32ToUniform(blk[j]!);
  }
}

/** Standard normals by Box–Muller on lane pairs (0,1) and (2,3) of each block. */
export function philoxNormal(out: Float32Array | Float64Array, k0: number, k1: number, offset: number): void {
  const blk = new Uint32Array(4);
  const n = out.length;
  for (let i = 0; i < n; i += 4) {
    const ctr = offset + i / 4;
    philoxBlock(ctr >>> 0, Math.floor(ctr / TWO32) >>> 0, 0, 0, k0, k1, blk);
    for (let p = 0; p < 2; p++) {
      const u1 = u32ToUniform(blk[2 * p]!);
      const u2 = u32ToUniform(blk[2 * p + 1]!);
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = 2 * Math.PI * u2;
      if (i + 2 * p < n) out[i + 2 * p] = r * Math.cos(th);
      if (i + 2 * p + 1 < n) out[i + 2 * p + 1] = r * Math.sin(th);
    }
  }
}

/** Blocks a draw of n numbers consumes. */
export function blocksFor(n: number): number {
  return Math.ceil(n / 4);
}

export interface GeneratorState {
  seed: number;
  offset: number;
}

/** A seeded stream. `take(n)` reserves blocks and returns the offset where they start. */
export class Generator {
  k0: number;
  k1: number;
  offset = 0;
  constructor(public seed: number) {
    this.k0 = seed >>> 0;
    this.k1 = Math.floor(seed / TWO32) >>> 0;
  }
  take(n: number): number {
    const o = this.offset;
    this.offset += blocksFor(n);
    return o;
  }
  getState(): GeneratorState {
    return { seed: this.seed, offset: this.offset };
  }
  setState(s: GeneratorState): void {
    this.seed = s.seed;
    this.k0 = s.seed >>> 0;
    this.k1 = Math.floor(s.seed / TWO32) >>> 0;
    this.offset = s.offset;
  }
}

let defaultGen = new Generator(0);
export function manualSeed(seed: number): void {
  defaultGen = new Generator(seed);
}
export function defaultGenerator(): Generator {
  return defaultGen;
}
