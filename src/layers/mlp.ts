/**
 * Dense feed-forward layers (components.md §14):
 *   SwiGLU   down(SiLU(gate x) ⊙ up x)          (Llama, Qwen, DeepSeek)
 *   GeGLU    down(GELU_tanh(gate x) ⊙ up x)     (Gemma)
 *   GELU MLP down(GELU(up x + b₁)) + b₂         (GPT-2; tanh or exact erf GELU)
 *   ReLU²    down(ReLU(up x)²)                  (Nemotron-H / Nemotron 3 MoE experts, non-gated)
 * Parameters: gate_proj [h, d], up_proj [h, d], down_proj [d, h] (+ biases); GELU MLP has no gate.
 * down_proj writes into the residual stream, so it gets the output-projection init scale.
 */
import { gelu, mul, relu, silu, square } from "../ops/elementwise.js";
import type { Tensor } from "../tensor/tensor.js";
import type { GeluMlpSpec } from "../config/components/gelu_mlp.js";
import type { GluSpec } from "../config/components/swiglu.js";
import { Layer, type LayerContext } from "./context.js";
import type { Init } from "./init.js";
import { Linear } from "./linear.js";

export type GateActivation = "silu" | "gelu_tanh";

/** The gate non-linearity of a gated MLP. */
export function activate(x: Tensor, act: GateActivation): Tensor {
  return act === "silu" ? silu(x) : gelu(x, "tanh");
}

/** Gated MLP (SwiGLU / GeGLU). */
export class GluMlp extends Layer {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(
    d: number,
    hidden: number,
    bias: boolean,
    readonly activation: GateActivation,
    init: Init,
  ) {
    super();
    this.gate_proj = this.child("gate_proj", new Linear(d, hidden, bias, init));
    this.up_proj = this.child("up_proj", new Linear(d, hidden, bias, init));
    this.down_proj = this.child("down_proj", new Linear(hidden, d, bias, init, init.std * init.outScale));
  }

  static fromSpec(spec: GluSpec<"swiglu" | "geglu">, d: number, init: Init): GluMlp {
    return new GluMlp(d, spec.hidden, spec.bias, spec.kind === "swiglu" ? "silu" : "gelu_tanh", init);
  }

  /** x [..., d] → [..., d]. */
  apply(x: Tensor): Tensor {
    return this.down_proj.forward(mul(activate(this.gate_proj.forward(x), this.activation), this.up_proj.forward(x)));
  }

  forward(x: Tensor, _ctx: LayerContext): Tensor {
    return this.apply(x);
  }
}

/** Two-layer GELU MLP (GPT-2). */
export class GeluMlp extends Layer {
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  private readonly approx: "none" | "tanh";

  constructor(spec: GeluMlpSpec, d: number, init: Init) {
    super();
    this.approx = spec.approximation === "tanh" ? "tanh" : "none";
    this.up_proj = this.child("up_proj", new Linear(d, spec.hidden, spec.bias, init));
    this.down_proj = this.child("down_proj", new Linear(spec.hidden, d, spec.bias, init, init.std * init.outScale));
  }

  forward(x: Tensor, _ctx: LayerContext): Tensor {
    return this.down_proj.forward(gelu(this.up_proj.forward(x), this.approx));
  }
}

/** Non-gated squared-ReLU MLP (Nemotron-H): down(ReLU(up x)²); used as the MoE shared expert. */
export class Relu2Mlp extends Layer {
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(d: number, hidden: number, bias: boolean, init: Init) {
    super();
    this.up_proj = this.child("up_proj", new Linear(d, hidden, bias, init));
    this.down_proj = this.child("down_proj", new Linear(hidden, d, bias, init, init.std * init.outScale));
  }

  /** x [..., d] → [..., d]. */
  apply(x: Tensor): Tensor {
    return this.down_proj.forward(square(relu(this.up_proj.forward(x))));
  }

  forward(x: Tensor, _ctx: LayerContext): Tensor {
    return this.apply(x);
  }
}
