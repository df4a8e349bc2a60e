/**
 * Linear(in → out): y = x Wᵀ + b with W [out, in] (PyTorch layout, components.md §0).
 * Parameters: weight [out, in] ~ normal(0, std), bias [out] = 0 when enabled.
 */
import { Module } from "../nn/module.js";
import { linear } from "../ops/matmul.js";
import type { Tensor } from "../tensor/tensor.js";
import { normalInit, zerosInit, type Init } from "./init.js";

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias: boolean,
    init: Init,
    std = init.std,
  ) {
    super();
    this.weight = this.param("weight", normalInit([outFeatures, inFeatures], init, std));
    this.bias = bias ? this.param("bias", zerosInit([outFeatures], init)) : null;
  }

  /** x [..., in] → [..., out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
