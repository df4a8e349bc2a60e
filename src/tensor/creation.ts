/** Creation ops: zeros, ones, full, arange, tensors from data, and seeded random tensors. */
import { Tensor } from "./tensor.js";
import { allocArray, type DType } from "./dtype.js";
import { checkShape, numel, shapeStr, type Shape } from "./shape.js";
import { defaultGenerator, type Generator } from "./rng.js";
import { kernelsFor } from "../backend/index.js";
import { OpError } from "../errors.js";

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

function make(op: string, shape: Shape, opts: CreateOptions): Tensor {
  checkShape(op, shape);
  const t = new Tensor(allocArray(opts.dtype ?? "float32", numel(shape)), shape);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return make("zeros", shape, opts);
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const t = make("full", shape, opts);
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return full([], value, opts);
}

/** [start, start+step, …) below end. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new OpError("arange", "step must not be 0");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = make("arange", [n], opts);
  for (let i = 0; i < n; i++) t.data[i] = start + i * step;
  return t;
}

/** Tensor from nested arrays or a flat array plus shape. Copies the data. */
export function tensor(values: ArrayLike<number> | NestedArray, shape?: Shape, opts: CreateOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (Array.isArray(values) && values.length > 0 && Array.isArray(values[0])) {
    inferred = [];
    let v: unknown = values;
    while (Array.isArray(v)) {
      inferred.push(v.length);
      v = v[0];
    }
    flat = (values as NestedArray[]).flat(Infinity as 1) as number[];
  } else {
    flat = values as ArrayLike<number>;
    inferred = [flat.length];
  }
  const s = shape ?? inferred;
  if (numel(s) !== flat.length) throw new OpError("tensor", `${flat.length} values do not fill shape ${shapeStr(s)}`);
  const t = make("tensor", s, opts);
  for (let i = 0; i < flat.length; i++) t.data[i] = flat[i]!;
  return t;
}
export type NestedArray = number | NestedArray[];

/** Wraps an existing typed array without copying. */
export function fromArray(data: Float32Array | Float64Array, shape: Shape): Tensor {
  if (numel(shape) !== data.length) throw new OpError("fromArray", `array of length ${data.length} does not fill shape ${shapeStr(shape)}`);
  return new Tensor(data, shape);
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

/** Uniform in (low, high]. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const t = make("rand", shape, opts);
  const g = opts.generator ?? defaultGenerator();
  const n = t.size;
  kernelsFor(t.dtype).uniform(t.data, n, g.k0, g.k1, g.take(n));
  const lo = opts.low ?? 0;
  const hi = opts.high ?? 1;
  if (lo !== 0 || hi !== 1) kernelsFor(t.dtype).affine(t.data, t.data, n, hi - lo, lo);
  return t;
}

/** Normal(mean, std²). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const t = make("randn", shape, opts);
  const g = opts.generator ?? defaultGenerator();
  const n = t.size;
  kernelsFor(t.dtype).normal(t.data, n, g.k0, g.k1, g.take(n));
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  if (mean !== 0 || std !== 1) kernelsFor(t.dtype).affine(t.data, t.data, n, std, mean);
  return t;
}
