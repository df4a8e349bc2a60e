/**
 * Norm modules built from a `NormSpec` (components.md §1): RMSNorm `w ⊙ x / sqrt(mean(x²)+eps)`
 * (gain `1 + w` with w initialised to 0 when `zeroCentered`, Gemma / Qwen3-Next), and LayerNorm
 * `γ ⊙ (x−μ)/sqrt(σ²+eps) + β` (biased variance). Both normalise the last axis.
 * Parameters: weight [width] (+ bias [width] for LayerNorm with bias), as `NORM_KINDS.shapes`.
 */
import { Module } from "../nn/module.js";
import { layerNorm, rmsNorm } from "../ops/norm.js";
import type { Tensor } from "../tensor/tensor.js";
import type { NormSpec } from "../config/components/norms.js";
import { constInit, zerosInit, type Init } from "./init.js";

export abstract class Norm extends Module {
  abstract forward(x: Tensor): Tensor;
}

export class RMSNorm extends Norm {
  readonly weight: Tensor;
  private readonly offset: number;

  constructor(
    width: number,
    readonly eps: number,
    zeroCentered: boolean,
    init: Init,
  ) {
    super();
    this.offset = zeroCentered ? 1 : 0;
    this.weight = this.param("weight", zeroCentered ? zerosInit([width], init) : constInit([width], init, 1));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps, { offset: this.offset });
  }
}

export class LayerNorm extends Norm {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    width: number,
    readonly eps: number,
    bias: boolean,
    init: Init,
  ) {
    super();
    this.weight = this.param("weight", constInit([width], init, 1));
    this.bias = bias ? this.param("bias", zerosInit([width], init)) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** The norm module for a spec at `width`. */
export function buildNorm(spec: NormSpec, width: number, init: Init): Norm {
  switch (spec.kind) {
    case "rmsnorm":
      return new RMSNorm(width, spec.eps, spec.zeroCentered, init);
    case "layernorm":
      return new LayerNorm(width, spec.eps, spec.bias, init);
  }
}
