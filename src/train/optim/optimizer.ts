/**
 * Optimiser base: parameters with names, per-parameter state buffers, and save/load of that state
 * by name (so a checkpoint restores it exactly). Decay rules decide which parameters get weight
 * decay: by default none on norms, biases, embeddings, `A_log`, `dt_bias` (rank < 2 or named so).
 */
import type { Tensor } from "../../tensor/tensor.js";
import { ChimeraError } from "../../errors.js";

export interface NamedParam {
  name: string;
  p: Tensor;
}

/** Default no-decay rule (components.md §24.3 "common exclusions"). */
export function defaultDecays(name: string, p: Tensor): boolean {
  if (p.rank < 2) return false; // biases, norm gains, A_log, dt_bias, sinks
  if (/(^|\.)(embed|wte|wpe|tok_embeddings|embed_tokens|pos_embed)/.test(name)) return false;
  if (/A_log|dt_bias/.test(name)) return false;
  return true;
}

export interface OptimizerState {
  step: number;
  /** buffer name → data, e.g. "layers.0.attn.q_proj.weight.exp_avg". */
  buffers: Map<string, Float32Array>;
  hyper: Record<string, number>;
}

export abstract class Optimizer {
  step = 0;
  /** Learning rate multiplier applied by the schedule (peak lr × schedule factor). */
  lr: number;
  protected readonly params: NamedParam[];

  constructor(params: NamedParam[], lr: number) {
    const seen = new Set<Tensor>();
    // tied weights appear once
    this.params = params.filter(({ p }) => (seen.has(p) ? false : (seen.add(p), true)));
    this.lr = lr;
  }

  /** Applies one update from the parameters' `.grad` (missing grads are skipped). */
  abstract update(): void;

  /** All state buffers by name (for checkpoints). */
  abstract buffers(): Map<string, Float32Array>;

  state(): OptimizerState {
    return { step: this.step, buffers: this.buffers(), hyper: { lr: this.lr } };
  }

  /** Restores buffers by name; errors name the buffer and sizes when they do not fit. */
  loadState(s: OptimizerState): void {
    const mine = this.buffers();
    for (const [name, buf] of mine) {
      const src = s.buffers.get(name);
      if (!src) throw new ChimeraError(`optimizer state: buffer '${name}' missing from checkpoint (different config or optimiser?)`);
      if (src.length !== buf.length) throw new ChimeraError(`optimizer state: buffer '${name}' has ${src.length} elements in checkpoint, ${buf.length} in model`);
      buf.set(src);
    }
    this.step = s.step;
  }

  zeroGrad(): void {
    for (const { p } of this.params) p.grad = null;
  }
}
