/**
 * View ops: reshape, permute/transpose, slice, expand, squeeze/unsqueeze share storage with their
 * input; `contiguous` copies when needed. Each records its backward.
 */
import { Tensor } from "../tensor/tensor.js";
import { contiguousStrides, normAxis, numel, shapeStr, type Shape } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { empty, K, uninit } from "./util.js";
import { sumToShape } from "./reduce.js";

/** Copy into fresh contiguous storage if not already contiguous (grad: identity). */
export function contiguous(x: Tensor): Tensor {
  x.check("contiguous");
  if (x.isContiguous()) return x;
  const out = uninit(x.shape, x.dtype); // copyStrided writes every element
  K(x).copyStrided(x.data, x.offset, x.shape, x.strides, out.data);
  record("contiguous", [x], [out], ([g]) => [g!]);
  return out;
}

/** A tensor with the same elements in a new shape; one dim may be -1. Copies only if needed. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  x.check("reshape");
  const s = shape.slice();
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) throw new OpError("reshape", `cannot infer -1 in ${shapeStr(shape)} for ${x.size} elements (input ${shapeStr(x.shape)})`);
    s[neg] = x.size / rest;
  }
  if (numel(s) !== x.size) throw new OpError("reshape", `cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shape)}`);
  const src = x.isContiguous() ? x : contiguous(x);
  const out = new Tensor(src.data, s, contiguousStrides(s), src.offset);
  const inShape = x.shape;
  record("reshape", [src], [out], ([g]) => [reshape(g!, inShape)]);
  return out;
}

export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  const r = x.rank;
  const a = normAxis("flatten", startAxis, r);
  const b = normAxis("flatten", endAxis, r);
  const shape = [...x.shape.slice(0, a), numel(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  x.check("permute");
  if (axes.length !== x.rank) throw new OpError("permute", `axes [${axes.join(", ")}] do not match rank ${x.rank} of ${shapeStr(x.shape)}`);
  const ax = axes.map((a) => normAxis("permute", a, x.rank));
  if (new Set(ax).size !== ax.length) throw new OpError("permute", `axes [${axes.join(", ")}] repeat an axis`);
  const out = new Tensor(x.data, ax.map((a) => x.shape[a]!), ax.map((a) => x.strides[a]!), x.offset);
  const inv = new Array<number>(ax.length);
  ax.forEach((a, i) => (inv[a] = i));
  record("permute", [x], [out], ([g]) => [permute(g!, inv)]);
  return out;
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const r = x.rank;
  const i = normAxis("transpose", a, r);
  const j = normAxis("transpose", b, r);
  const axes = Array.from({ length: r }, (_, k) => k);
  axes[i] = j;
  axes[j] = i;
  return permute(x, axes);
}

/** x[..., start:end, ...] along `axis` (end exclusive; negatives count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  x.check("slice");
  const a = normAxis("slice", axis, x.rank);
  const len = x.shape[a]!;
  let s = start < 0 ? start + len : start;
  let e = end === undefined ? len : end < 0 ? end + len : end;
  if (s < 0 || e > len || s > e) throw new OpError("slice", `range [${start}, ${end ?? len}) out of bounds for axis ${axis} of size ${len} (shape ${shapeStr(x.shape)})`);
  const shape = x.shape.slice();
  shape[a] = e - s;
  const out = new Tensor(x.data, shape, x.strides, x.offset + s * x.strides[a]!);
  const inShape = x.shape;
  record("slice", [x], [out], ([g]) => [padSlice(g!, inShape, a, s)]);
  return out;
}

/** Backward of slice: g placed at [start, start+g.len) along axis in zeros of `shape`. */
function padSlice(g: Tensor, shape: readonly number[], axis: number, start: number): Tensor {
  const out = empty(shape, g.dtype);
  const view = new Tensor(out.data, g.shape, out.strides, start * out.strides[axis]!);
  writeInto(view, g);
  return out;
}

/** Copies src's elements into the strided view `dst` (same shape). */
export function writeInto(dst: Tensor, src: Tensor): void {
  const d = src.dense();
  const shape = dst.shape;
  const rank = shape.length;
  const n = dst.size;
  if (dst.isContiguous()) {
    dst.data.set(d.subarray(0, n), dst.offset);
    return;
  }
  if (n === 0) return;
  // rows of the last dim with an incremental offset; unit-stride rows are block copies
  const len = shape[rank - 1]!;
  const ls = dst.strides[rank - 1]!;
  const rows = n / len;
  const idx = new Array<number>(rank).fill(0);
  let p = dst.offset;
  for (let r = 0; r < rows; r++) {
    const o = r * len;
    if (ls === 1 && len >= 8) dst.data.set(d.subarray(o, o + len), p);
    else for (let j = 0; j < len; j++) dst.data[p + j * ls] = d[o + j]!;
    for (let k = rank - 2; k >= 0; k--) {
      p += dst.strides[k]!;
      if (++idx[k]! < shape[k]!) break;
      p -= idx[k]! * dst.strides[k]!;
      idx[k] = 0;
    }
  }
}

/** Broadcast to a larger shape without copying (size-1 dims get stride 0). */
export function expand(x: Tensor, shape: Shape): Tensor {
  x.check("expand");
  if (shape.length < x.rank) throw new OpError("expand", `cannot expand ${shapeStr(x.shape)} to fewer dims ${shapeStr(shape)}`);
  const off = shape.length - x.rank;
  const strides = new Array<number>(shape.length).fill(0);
  const outShape = shape.slice();
  for (let i = 0; i < shape.length; i++) {
    const want = shape[i] === -1 ? (i >= off ? x.shape[i - off]! : 1) : shape[i]!;
    outShape[i] = want;
    if (i < off) continue;
    const have = x.shape[i - off]!;
    if (have === want) strides[i] = x.strides[i - off]!;
    else if (have !== 1) throw new OpError("expand", `cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)} (dim ${i}: ${have} → ${want})`);
  }
  const out = new Tensor(x.data, outShape, strides, x.offset);
  const inShape = x.shape;
  record("expand", [x], [out], ([g]) => [sumToShape(g!, inShape)]);
  return out;
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis("unsqueeze", axis, x.rank + 1);
  const shape = x.shape.slice();
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis("squeeze", axis, x.rank);
  if (x.shape[a] !== 1) throw new OpError("squeeze", `axis ${axis} has size ${x.shape[a]}, not 1 (shape ${shapeStr(x.shape)})`);
  const shape = x.shape.slice();
  shape.splice(a, 1);
  return reshape(x, shape);
}
