/** Reductions over axes: sum, mean, max, min, logsumexp; argmax; and sumToShape (broadcast backward). */
import { Tensor } from "../tensor/tensor.js";
import { normAxis, numel, shapeStr, type Shape } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import type { ReduceOp } from "../backend/kernels.js";
import { empty, K } from "./util.js";
import { expand, reshape } from "./view.js";
import { binaryOp } from "./elementwise.js";

/** Reduces contiguous data over the run of axes [a0, a1] (merged into one: outer/len/inner). */
function reduceRun(op: ReduceOp, x: Tensor, a0: number, a1: number): Tensor {
  const outer = numel(x.shape.slice(0, a0));
  const len = numel(x.shape.slice(a0, a1 + 1));
  const inner = numel(x.shape.slice(a1 + 1));
  const shape = x.shape.map((d, i) => (i >= a0 && i <= a1 ? 1 : d));
  const out = empty(shape, x.dtype);
  K(x).reduce(op, x.dense(), out.data, outer, len, inner);
  return out;
}
function reduceAxis(op: ReduceOp, x: Tensor, axis: number): Tensor {
  return reduceRun(op, x, axis, axis);
}

function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes.slice();
  return [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Raw (no autograd) reduction over several axes; result keeps dims as size 1. */
function rawReduce(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  if (axes.length === 0) return new Tensor(x.dense().slice(), x.shape);
  // group consecutive axes into runs, each reduced in one pass; last run first keeps indices valid
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else runs.push([a, a]);
  }
  let cur = x;
  for (let i = runs.length - 1; i >= 0; i--) cur = reduceRun(op, cur, runs[i]![0], runs[i]![1]);
  return cur;
}

export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  x.check("sum");
  const ax = normAxes("sum", axes, x.rank);
  const kept = rawReduce("sum", x, ax);
  const out = reshape(kept, keptShape(x.shape, ax, keepDims));
  const inShape = x.shape;
  const keepShape = kept.shape;
  record("sum", [x], [out], ([g]) => [expand(reshape(g!, keepShape), inShape)]);
  return out;
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes("mean", axes, x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return binaryOp("mul", sum(x, ax, keepDims), 1 / count);
}

function extremum(op: "max" | "min", x: Tensor, axis: number, keepDims: boolean): Tensor {
  x.check(op);
  const a = normAxis(op, axis, x.rank);
  if (x.shape[a] === 0) throw new OpError(op, `cannot reduce empty axis ${axis} of ${shapeStr(x.shape)}`);
  const kept = reduceAxis(op, x, a);
  const out = new Tensor(kept.data, keptShape(x.shape, [a], keepDims));
  record(op, [x], [out], ([g]) => {
    // gradient flows to the positions equal to the extremum, shared equally among ties
    const xb = x.dense();
    const m = kept.data;
    const gd = g!.dense();
    const outer = numel(x.shape.slice(0, a));
    const len = x.shape[a]!;
    const inner = numel(x.shape.slice(a + 1));
    const gx = empty(x.shape, x.dtype);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let ties = 0;
        const mv = m[o * inner + i]!;
        for (let l = 0; l < len; l++) if (xb[(o * len + l) * inner + i] === mv) ties++;
        const share = gd[o * inner + i]! / ties;
        for (let l = 0; l < len; l++) if (xb[(o * len + l) * inner + i] === mv) gx.data[(o * len + l) * inner + i] = share;
      }
    return [gx];
  });
  return out;
}

export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  return extremum("max", x, axis, keepDims);
}
export function min(x: Tensor, axis: number, keepDims = false): Tensor {
  return extremum("min", x, axis, keepDims);
}

/** log Σ exp(x) over one axis, stable. Gradient: softmax along the axis. */
export function logsumexp(x: Tensor, axis: number, keepDims = false): Tensor {
  x.check("logsumexp");
  const a = normAxis("logsumexp", axis, x.rank);
  const kept = reduceAxis("logsumexp", x, a);
  const out = new Tensor(kept.data, keptShape(x.shape, [a], keepDims));
  record("logsumexp", [x], [out], ([g]) => {
    const p = binaryOp("sub", x, kept);
    const sm = new Tensor(p.data, p.shape);
    K(x).unary("exp", p.data, sm.data, p.size);
    return [binaryOp("mul", sm, reshape(g!, kept.shape))];
  });
  return out;
}

/** Index of the maximum along an axis (first on ties), as a float tensor of indices. No grad. */
export function argmax(x: Tensor, axis: number, keepDims = false): Int32Array {
  x.check("argmax");
  const a = normAxis("argmax", axis, x.rank);
  const outer = numel(x.shape.slice(0, a));
  const inner = numel(x.shape.slice(a + 1));
  const out = new Int32Array(outer * inner);
  K(x).argmax(x.dense(), out, outer, x.shape[a]!, inner);
  void keepDims;
  return out;
}

/**
 * Sums g over the dims where `shape` was broadcast (the backward of broadcasting/expand).
 * No autograd through this helper's internals beyond what sum records.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new OpError("sumToShape", `cannot reduce ${shapeStr(g.shape)} to larger rank ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) throw new OpError("sumToShape", `cannot reduce ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  }
  return reshape(sum(g, axes, true), shape);
}
