// Child process for the thread-count tests of attention.test.ts, rope.test.ts and conv.test.ts:
// runs one sequence kernel family on the native backend under the CHIMERA_THREADS the parent
// set and prints a SHA-256 of every output's bytes as one JSON line. Not a test file itself.
import { createHash } from "node:crypto";
import { kernelsFor, nativeAvailable, withBackend } from "../../src/backend/index.js";
import { rand } from "./helpers.js";

function hash(a: Float32Array): string {
  return createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}

const which = process.argv[2] ?? "attention";
const out: Record<string, string | boolean> = { native: nativeAvailable() };
if (nativeAvailable())
  withBackend("native", () => {
    const K = kernelsFor("float32");
    if (which === "attention") {
      // big enough that forward and backward split into many pool tasks
      for (const [B, T, Hq, Hkv, D, Dv, window, sinks] of [
        [2, 130, 4, 2, 32, 24, 0, true],
        [3, 97, 4, 1, 16, 16, 33, false],
      ] as [number, number, number, number, number, number, number, boolean][]) {
        const q = rand(B * T * Hq * D, 1), k = rand(B * T * Hkv * D, 2), v = rand(B * T * Hkv * Dv, 3);
        const s = sinks ? rand(Hq, 4) : null;
        const o = new Float32Array(B * T * Hq * Dv), lse = new Float32Array(B * Hq * T);
        K.attention(q, k, v, s, o, lse, B, T, T, Hq, Hkv, D, Dv, 1 / Math.sqrt(D), true, window, 0);
        const go = rand(o.length, 5);
        const gq = new Float32Array(q.length), gk = new Float32Array(k.length), gv = new Float32Array(v.length);
        const gs = s ? new Float32Array(Hq) : null;
        K.attentionBackward(q, k, v, s, o, lse, go, gq, gk, gv, gs, B, T, T, Hq, Hkv, D, Dv, 1 / Math.sqrt(D), true, window, 0);
        const tag = `${B}x${T}x${Hq}/${Hkv}`;
        Object.assign(out, { [`out ${tag}`]: hash(o), [`lse ${tag}`]: hash(lse), [`gq ${tag}`]: hash(gq), [`gk ${tag}`]: hash(gk), [`gv ${tag}`]: hash(gv) });
        if (gs) out[`gSinks ${tag}`] = hash(gs);
      }
    } else if (which === "rope") {
      const [n, H, D, R, P] = [4099, 4, 32, 16, 5000];
      const x = rand(n * H * D, 1), cos = rand(P * (R / 2), 2), sin = rand(P * (R / 2), 3);
      const pos = Int32Array.from({ length: n }, (_, i) => (i * 13) % P);
      for (const interleaved of [false, true])
        for (const inverse of [false, true]) {
          const y = new Float32Array(x.length);
          K.rope(x, y, pos, cos, sin, n, H, D, R, interleaved, inverse);
          out[`rope ${interleaved} ${inverse}`] = hash(y);
        }
    } else if (which === "conv") {
      const [B, T, C, K_] = [3, 1031, 48, 4];
      const x = rand(B * T * C, 1), w = rand(C * K_, 2), b = rand(C, 3), st = rand(B * (K_ - 1) * C, 4);
      const y = new Float32Array(x.length);
      K.causalConv1d(x, w, b, st, y, B, T, C, K_);
      const gy = rand(y.length, 5);
      const gx = new Float32Array(x.length), gw = new Float32Array(C * K_), gb = new Float32Array(C), gs = new Float32Array(st.length);
      K.causalConv1dBackward(x, w, st, gy, gx, gw, gb, gs, B, T, C, K_);
      Object.assign(out, { y: hash(y), gx: hash(gx), gw: hash(gw), gb: hash(gb), gState: hash(gs) });
    }
  });
process.stdout.write(JSON.stringify(out) + "\n");
