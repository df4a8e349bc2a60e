/**
 * Matrix multiply with batch broadcasting: a [..., m, k] @ b [..., k, n] → [..., m, n].
 * Transposed operands (e.g. from `transpose`) are passed to gemm as transposes, not copied.
 * A rank-2 b against a batched a is folded into one large gemm (the linear-layer case).
 */
import { Tensor } from "../tensor/tensor.js";
import { broadcastShapes, numel, shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, empty, K, uninit } from "./util.js";
import { contiguous, reshape, transpose } from "./view.js";
import { sumToShape } from "./reduce.js";

/** For the last two dims: is the matrix row-major contiguous, or a transposed row-major one? */
function matLayout(t: Tensor): { trans: boolean; ld: number } | null {
  const r = t.rank;
  const rows = t.shape[r - 2]!;
  const cols = t.shape[r - 1]!;
  const sr = t.strides[r - 2]!;
  const sc = t.strides[r - 1]!;
  if ((sc === 1 || cols === 1) && (sr === cols || rows === 1)) return { trans: false, ld: Math.max(cols, 1) };
  if ((sr === 1 || rows === 1) && (sc === rows || cols === 1)) return { trans: true, ld: Math.max(rows, 1) };
  return null;
}

/** Batch dims must be packed with a constant stride between matrices; returns that stride or null. */
function batchStride(t: Tensor, batch: number): number | null {
  const r = t.rank;
  if (r === 2) return 0;
  const bshape = t.shape.slice(0, r - 2);
  const bstr = t.strides.slice(0, r - 2);
  const matSize = t.shape[r - 2]! * t.shape[r - 1]!;
  // packed batch: strides are contiguous multiples of the matrix size
  let expected = matSize;
  for (let i = bshape.length - 1; i >= 0; i--) {
    if (bshape[i] !== 1 && bstr[i] !== expected) return null;
    expected *= bshape[i]!;
  }
  void batch;
  return matSize;
}

function prep(t: Tensor): { t: Tensor; trans: boolean; ld: number } {
  let lay = matLayout(t);
  let src = t;
  if (!lay || batchStride(t, 0) === null) {
    src = contiguous(t);
    lay = matLayout(src)!;
  }
  return { t: src, ...lay };
}

/** Raw matmul (no autograd). a [..., m, k], b [..., k, n]. */
function matmulRaw(a: Tensor, b: Tensor): Tensor {
  const m = a.shape[a.rank - 2]!;
  const k = a.shape[a.rank - 1]!;
  const n = b.shape[b.rank - 1]!;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchShape = broadcastShapes("matmul", batchA, batchB);
  const outShape = [...batchShape, m, n];
  const out = uninit(outShape, a.dtype); // gemm with beta = 0 writes every element
  const kern = K(a);
  const nb = numel(batchShape);
  if (nb === 0 || m === 0 || n === 0) return out;
  // linear-layer case: b is one matrix, a's batch folds into rows
  if (b.rank === 2 && a.rank >= 2) {
    let pa = prep(a);
    if (pa.trans && a.rank > 2) pa = { t: contiguous(a), trans: false, ld: k };
    const pb = prep(b);
    kern.gemm(pa.trans, pb.trans, nb * m, n, k, 1, pa.t.data, pa.t.offset, pa.trans ? pa.ld : k, pb.t.data, pb.t.offset, pb.ld, 0, out.data, 0, n);
    return out;
  }
  const ea = batchA.length === batchShape.length && batchA.every((d, i) => d === batchShape[i]) ? a : expandBatch(a, batchShape);
  const eb = batchB.length === batchShape.length && batchB.every((d, i) => d === batchShape[i]) ? b : expandBatch(b, batchShape);
  const pa = prep(ea);
  const pb = prep(eb);
  const sa = batchStride(pa.t, nb)!;
  const sb = batchStride(pb.t, nb)!;
  kern.gemmBatched(nb, pa.trans, pb.trans, m, n, k, 1, pa.t.data, pa.t.offset, pa.t.rank === 2 ? 0 : sa, pa.ld, pb.t.data, pb.t.offset, pb.t.rank === 2 ? 0 : sb, pb.ld, 0, out.data, 0, m * n, n);
  return out;
}

/** Materialises a batch-broadcast operand (rank-2 operands are passed with stride 0 instead). */
function expandBatch(t: Tensor, batchShape: number[]): Tensor {
  if (t.rank === 2) return t;
  const shape = [...batchShape, t.shape[t.rank - 2]!, t.shape[t.rank - 1]!];
  const out = empty(shape, t.dtype);
  const off = shape.length - t.rank;
  const strides = shape.map((d, i) => (i < off ? 0 : t.shape[i - off] === 1 && d !== 1 ? 0 : t.strides[i - off]!));
  K(t).copyStrided(t.data, t.offset, shape, strides, out.data);
  return out;
}

/** A contiguous copy of a strided t, outside the graph. */
function contiguousCopy(t: Tensor): Tensor {
  const d = t.detach();
  const c = contiguous(d);
  d.recycle(); // a scratch view: t's storage must not count it as a user
  return c;
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  checkInputs("matmul", a, b);
  if (a.rank < 1 || b.rank < 1) throw new OpError("matmul", `needs tensors of rank ≥ 1, got ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  // vectors: promote like NumPy
  if (a.rank === 1) return reshape(matmul(reshape(a, [1, a.shape[0]!]), b), b.rank === 1 ? [] : [...b.shape.slice(0, -2), b.shape[b.rank - 1]!]);
  if (b.rank === 1) return reshape(matmul(a, reshape(b, [b.shape[0]!, 1])), a.shape.slice(0, -1));
  const k = a.shape[a.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) throw new OpError("matmul", `inner dims differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} (${k} vs ${b.shape[b.rank - 2]})`);
  const out = matmulRaw(a, b);
  record("matmul", [a, b], [out], ([g]) => {
    const ga = a.requiresGrad ? sumToShape(matmulRaw(g!, transpose(b.detach())), a.shape) : null;
    const gb = b.requiresGrad ? sumToShape(matmulRaw(transpose(a.detach()), g!), b.shape) : null;
    return [ga, gb];
  });
  return out;
}

/**
 * y = x·Wᵀ + b for x [..., in], W [out, in] (PyTorch's Linear layout), b [out] or null.
 * Fused: one gemm for y, and in backward one gemm each for gx and gW (no transposed copies).
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  checkInputs("linear", x, w, ...(b ? [b] : []));
  const inF = x.shape[x.rank - 1]!;
  if (w.rank !== 2 || w.shape[1] !== inF)
    throw new OpError("linear", `weight ${shapeStr(w.shape)} does not match input ${shapeStr(x.shape)} (expected [out, ${inF}])`);
  const outF = w.shape[0]!;
  if (b && (b.rank !== 1 || b.shape[0] !== outF)) throw new OpError("linear", `bias ${shapeStr(b.shape)} does not match weight ${shapeStr(w.shape)}`);
  const rows = x.size / Math.max(inF, 1);
  const xc = x.isContiguous() ? x : contiguousCopy(x);
  const wc = w.isContiguous() ? w : contiguousCopy(w);
  const outShape = [...x.shape.slice(0, -1), outF];
  const out = uninit(outShape, x.dtype);
  const kern = K(x);
  if (b && rows > 0) {
    // broadcast the bias into every row (then gemm accumulates with beta = 1): one row, then doubling copies
    out.data.set(b.dense(), 0);
    const total = rows * outF;
    for (let len = outF; len < total; len *= 2) out.data.copyWithin(len, 0, Math.min(len, total - len));
  }
  kern.gemm(false, true, rows, outF, inF, 1, xc.data, xc.offset, inF, wc.data, wc.offset, inF, b ? 1 : 0, out.data, 0, outF);
  record("linear", [x, w, b], [out], ([g]) => {
    const gd = g!.dense();
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = uninit(x.shape, x.dtype);
      kern.gemm(false, false, rows, inF, outF, 1, gd, 0, outF, wc.data, wc.offset, inF, 0, gx.data, 0, inF);
    }
    if (w.requiresGrad) {
      gw = uninit(w.shape, w.dtype);
      kern.gemm(true, false, outF, inF, rows, 1, gd, 0, outF, xc.data, xc.offset, inF, 0, gw.data, 0, inF);
    }
    if (b && b.requiresGrad) {
      gb = empty(b.shape, b.dtype);
      kern.reduce("sum", gd, gb.data, 1, rows, outF);
    }
    return [gx, gw, gb];
  }, { saved: [xc === x ? null : xc, wc === w ? null : wc] }); // strided inputs' copies
  return out;
}
