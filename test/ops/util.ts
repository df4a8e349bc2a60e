/**
 * Shared helpers for the op tests: run an op with gradients and collect (output, input grads),
 * and compare the native backend with the reference one when the addon is built.
 */
import { Tensor } from "../../src/tensor/tensor.js";
import { backward } from "../../src/autograd/backward.js";
import { nativeAvailable, withBackend } from "../../src/backend/index.js";
import { philoxNormal } from "../../src/tensor/rng.js";
import { assertClose } from "../helpers/gradcheck.js";

/** Fresh leaf copies of `inputs` (as float32 or float64) that require grad. */
export function leaves(inputs: Tensor[], dtype: "float32" | "float64" = "float64"): Tensor[] {
  return inputs.map((t) => {
    const d = dtype === "float32" ? Float32Array.from(t.dense()) : Float64Array.from(t.dense());
    return new Tensor(d, t.shape).requiresGrad_();
  });
}

/** Runs fn on leaf copies, backpropagates a fixed random projection; returns [out, ...grads]. */
export function outAndGrads(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], dtype: "float32" | "float64" = "float64", seed = 4242): Float64Array[] {
  const xs = leaves(inputs, dtype);
  const out = fn(...xs);
  const w = new Float64Array(out.size);
  philoxNormal(w, seed, 3, 0);
  const g = new Tensor(dtype === "float32" ? Float32Array.from(w) : w, out.shape);
  backward([out], [g]);
  return [Float64Array.from(out.dense()), ...xs.map((x) => Float64Array.from(x.grad ? x.grad.dense() : new Float64Array(x.size)))];
}

export const hasNative = nativeAvailable();
export const skipNative = hasNative ? false : "native addon not built";

/** float32 outputs and grads under the native backend agree with the reference backend. */
export function nativeMatchesReference(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], rtol = 1e-4, atol = 1e-5, what = "native"): void {
  const ref = withBackend("reference", () => outAndGrads(fn, inputs, "float32"));
  const nat = withBackend("native", () => outAndGrads(fn, inputs, "float32"));
  ref.forEach((r, i) => assertClose(nat[i]!, r, rtol, atol, `${what} ${i === 0 ? "output" : `grad ${i - 1}`}`));
}
