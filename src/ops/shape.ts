/**
 * Shape ops that copy or cut: concat, stack, split/chunk (one multi-output node whose outputs
 * are views), pad, repeatInterleave (GQA's KV-head expansion in naive code), and the triangular
 * masks: tril, triu, and causalMask (causal + sliding-window, as 0/1 or additive −∞).
 *
 * Layout legend: a tensor cut along `axis` is [outer, len, inner] with
 * outer = ∏ shape[:axis], inner = ∏ shape[axis+1:]; each input of a concat contributes a
 * contiguous chunk of len·inner elements per outer index.
 */
import { Tensor } from "../tensor/tensor.js";
import type { Arr, DType } from "../tensor/dtype.js";
import { freeArray } from "../tensor/pool.js";
import { contiguousStrides, normAxis, numel, sameShape, shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, empty, K, uninit, uninitArray } from "./util.js";
import { writeInto } from "./view.js";
import { indexSelect } from "./indexing.js";

/** Interleaves parts: out[o] = part0[o] ‖ part1[o] ‖ … with chunk sizes `chunks` per outer index. */
function joinRaw(parts: Arr[], dtype: DType, outer: number, chunks: readonly number[]): Arr {
  const total = chunks.reduce((s, c) => s + c, 0);
  const out = uninitArray(dtype, outer * total); // the parts cover every element
  let off = 0;
  for (let p = 0; p < parts.length; p++) {
    const src = parts[p]!;
    const c = chunks[p]!;
    if (outer === 1) out.set(src.subarray(0, c), off);
    else for (let o = 0; o < outer; o++) out.set(src.subarray(o * c, (o + 1) * c), o * total + off);
    off += c;
  }
  return out;
}

/** The inverse of joinRaw: part p (only where want[p]) as a fresh contiguous array. */
function cutRaw(g: Arr, dtype: DType, outer: number, chunks: readonly number[], want: readonly boolean[]): (Arr | null)[] {
  const total = chunks.reduce((s, c) => s + c, 0);
  let off = 0;
  return chunks.map((c, p) => {
    const start = off;
    off += c;
    if (!want[p]) return null;
    const out = uninitArray(dtype, outer * c); // written whole below
    if (outer === 1) {
      out.set(g.subarray(start, start + c));
      return out;
    }
    for (let o = 0; o < outer; o++) out.set(g.subarray(o * total + start, o * total + start + c), o * c);
    return out;
  });
}

function joinRecorded(op: string, ts: Tensor[], outShape: number[], outer: number, chunks: number[]): Tensor {
  const dt = ts[0]!.dtype;
  const srcs = ts.map((t) => t.dense());
  const out = new Tensor(joinRaw(srcs, dt, outer, chunks), outShape);
  for (const d of srcs) freeArray(d); // dense() copies (inputs' own storage is left alone)
  record(op, ts, [out], ([g]) => {
    const parts = cutRaw(g!.dense(), dt, outer, chunks, ts.map((t) => t.requiresGrad));
    return parts.map((p, i) => (p ? new Tensor(p, ts[i]!.shape) : null));
  });
  return out;
}

/** Joins tensors along an existing axis; all other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new OpError("concat", "needs at least one tensor");
  const ts = tensors.slice();
  checkInputs("concat", ...ts);
  const first = ts[0]!;
  if (first.rank === 0) throw new OpError("concat", "cannot concatenate scalars (use stack)");
  const a = normAxis("concat", axis, first.rank);
  for (const t of ts)
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]))
      throw new OpError("concat", `shapes ${ts.map((x) => shapeStr(x.shape)).join(", ")} differ outside axis ${axis}`);
  const outer = numel(first.shape.slice(0, a));
  const inner = numel(first.shape.slice(a + 1));
  const outShape = first.shape.slice();
  outShape[a] = ts.reduce((s, t) => s + t.shape[a]!, 0);
  return joinRecorded("concat", ts, outShape, outer, ts.map((t) => t.shape[a]! * inner));
}

/** Joins same-shaped tensors along a new axis (0 ≤ axis ≤ rank). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new OpError("stack", "needs at least one tensor");
  const ts = tensors.slice();
  checkInputs("stack", ...ts);
  const first = ts[0]!;
  const a = normAxis("stack", axis, first.rank + 1);
  for (const t of ts) if (!sameShape(t.shape, first.shape)) throw new OpError("stack", `shapes differ: ${ts.map((x) => shapeStr(x.shape)).join(", ")}`);
  const outer = numel(first.shape.slice(0, a));
  const chunk = numel(first.shape.slice(a));
  const outShape = first.shape.slice();
  outShape.splice(a, 0, ts.length);
  return joinRecorded("stack", ts, outShape, outer, ts.map(() => chunk));
}

/**
 * Cuts x along `axis` into pieces of the given sizes (or of `chunkSize` each, the last smaller).
 * The pieces are views of x; they are the outputs of one node whose backward writes every
 * piece's gradient into one buffer (zeros where a piece got none).
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  x.check("split");
  const a = normAxis("split", axis, x.rank);
  const len = x.shape[a]!;
  let sz: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new OpError("split", `chunk size ${sizes} must be a positive integer (input ${shapeStr(x.shape)})`);
    sz = [];
    for (let s = 0; s < len; s += sizes) sz.push(Math.min(sizes, len - s));
    if (len === 0) sz.push(0);
  } else {
    sz = sizes.slice();
    if (sz.some((s) => !Number.isInteger(s) || s < 0) || sz.reduce((p, s) => p + s, 0) !== len)
      throw new OpError("split", `sizes [${sz.join(", ")}] do not sum to ${len}, the size of axis ${axis} of ${shapeStr(x.shape)}`);
  }
  const sa = x.strides[a]!;
  let start = 0;
  const starts: number[] = [];
  const pieces = sz.map((s) => {
    const shape = x.shape.slice();
    shape[a] = s;
    starts.push(start);
    const v = new Tensor(x.data, shape, x.strides, x.offset + start * sa);
    start += s;
    return v;
  });
  const xShape = x.shape;
  record("split", [x], pieces, (gs) => {
    const gx = gs.every((g) => g) ? uninit(xShape, x.dtype) : empty(xShape, x.dtype); // zeros only where a piece got no gradient
    const cs = contiguousStrides(xShape);
    gs.forEach((g, i) => {
      if (g) writeInto(new Tensor(gx.data, g.shape, cs, starts[i]! * cs[a]!), g);
    });
    return [gx];
  });
  return pieces;
}

/** n pieces of ⌈len/n⌉ along axis (the last smaller; fewer pieces when len is small), as torch.chunk. */
export function chunk(x: Tensor, n: number, axis = 0): Tensor[] {
  x.check("chunk");
  const a = normAxis("chunk", axis, x.rank);
  if (!Number.isInteger(n) || n <= 0) throw new OpError("chunk", `number of chunks ${n} must be a positive integer (input ${shapeStr(x.shape)})`);
  return split(x, Math.max(1, Math.ceil(x.shape[a]! / n)), a);
}

/**
 * Pads the trailing axes: pads[i] = [before, after] applies to axis rank − pads.length + i
 * (so `pad(x, [[1, 2]])` pads the last axis, `pad(x, [[3, 0], [0, 0]])` the second-to-last).
 * New cells hold `value`. Grad: the matching slice of g.
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  x.check("pad");
  if (pads.length > x.rank) throw new OpError("pad", `${pads.length} [before, after] pairs for input ${shapeStr(x.shape)} of rank ${x.rank}`);
  const lead = x.rank - pads.length;
  const outShape = x.shape.slice();
  const before = new Array<number>(x.rank).fill(0);
  pads.forEach(([b, e], i) => {
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0)
      throw new OpError("pad", `pad [${b}, ${e}] for axis ${lead + i} must be non-negative integers (input ${shapeStr(x.shape)})`);
    before[lead + i] = b;
    outShape[lead + i] = x.shape[lead + i]! + b + e;
  });
  const out = empty(outShape, x.dtype);
  if (value !== 0) out.data.fill(value);
  const os = contiguousStrides(outShape);
  const origin = before.reduce((s, b, d) => s + b * os[d]!, 0); // flat offset of x's [0, …, 0] in out
  const inner = new Tensor(out.data, x.shape, os, origin);
  writeInto(inner, x);
  inner.recycle(); // a scratch view: out's storage must not count it as a user
  record("pad", [x], [out], ([g]) => {
    const gx = empty(x.shape, g!.dtype);
    K(gx).copyStrided(g!.dense(), origin, x.shape, os, gx.data);
    return [gx];
  });
  return out;
}

/** Each slice along `axis` repeated `repeats` times in place (a,a,b,b,…): KV heads → query heads. */
export function repeatInterleave(x: Tensor, repeats: number, axis: number): Tensor {
  x.check("repeatInterleave");
  const a = normAxis("repeatInterleave", axis, x.rank);
  if (!Number.isInteger(repeats) || repeats < 1) throw new OpError("repeatInterleave", `repeats ${repeats} must be a positive integer (input ${shapeStr(x.shape)})`);
  if (repeats === 1) return x;
  const len = x.shape[a]!;
  const ids = new Int32Array(len * repeats);
  for (let i = 0; i < ids.length; i++) ids[i] = Math.floor(i / repeats);
  return indexSelect(x, a, ids);
}

// ---- triangular masks ---------------------------------------------------------------------------

/** Zeroes, over the last two dims [R, C], cells with keep(j − i) false; shared by tril/triu and their grads. */
function triRaw(xd: Arr, out: Arr, batch: number, rows: number, cols: number, lower: boolean, k: number): void {
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < rows; i++) {
      const base = (b * rows + i) * cols;
      for (let j = 0; j < cols; j++) {
        const keep = lower ? j - i <= k : j - i >= k;
        out[base + j] = keep ? xd[base + j]! : 0;
      }
    }
}

function tri(op: string, x: Tensor, k: number, lower: boolean): Tensor {
  x.check(op);
  if (x.rank < 2) throw new OpError(op, `needs rank ≥ 2, got ${shapeStr(x.shape)}`);
  const rows = x.shape[x.rank - 2]!;
  const cols = x.shape[x.rank - 1]!;
  const batch = numel(x.shape.slice(0, -2));
  const out = empty(x.shape, x.dtype);
  triRaw(x.dense(), out.data, batch, rows, cols, lower, k);
  record(op, [x], [out], ([g]) => {
    const gx = empty(x.shape, g!.dtype);
    triRaw(g!.dense(), gx.data, batch, rows, cols, lower, k);
    return [gx];
  });
  return out;
}

/** Keeps cells on and below diagonal k (j − i ≤ k) of the last two dims, zeroes the rest. */
export function tril(x: Tensor, k = 0): Tensor {
  return tri("tril", x, k, true);
}
/** Keeps cells on and above diagonal k (j − i ≥ k) of the last two dims, zeroes the rest. */
export function triu(x: Tensor, k = 0): Tensor {
  return tri("triu", x, k, false);
}

export interface CausalMaskOptions {
  /** Number of keys (default qStart + T). */
  keys?: number;
  /** Absolute position of query 0 (decode with a cache: the cache length). Default 0. */
  qStart?: number;
  /** Sliding window: key j is visible from position p only if p − j < window (0 = unlimited). */
  window?: number;
  /** true: 0 where visible and −∞ where hidden (add before softmax); false: 1/0. Default false. */
  additive?: boolean;
  dtype?: DType;
}

/**
 * The [T, keys] attention mask of the fused attention kernel: query i sits at p = qStart + i and
 * sees key j iff j ≤ p and (window = 0 or p − j < window).
 */
export function causalMask(T: number, opts: CausalMaskOptions = {}): Tensor {
  const qStart = opts.qStart ?? 0;
  const keys = opts.keys ?? qStart + T;
  const window = opts.window ?? 0;
  for (const [name, v] of [["T", T], ["keys", keys], ["qStart", qStart], ["window", window]] as const)
    if (!Number.isInteger(v) || v < 0) throw new OpError("causalMask", `${name} = ${v} must be a non-negative integer`);
  const out = empty([T, keys], opts.dtype ?? "float32");
  const on = opts.additive ? 0 : 1;
  const off = opts.additive ? -Infinity : 0;
  for (let i = 0; i < T; i++) {
    const p = qStart + i;
    for (let j = 0; j < keys; j++) out.data[i * keys + j] = j <= p && (window === 0 || p - j < window) ? on : off;
  }
  return out;
}

