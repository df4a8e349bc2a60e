/**
 * Parameter initialisation shared by every layer (docs/model.md "Initialisation"):
 *   weight matrices   normal(0, std)                    (std = config.init.std)
 *   output projections normal(0, std · outScale)        (outScale = 1/sqrt(#residual sublayers),
 *                      the GPT-2 1/sqrt(2·n_layer) rule generalised to any block layout)
 *   biases            zeros
 *   norm gains        ones (zeros for the "(1+w)" zero-centred RMSNorm)
 * All draws come, in construction order, from one Philox `Generator` seeded by the build seed, so
 * a (config, seed) pair always gives the same weights.
 */
import { Generator } from "../tensor/rng.js";
import { full, rand, randn, zeros } from "../tensor/creation.js";
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type DType } from "../tensor/dtype.js";
import type { Shape } from "../tensor/shape.js";

export interface Init {
  gen: Generator;
  /** Std of normal-initialised matrices. */
  std: number;
  /** Extra factor on output projections (those that write into the residual stream). */
  outScale: number;
  dtype: DType;
  /** False: allocate only (random draws become zeros), e.g. before loading a checkpoint. */
  random: boolean;
}

export function makeInit(seed: number, std: number, outScale = 1, dtype: DType = "float32", random = true): Init {
  return { gen: new Generator(seed), std, outScale, dtype, random };
}

/** normal(0, std) (default: init.std). */
export function normalInit(shape: Shape, init: Init, std = init.std): Tensor {
  if (!init.random) return zeros(shape, { dtype: init.dtype });
  return randn(shape, { generator: init.gen, std, dtype: init.dtype });
}

/** uniform(low, high]. */
export function uniformInit(shape: Shape, init: Init, low: number, high: number): Tensor {
  if (!init.random) return full(shape, low, { dtype: init.dtype });
  return rand(shape, { generator: init.gen, low, high, dtype: init.dtype });
}

export function zerosInit(shape: Shape, init: Init): Tensor {
  return zeros(shape, { dtype: init.dtype });
}

export function constInit(shape: Shape, init: Init, value: number): Tensor {
  return full(shape, value, { dtype: init.dtype });
}

/**
 * The `dt_bias` of the gated linear-attention / SSM layers (Gated DeltaNet, KDA, Mamba-2; fla and
 * mamba_ssm init): softplus⁻¹(dt) for dt = exp(U(ln 1e-3, ln 0.1)) floored at 1e-4, n values.
 */
export function dtBiasInit(n: number, init: Init): Tensor {
  const u = uniformInit([n], init, Math.log(1e-3), Math.log(0.1));
  const out = allocArray(init.dtype, n);
  for (let i = 0; i < n; i++) {
    const dt = Math.max(Math.exp(u.data[i]!), 1e-4);
    out[i] = dt + Math.log(-Math.expm1(-dt)); // softplus⁻¹(dt) = log(e^dt − 1)
  }
  return new Tensor(out, [n]);
}
