/** Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_): returns the pre-clip norm. */
import type { Tensor } from "../tensor/tensor.js";
import { kernelsFor } from "../backend/index.js";

export function gradNorm(params: Tensor[]): number {
  let ss = 0;
  const seen = new Set<Tensor>();
  for (const p of params) {
    if (!p.grad || seen.has(p)) continue;
    seen.add(p);
    const g = p.grad.dense();
    ss += kernelsFor(p.grad.dtype).sumSquares(g, g.length);
  }
  return Math.sqrt(ss);
}

export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const norm = gradNorm(params);
  if (maxNorm > 0 && norm > maxNorm && Number.isFinite(norm)) {
    const s = maxNorm / (norm + 1e-6);
    const seen = new Set<Tensor>();
    for (const p of params) {
      if (!p.grad || seen.has(p)) continue;
      seen.add(p);
      const g = p.grad;
      const d = g.dense();
      kernelsFor(g.dtype).affine(d, d, d.length, s, 0);
      if (d !== g.data) g.data.set(d, g.offset);
    }
  }
  return norm;
}
