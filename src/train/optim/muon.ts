/**
 * Muon (Keller Jordan 2024; components.md §24.1): momentum, then orthogonalise the update with
 * 5 Newton–Schulz iterations X ← aX + (bA + cA²)X, A = XXᵀ, (a,b,c) = (3.4445, −4.7750, 2.0315),
 * scaled by sqrt(max(1, rows/cols)). Applied to 2-D hidden matrices (stacked expert weights
 * [E, r, c] are E separate matrices); embeddings, the output head, norms, biases, conv filters
 * and other 0/1-D parameters go to an inner AdamW.
 */
import { kernelsFor } from "../../backend/index.js";
import type { Tensor } from "../../tensor/tensor.js";
import { AdamW, type AdamWOptions } from "./adamw.js";
import { Optimizer, type NamedParam } from "./optimizer.js";

const NS_A = 3.4445;
const NS_B = -4.775;
const NS_C = 2.0315;

/** Parameters Muon handles: matrices (or stacks of them) that are not embeddings or the head. */
export function isMuonParam(name: string, p: Tensor): boolean {
  if (p.rank < 2 || p.rank > 3) return false;
  if (/(^|\.)(embed|wte|wpe|lm_head|head|pos_embed)/.test(name)) return false;
  if (/conv/.test(name)) return false;
  if (p.rank === 3 && !/experts\./.test(name)) return false;
  return true;
}

/** Orthogonalises the rows×cols matrix g (float32, row-major) in place with `steps` NS iterations. */
export function newtonSchulz(g: Float32Array, rows: number, cols: number, steps = 5): void {
  const K = kernelsFor("float32");
  const tall = rows > cols;
  const r = tall ? cols : rows; // X is r × c with r ≤ c
  const c = tall ? rows : cols;
  let X = new Float32Array(r * c);
  if (tall) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) X[j * c + i] = g[i * cols + j]!;
  else X.set(g);
  const norm = Math.sqrt(K.sumSquares(X, X.length)) + 1e-7;
  K.affine(X, X, X.length, 1 / norm, 0);
  const A = new Float32Array(r * r);
  const B = new Float32Array(r * r);
  let Y = new Float32Array(r * c);
  for (let s = 0; s < steps; s++) {
    K.gemm(false, true, r, r, c, 1, X, 0, c, X, 0, c, 0, A, 0, r); // A = X Xᵀ
    K.gemm(false, false, r, r, r, NS_C, A, 0, r, A, 0, r, 0, B, 0, r); // B = c·A²
    K.axpy(r * r, NS_B, A, B); // B += b·A
    Y.set(X);
    K.gemm(false, false, r, c, r, 1, B, 0, r, X, 0, c, NS_A, Y, 0, c); // Y = a·X + B X
    [X, Y] = [Y, X];
  }
  if (tall) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) g[i * cols + j] = X[j * c + i]!;
  else g.set(X);
}

export interface MuonOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  nsSteps?: number;
  /** Options of the AdamW used for the non-matrix parameters. */
  adamw: AdamWOptions;
}

export class Muon extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly nsSteps: number;
  readonly inner: AdamW;
  private readonly muonParams: NamedParam[];
  private readonly buf: Float32Array[];
  /** Ratio of this optimiser's lr to the inner AdamW's, kept when a schedule scales `lr`. */
  private readonly adamRatio: number;

  constructor(params: NamedParam[], opts: MuonOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0.95;
    this.nesterov = opts.nesterov ?? true;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nsSteps = opts.nsSteps ?? 5;
    this.muonParams = this.params.filter(({ name, p }) => isMuonParam(name, p));
    const rest = this.params.filter(({ name, p }) => !isMuonParam(name, p));
    this.inner = new AdamW(rest, opts.adamw);
    this.adamRatio = opts.adamw.lr / opts.lr;
    this.buf = this.muonParams.map(({ p }) => new Float32Array(p.size));
  }

  update(): void {
    this.step++;
    this.inner.lr = this.lr * this.adamRatio;
    this.inner.update();
    const K = kernelsFor("float32");
    const beta = this.momentum;
    this.muonParams.forEach(({ p }, i) => {
      if (!p.grad) return;
      const g = Float32Array.from(p.grad.dense());
      const M = this.buf[i]!;
      // M ← βM + (1−β)G ; U ← (1−β)G + βM (Nesterov) or M
      K.affine(M, M, M.length, beta, 0);
      K.axpy(M.length, 1 - beta, g, M);
      const U = g;
      if (this.nesterov) {
        K.affine(U, U, U.length, 1 - beta, 0);
        K.axpy(U.length, beta, M, U);
      } else U.set(M);
      const [mats, rows, cols] = p.rank === 3 ? [p.shape[0]!, p.shape[1]!, p.shape[2]!] : [1, p.shape[0]!, p.shape[1]!];
      const scale = Math.sqrt(Math.max(1, rows / cols));
      const pd = p.data.subarray(p.offset, p.offset + p.size);
      if (this.weightDecay) K.affine(pd, pd, pd.length, 1 - this.lr * this.weightDecay, 0);
      for (let e = 0; e < mats; e++) {
        const slice = U.subarray(e * rows * cols, (e + 1) * rows * cols);
        newtonSchulz(slice, rows, cols, this.nsSteps);
      }
      K.axpy(pd.length, -this.lr * scale, U, pd as Float32Array);
    });
  }

  buffers(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>(this.inner.buffers());
    this.muonParams.forEach(({ name }, i) => out.set(`${name}.momentum_buffer`, this.buf[i]!));
    return out;
  }

  override loadState(s: Parameters<Optimizer["loadState"]>[0]): void {
    super.loadState(s);
    this.inner.step = s.step;
  }
}
