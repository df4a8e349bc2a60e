/**
 * A module holding one parameter named `weight` and nothing else: the checkpoint shape of a
 * depthwise conv (`conv1d.weight`) or a norm gain (`norm.weight`) whose op the owning layer
 * calls itself (Gated DeltaNet, KDA, Mamba-2).
 */
import { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";

export class WeightOnly extends Module {
  readonly weight: Tensor;
  constructor(w: Tensor) {
    super();
    this.weight = this.param("weight", w);
  }
}
