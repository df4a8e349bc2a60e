/**
 * Residual sublayers and blocks (components.md §2). A block is an ordered list of sublayers; each
 * wraps one component (attention, DeltaNet, FFN, MTP head) with its norm placement:
 *   pre            x ← x + drop(F(N_pre(x)))
 *   post           x ← x + drop(N_post(F(x)))          (OLMo 2)
 *   sandwich       x ← x + drop(N_post(F(N_pre(x))))   (Gemma 2/3, Trinity)
 *   post_residual  x ← N_post(x + drop(F(x)))          (original Transformer)
 *   none           x ← x + drop(F(x))
 * A side branch (MTP head) reads the normalised stream (its one norm) and leaves x unchanged.
 *
 * Parameter names: `layers.{i}.{name}.pre_norm.*`, `.post_norm.*`, and the component's own tensors
 * directly under `layers.{i}.{name}.` (the component is a transparent child of its sublayer).
 */
import { Module } from "../nn/module.js";
import { add } from "../ops/elementwise.js";
import { dropout } from "../ops/nn.js";
import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import { placementNorm } from "../config/components/norms.js";
import type { BlockSpec, SublayerSpec } from "../config/types.js";
import { buildComponent, type BuildEnv } from "../layers/build.js";
import type { Layer, LayerContext, LayerState } from "../layers/context.js";
import { buildNorm, type Norm } from "../layers/norm.js";

export interface BlockOptions {
  residualDropout: number;
  checkFinite: boolean;
}

/** Throws naming `where` if t holds NaN or ±Inf. */
export function assertFinite(t: Tensor, where: string): void {
  const d = t.dense();
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (x !== x || x === Infinity || x === -Infinity)
      throw new ChimeraError(`non-finite value: the output of ${where} [${t.shape.join(", ")}] holds ${x} at flat index ${i}`);
  }
}

export class Sublayer extends Module {
  readonly pre_norm: Norm | null = null;
  readonly post_norm: Norm | null = null;
  readonly component: Layer;
  readonly placement: SublayerSpec["norm"]["placement"];

  constructor(
    spec: SublayerSpec,
    env: BuildEnv,
    /** Full dotted name, e.g. "layers.2.attn" (errors and finite checks). */
    readonly where: string,
  ) {
    super();
    this.placement = spec.norm.placement;
    const n = placementNorm(spec.norm);
    if (n) {
      const pre = this.placement === "pre" || this.placement === "sandwich";
      const post = this.placement !== "pre";
      if (pre) this.pre_norm = this.child("pre_norm", buildNorm(n, env.d, env.init));
      if (post) this.post_norm = this.child("post_norm", buildNorm(n, env.d, env.init));
    }
    this.component = buildComponent(spec, env, where);
  }

  override namedParameters(prefix = ""): [string, Tensor][] {
    return [...super.namedParameters(prefix), ...this.component.namedParameters(prefix)];
  }

  override namedModules(prefix = ""): [string, Module][] {
    return [...super.namedModules(prefix), ...this.component.namedModules(prefix)];
  }

  forward(x: Tensor, ctx: LayerContext, state: LayerState | null, opts: BlockOptions): Tensor {
    if (this.component.sideBranch) {
      const n = this.pre_norm ?? this.post_norm;
      const before = ctx.mtp.length;
      this.component.forward(n ? n.forward(x) : x, ctx, state);
      if (opts.checkFinite) for (let i = before; i < ctx.mtp.length; i++) assertFinite(ctx.mtp[i]!.loss, `${this.where} (MTP loss)`);
      return x;
    }
    const inp = this.pre_norm ? this.pre_norm.forward(x) : x;
    let y = this.component.forward(inp, ctx, state);
    if (opts.checkFinite) assertFinite(y, this.where);
    if (this.post_norm && this.placement !== "post_residual") y = this.post_norm.forward(y);
    y = dropout(y, opts.residualDropout, { training: ctx.training });
    const out = add(x, y);
    return this.placement === "post_residual" ? this.post_norm!.forward(out) : out;
  }
}

export class Block extends Module {
  readonly sublayers: Sublayer[];

  constructor(spec: BlockSpec, env: BuildEnv, where: string) {
    super();
    this.sublayers = spec.sublayers.map((s) => this.child(s.name, new Sublayer(s, env, `${where}.${s.name}`)));
  }

  /** Per-sublayer decode state (null for stateless sublayers). */
  newState(B: number, dtype: DType): (LayerState | null)[] {
    return this.sublayers.map((s) => s.component.newState(B, dtype));
  }

  forward(x: Tensor, ctx: LayerContext, states: (LayerState | null)[] | null, opts: BlockOptions): Tensor {
    this.sublayers.forEach((s, i) => (x = s.forward(x, ctx, states ? states[i]! : null, opts)));
    return x;
  }
}
