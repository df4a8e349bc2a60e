/**
 * A tiny seeded PRNG for data shuffling: sfc32 (Chris Doty-Humphrey's "small fast counting"
 * generator, 128-bit state) seeded through splitmix32. Deterministic across platforms, and
 * independent of the engine's Philox RNG so data order never depends on model code.
 */

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds from any number of integers (e.g. run seed and epoch). */
  constructor(...seeds: number[]) {
    let s = 0x2545f491;
    for (const x of seeds) {
      // Fold each seed in, low and high 32 bits, so large seeds are not truncated.
      [s] = splitmix32(s ^ (x >>> 0));
      [s] = splitmix32(s ^ Math.floor(x / 2 ** 32));
    }
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      let v: number;
      [s, v] = splitmix32(s);
      out.push(v);
    }
    [this.a, this.b, this.c, this.d] = out as [number, number, number, number];
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.d = (this.d + 1) | 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n) without modulo bias (n ≤ 2^32). */
  below(n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 2 ** 32;
  }
}

/** A permutation of 0…n−1 (Fisher–Yates) drawn from `rng`. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
