// Child process for rng.test.ts: draws from the native kernels under the CHIMERA_THREADS the
// parent set, and prints hashes of the raw bytes plus the largest difference from the reference
// kernels as one JSON line. Not a test file itself.
import { createHash } from "node:crypto";
import { nativeAvailable, referenceKernels, withBackend, kernelsFor } from "../../src/backend/index.js";

const n = Number(process.argv[2] ?? 1 << 20);
const offset = Number(process.argv[3] ?? 0);
const [k0, k1] = [0x1234567, 0x89abcdef];

function hash(a: Float32Array): string {
  return createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const result: Record<string, unknown> = { native: nativeAvailable(), threads: process.env.CHIMERA_THREADS ?? "" };
if (nativeAvailable()) {
  withBackend("native", () => {
    const K = kernelsFor("float32");
    const x = new Float32Array(n).fill(1);
    for (const kind of ["uniform", "normal", "dropout"] as const) {
      const nat = new Float32Array(n);
      const ref = new Float32Array(n);
      if (kind === "dropout") {
        K.dropout(x, nat, n, 0.3, k0, k1, offset);
        referenceKernels.dropout(x, ref, n, 0.3, k0, k1, offset);
      } else {
        K[kind](nat, n, k0, k1, offset);
        referenceKernels[kind](ref, n, k0, k1, offset);
      }
      result[kind] = { hash: hash(nat), refHash: hash(ref), maxDiff: maxDiff(nat, ref) };
    }
  });
}
process.stdout.write(JSON.stringify(result) + "\n");
