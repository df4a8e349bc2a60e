/**
 * Indexing ops: gather / scatterAdd (PyTorch `torch.gather` / `Tensor.scatter_add` semantics),
 * indexSelect / indexAdd (whole rows along an axis: embedding-style gather and scatter-add, the
 * token dispatch/combine of MoE), topk, argsort, cumsum, and maskedFill.
 *
 * Index arguments are Int32Array (never differentiated). Every index is range-checked and an
 * error names the op, the bad value and its position. Row ops (indexSelect/indexAdd) run on the
 * `embedding`/`embeddingBackward` kernels; the element-wise ones are TypeScript loops over
 * contiguous data, O(n) (topk O(n log k), argsort O(n log n)).
 *
 * Layout legend: a tensor viewed along `axis` is [outer, len, inner] with
 * outer = ∏ shape[:axis], len = shape[axis], inner = ∏ shape[axis+1:].
 */
import { Tensor } from "../tensor/tensor.js";
import { broadcastShapes, broadcastStrides, contiguousStrides, normAxis, numel, sameShape, shapeStr, type Shape } from "../tensor/shape.js";
import type { Arr } from "../tensor/dtype.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, copyOf, empty, K, uninit } from "./util.js";

/** An index tensor: Int32 data with a shape (a bare Int32Array takes a shape implied by the op). */
export type IndexArg = Int32Array | { data: Int32Array; shape: Shape };

function split3(shape: Shape, axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis]!, numel(shape.slice(axis + 1))];
}

/** Multi-index of flat position p in a row-major shape, as "[i, j, k]". */
function positionStr(shape: Shape, p: number): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const s = shape[d]!;
    idx[d] = s === 0 ? 0 : p % s;
    p = s === 0 ? 0 : Math.floor(p / s);
  }
  return `[${idx.join(", ")}]`;
}

/** Throws unless every index is in [0, len). */
function checkRange(op: string, ids: Int32Array, idShape: Shape, len: number, context: string): void {
  for (let p = 0; p < ids.length; p++) {
    const v = ids[p]!;
    if (v < 0 || v >= len)
      throw new OpError(op, `index ${v} at position ${positionStr(idShape, p)} is out of range [0, ${len}) (${context})`);
  }
}

/** Resolves an index argument; a bare Int32Array gets `impliedShape`. */
function indexShape(op: string, index: IndexArg, impliedShape: Shape): { data: Int32Array; shape: Shape } {
  if (index instanceof Int32Array) {
    if (index.length !== numel(impliedShape))
      throw new OpError(op, `index of length ${index.length} does not fill the implied index shape ${shapeStr(impliedShape)}; pass {data, shape}`);
    return { data: index, shape: impliedShape };
  }
  if (index.data.length !== numel(index.shape))
    throw new OpError(op, `index data of length ${index.data.length} does not fill its shape ${shapeStr(index.shape)}`);
  return index;
}

/**
 * Element-wise gather/scatter over an index of shape `idxShape` into a contiguous tensor `x` of
 * rank equal to the index rank (index dims may be smaller than x's off the axis):
 *   gather:  vals[p] = x[i_0, …, ids[p], …, i_r]
 *   scatter: x[i_0, …, ids[p], …, i_r] += vals[p]
 * An odometer walks the index positions keeping the x offset of the non-axis coordinates.
 */
function walk(scatter: boolean, x: Arr, xShape: Shape, axis: number, ids: Int32Array, idxShape: Shape, vals: Arr): void {
  const r = idxShape.length;
  const n = ids.length;
  if (n === 0) return;
  const xs = contiguousStrides(xShape);
  const sa = xs[axis]!;
  const step = xs.slice();
  step[axis] = 0;
  const last = r - 1;
  const lastLen = idxShape[last]!;
  const lastStep = step[last]!;
  const idx = new Array<number>(r).fill(0);
  let base = 0;
  for (let p = 0; p < n; ) {
    // innermost run along the last index dim
    for (let j = 0; j < lastLen; j++, p++) {
      const at = base + j * lastStep + ids[p]! * sa;
      if (scatter) x[at] = x[at]! + vals[p]!;
      else vals[p] = x[at]!;
    }
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      base += step[d]!;
      if (idx[d]! < idxShape[d]!) break;
      base -= idx[d]! * step[d]!;
      idx[d] = 0;
    }
  }
}

function checkGatherShapes(op: string, xShape: Shape, axis: number, idxShape: Shape, what: string): void {
  if (idxShape.length !== xShape.length)
    throw new OpError(op, `index of shape ${shapeStr(idxShape)} must have the rank of ${what} ${shapeStr(xShape)}`);
  for (let d = 0; d < xShape.length; d++)
    if (d !== axis && idxShape[d]! > xShape[d]!)
      throw new OpError(op, `index of shape ${shapeStr(idxShape)} exceeds ${what} ${shapeStr(xShape)} at dim ${d} (only the gather axis ${axis} may differ freely)`);
}

/**
 * out[i][j][k] = x[i][index[i][j][k]][k] (for axis = 1): torch.gather. The output has the
 * index's shape. A bare Int32Array index takes x's shape with the axis length inferred.
 * Grad: scatter-add of the output gradient into zeros of x's shape.
 */
export function gather(x: Tensor, axis: number, index: IndexArg): Tensor {
  x.check("gather");
  const a = normAxis("gather", axis, x.rank);
  let implied: Shape = x.shape;
  if (index instanceof Int32Array) {
    const others = numel(x.shape.filter((_, d) => d !== a));
    if (others === 0 || index.length % others !== 0)
      throw new OpError("gather", `bare index of length ${index.length} cannot be laid over input ${shapeStr(x.shape)} along axis ${axis}; pass {data, shape}`);
    implied = x.shape.map((s, d) => (d === a ? index.length / others : s));
  }
  const idx = indexShape("gather", index, implied);
  checkGatherShapes("gather", x.shape, a, idx.shape, "input");
  checkRange("gather", idx.data, idx.shape, x.shape[a]!, `axis ${axis} of input ${shapeStr(x.shape)}, index ${shapeStr(idx.shape)}`);
  const out = empty(idx.shape, x.dtype);
  walk(false, x.dense(), x.shape, a, idx.data, idx.shape, out.data);
  const xShape = x.shape;
  record("gather", [x], [out], ([g]) => {
    const gx = empty(xShape, g!.dtype);
    walk(true, gx.data, xShape, a, idx.data, idx.shape, g!.dense());
    return [gx];
  });
  return out;
}

/**
 * Out-of-place scatter-add: out = base, then out[i][index[i][j][k]][k] += src[i][j][k] (axis 1).
 * index has src's shape (a bare Int32Array is taken so). Grads: base ← g, src ← gather(g, index).
 */
export function scatterAdd(base: Tensor, axis: number, index: IndexArg, src: Tensor): Tensor {
  checkInputs("scatterAdd", base, src);
  const a = normAxis("scatterAdd", axis, base.rank);
  const idx = indexShape("scatterAdd", index, src.shape);
  if (!sameShape(idx.shape, src.shape))
    throw new OpError("scatterAdd", `index ${shapeStr(idx.shape)} and src ${shapeStr(src.shape)} must have the same shape`);
  checkGatherShapes("scatterAdd", base.shape, a, idx.shape, "base");
  checkRange("scatterAdd", idx.data, idx.shape, base.shape[a]!, `axis ${axis} of base ${shapeStr(base.shape)}, index ${shapeStr(idx.shape)}`);
  const out = copyOf(base);
  walk(true, out.data, base.shape, a, idx.data, idx.shape, src.dense());
  record("scatterAdd", [base, src], [out], ([g]) => {
    let gSrc: Tensor | null = null;
    if (src.requiresGrad) {
      gSrc = empty(src.shape, g!.dtype);
      walk(false, g!.dense(), base.shape, a, idx.data, idx.shape, gSrc.data);
    }
    return [base.requiresGrad ? g! : null, gSrc];
  });
  return out;
}

/** Row gather along an axis: [outer, len, inner] → [outer, ids.length, inner] (no checks). */
function selectRaw(x: Tensor, a: number, ids: Int32Array): Tensor {
  const [outer, len, inner] = split3(x.shape, a);
  const n = ids.length;
  const shape = x.shape.slice();
  shape[a] = n;
  const out = uninit(shape, x.dtype); // every row is copied
  const xd = x.dense();
  const kern = K(x);
  // one kernel call over all outer slices: row o·len + ids[i] of the [outer·len, inner] view
  kern.embedding(xd, outer === 1 ? ids : outerIds(ids, outer, len), out.data, outer * n, inner);
  return out;
}

/** Row scatter-add: target[outer, ids[i], inner] += src[outer, i, inner] (target contiguous, owned). */
function addRowsRaw(target: Tensor, a: number, ids: Int32Array, src: Arr): void {
  const [outer, len, inner] = split3(target.shape, a);
  const n = ids.length;
  const kern = K(target);
  kern.embeddingBackward(src, outer === 1 ? ids : outerIds(ids, outer, len), target.data, outer * n, inner);
}

/** ids repeated for each outer slice and offset into the flattened [outer·len] rows: o·len + ids[i]. */
function outerIds(ids: Int32Array, outer: number, len: number): Int32Array {
  const n = ids.length;
  const all = new Int32Array(outer * n);
  for (let o = 0; o < outer; o++) for (let i = 0; i < n; i++) all[o * n + i] = o * len + ids[i]!;
  return all;
}

/**
 * Whole slices along `axis` picked by ids (repeats allowed): out.shape[axis] = ids.length.
 * On axis 0 of a [N, D] matrix this is an embedding lookup / MoE token dispatch.
 * Grad: rows scatter-added back (embeddingBackward).
 */
export function indexSelect(x: Tensor, axis: number, ids: Int32Array): Tensor {
  x.check("indexSelect");
  const a = normAxis("indexSelect", axis, x.rank);
  checkRange("indexSelect", ids, [ids.length], x.shape[a]!, `axis ${axis} of input ${shapeStr(x.shape)}`);
  const out = selectRaw(x, a, ids);
  const xShape = x.shape;
  record("indexSelect", [x], [out], ([g]) => {
    const gx = empty(xShape, g!.dtype);
    addRowsRaw(gx, a, ids, g!.dense());
    return [gx];
  });
  return out;
}

/**
 * Out-of-place row scatter-add: out = base; out[…, ids[i], …] += src[…, i, …] along `axis`
 * (the MoE combine step). src has base's shape with src.shape[axis] = ids.length.
 * Grads: base ← g, src ← indexSelect(g, axis, ids).
 */
export function indexAdd(base: Tensor, axis: number, ids: Int32Array, src: Tensor): Tensor {
  checkInputs("indexAdd", base, src);
  const a = normAxis("indexAdd", axis, base.rank);
  const want = base.shape.slice();
  want[a] = ids.length;
  if (!sameShape(src.shape, want))
    throw new OpError("indexAdd", `src ${shapeStr(src.shape)} must be ${shapeStr(want)} for base ${shapeStr(base.shape)} and ${ids.length} ids on axis ${axis}`);
  checkRange("indexAdd", ids, [ids.length], base.shape[a]!, `axis ${axis} of base ${shapeStr(base.shape)}`);
  const out = copyOf(base);
  addRowsRaw(out, a, ids, src.dense());
  record("indexAdd", [base, src], [out], ([g]) => [base.requiresGrad ? g! : null, src.requiresGrad ? selectRaw(g!, a, ids) : null]);
  return out;
}

// ---- ordering: NaN counts as larger than every number (as in PyTorch); ties keep index order ----

/** a ranks above b in descending order. */
function above(a: number, b: number): boolean {
  return a > b || (a !== a && b === b);
}

export interface TopkResult {
  /** The k selected values along the axis (differentiable: the gradient scatters back). */
  values: Tensor;
  /** Their positions along the axis, laid out like `values`. */
  indices: Int32Array;
}

/**
 * The k largest (or smallest) entries along an axis, best first; ties go to the lower index.
 * Bounded heap per line: O(len·log k).
 */
export function topk(x: Tensor, k: number, axis = -1, opts: { largest?: boolean } = {}): TopkResult {
  x.check("topk");
  const a = normAxis("topk", axis, x.rank);
  const [outer, len, inner] = split3(x.shape, a);
  if (!Number.isInteger(k) || k < 0 || k > len) throw new OpError("topk", `k = ${k} out of range [0, ${len}] for axis ${axis} of ${shapeStr(x.shape)}`);
  const largest = opts.largest ?? true;
  // better(i, j): element i should come before element j
  const xd = x.dense();
  const shape = x.shape.slice();
  shape[a] = k;
  const indices = new Int32Array(outer * k * inner);
  const heap = new Int32Array(k); // root = the worst of the kept k
  let lineBase = 0;
  const better = (i: number, j: number): boolean => {
    const vi = xd[lineBase + i * inner]!;
    const vj = xd[lineBase + j * inner]!;
    if (largest ? above(vi, vj) : above(vj, vi)) return true;
    if (largest ? above(vj, vi) : above(vi, vj)) return false;
    return i < j;
  };
  const siftDown = (size: number, at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      if (l >= size) return;
      const r = l + 1;
      const w = r < size && better(heap[l]!, heap[r]!) ? r : l; // the worse child
      if (!better(heap[at]!, heap[w]!)) return;
      const t = heap[at]!;
      heap[at] = heap[w]!;
      heap[w] = t;
      at = w;
    }
  };
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < inner; c++) {
      lineBase = o * len * inner + c;
      if (k === 0) continue;
      for (let i = 0; i < k; i++) heap[i] = i;
      for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(k, i);
      for (let i = k; i < len; i++)
        if (better(i, heap[0]!)) {
          heap[0] = i;
          siftDown(k, 0);
        }
      // pop worst-first into the tail: yields best-first order
      const outBase = o * k * inner + c;
      for (let size = k; size > 0; size--) {
        indices[outBase + (size - 1) * inner] = heap[0]!;
        heap[0] = heap[size - 1]!;
        siftDown(size - 1, 0);
      }
    }
  const values = empty(shape, x.dtype);
  walk(false, xd, x.shape, a, indices, shape, values.data);
  const xShape = x.shape;
  record("topk", [x], [values], ([g]) => {
    const gx = empty(xShape, g!.dtype);
    walk(true, gx.data, xShape, a, indices, shape, g!.dense());
    return [gx];
  });
  return { values, indices };
}

/**
 * Positions that sort each line along `axis` (stable: equal values keep their order; NaN sorts
 * as the largest). Returns Int32 indices laid out like x. Not differentiable (use gather).
 */
export function argsort(x: Tensor, axis = -1, opts: { descending?: boolean } = {}): Int32Array {
  x.check("argsort");
  const a = normAxis("argsort", axis, x.rank);
  const [outer, len, inner] = split3(x.shape, a);
  const desc = opts.descending ?? false;
  const xd = x.dense();
  const out = new Int32Array(x.size);
  const vals = new Float64Array(len);
  const ids = new Int32Array(len);
  const cmp = (i: number, j: number): number => {
    const vi = vals[i]!;
    const vj = vals[j]!;
    if (desc ? above(vi, vj) : above(vj, vi)) return -1;
    if (desc ? above(vj, vi) : above(vi, vj)) return 1;
    return i - j;
  };
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < inner; c++) {
      const base = o * len * inner + c;
      for (let i = 0; i < len; i++) {
        vals[i] = xd[base + i * inner]!;
        ids[i] = i;
      }
      ids.sort(cmp);
      for (let i = 0; i < len; i++) out[base + i * inner] = ids[i]!;
    }
  return out;
}

/** Running sum along an axis, or its reverse (the gradient of cumsum). */
function cumsumRaw(xd: Arr, out: Arr, outer: number, len: number, inner: number, reverse: boolean): void {
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < inner; c++) {
      const base = o * len * inner + c;
      let s = 0;
      if (!reverse)
        for (let i = 0; i < len; i++) {
          s += xd[base + i * inner]!;
          out[base + i * inner] = s;
        }
      else
        for (let i = len - 1; i >= 0; i--) {
          s += xd[base + i * inner]!;
          out[base + i * inner] = s;
        }
    }
}

/** out[…, i, …] = Σ_{j ≤ i} x[…, j, …] along `axis` (sums in double). Grad: reverse cumsum. */
export function cumsum(x: Tensor, axis: number): Tensor {
  x.check("cumsum");
  const a = normAxis("cumsum", axis, x.rank);
  const [outer, len, inner] = split3(x.shape, a);
  const out = empty(x.shape, x.dtype);
  cumsumRaw(x.dense(), out.data, outer, len, inner, false);
  record("cumsum", [x], [out], ([g]) => {
    const gx = empty(x.shape, g!.dtype);
    cumsumRaw(g!.dense(), gx.data, outer, len, inner, true);
    return [gx];
  });
  return out;
}

/**
 * x with `value` wherever mask ≠ 0; the mask (any float dtype, 0/1) broadcasts to x's shape.
 * Grad: g where the mask is 0, else 0 (no grad to the mask).
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  x.check("maskedFill");
  mask.check("maskedFill");
  const bs = broadcastShapes("maskedFill", mask.shape, x.shape);
  if (!sameShape(bs, x.shape)) throw new OpError("maskedFill", `mask ${shapeStr(mask.shape)} does not broadcast to input ${shapeStr(x.shape)}`);
  let m: Arr = mask.dense();
  if (!sameShape(mask.shape, x.shape)) {
    const em = empty(x.shape, mask.dtype);
    K(mask).copyStrided(m, 0, x.shape, broadcastStrides(mask.shape, contiguousStrides(mask.shape), x.shape), em.data);
    m = em.data;
  }
  const xd = x.dense();
  const out = empty(x.shape, x.dtype);
  const n = x.size;
  for (let i = 0; i < n; i++) out.data[i] = m[i] !== 0 ? value : xd[i]!;
  record("maskedFill", [x], [out], ([g]) => {
    const gd = g!.dense();
    const gx = empty(x.shape, g!.dtype);
    for (let i = 0; i < n; i++) gx.data[i] = m[i] !== 0 ? 0 : gd[i]!;
    return [gx];
  });
  return out;
}
