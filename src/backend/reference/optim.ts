/** Reference fused AdamW step (decoupled weight decay, Loshchilov & Hutter 2019). */
import type { Arr } from "../../tensor/dtype.js";

export function adamw(p: Arr, g: Arr, m: Arr, v: Arr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, bc1: number, bc2: number): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! - lr * (wd * p[i]! + mi / bc1 / (Math.sqrt(vi / bc2) + eps));
  }
}
