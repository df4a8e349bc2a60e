/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), fused per parameter in the
 * `adamw` kernel: m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²; p ← p − lr·(wd·p + m̂/(√v̂ + ε)).
 */
import { kernelsFor } from "../../backend/index.js";
import { defaultDecays, Optimizer, type NamedParam } from "./optimizer.js";

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Which parameters are decayed (default: defaultDecays). */
  decays?: (name: string, p: NamedParam["p"]) => boolean;
}

export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly decay: boolean[];

  constructor(params: NamedParam[], opts: AdamWOptions) {
    super(params, opts.lr);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
    const rule = opts.decays ?? defaultDecays;
    this.m = this.params.map(({ p }) => new Float32Array(p.size));
    this.v = this.params.map(({ p }) => new Float32Array(p.size));
    this.decay = this.params.map(({ name, p }) => rule(name, p));
  }

  update(): void {
    this.step++;
    const bc1 = 1 - this.beta1 ** this.step;
    const bc2 = 1 - this.beta2 ** this.step;
    this.params.forEach(({ p }, i) => {
      const g = p.grad;
      if (!g) return;
      const K = kernelsFor(p.dtype);
      const pd = p.offset === 0 && p.data.length === p.size ? p.data : p.data.subarray(p.offset, p.offset + p.size);
      K.adamw(pd, g.dense(), this.m[i]! as never, this.v[i]! as never, p.size, this.lr, this.beta1, this.beta2, this.eps, this.decay[i] ? this.weightDecay : 0, bc1, bc2);
    });
  }

  /** Names of decayed / not decayed parameters (for logging). */
  decayGroups(): { decayed: string[]; notDecayed: string[] } {
    const decayed: string[] = [];
    const notDecayed: string[] = [];
    this.params.forEach(({ name }, i) => (this.decay[i] ? decayed : notDecayed).push(name));
    return { decayed, notDecayed };
  }

  buffers(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    this.params.forEach(({ name }, i) => {
      out.set(`${name}.exp_avg`, this.m[i]!);
      out.set(`${name}.exp_avg_sq`, this.v[i]!);
    });
    return out;
  }
}
