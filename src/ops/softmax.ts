/**
 * Softmax family: softmax, logSoftmax (any axis) and fused cross-entropy over the last axis.
 *
 * The kernels work on the last axis of a contiguous [R, C] view; another axis is moved last by
 * permute + contiguous and moved back afterwards (two copies, each recorded for autograd).
 * crossEntropy is one fused node: the forward keeps only the per-row log-sum-exp, the backward
 * rebuilds softmax − onehot row by row (no [R, C] probabilities are saved).
 */
import { Tensor } from "../tensor/tensor.js";
import { normAxis, shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { empty, K, uninit } from "./util.js";
import { contiguous, permute } from "./view.js";

/** Applies `fn` (an op over the last axis) along `axis` by moving that axis last and back. */
function alongAxis(op: string, x: Tensor, axis: number, fn: (t: Tensor) => Tensor): Tensor {
  x.check(op);
  if (x.rank === 0) throw new OpError(op, "needs a tensor of rank ≥ 1, got a scalar");
  const a = normAxis(op, axis, x.rank);
  if (a === x.rank - 1) return fn(x);
  const perm = Array.from({ length: x.rank }, (_, i) => i).filter((i) => i !== a);
  perm.push(a);
  const inv = new Array<number>(x.rank);
  perm.forEach((p, i) => (inv[p] = i));
  return contiguous(permute(fn(contiguous(permute(x, perm))), inv));
}

function lastAxis(op: "softmax" | "logSoftmax", x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1]!;
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = uninit(x.shape, x.dtype); // row kernels write every element
  const kern = K(x);
  if (op === "softmax") kern.softmax(x.dense(), out.data, rows, cols);
  else kern.logSoftmax(x.dense(), out.data, rows, cols);
  record(op, [x], [out], ([g]) => {
    const gx = uninit(x.shape, x.dtype);
    if (op === "softmax") kern.softmaxBackward(out.data, g!.dense(), gx.data, rows, cols);
    else kern.logSoftmaxBackward(out.data, g!.dense(), gx.data, rows, cols);
    return [gx];
  });
  return out;
}

/** exp(x − logsumexp(x)) along `axis` (default last). Same shape as x. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return alongAxis("softmax", x, axis, (t) => lastAxis("softmax", t));
}

/** x − logsumexp(x) along `axis` (default last), computed stably. Same shape as x. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return alongAxis("logSoftmax", x, axis, (t) => lastAxis("logSoftmax", t));
}

export interface CrossEntropyOptions {
  /** Rows whose target equals this contribute no loss and no gradient (default −100, as PyTorch). */
  ignoreIndex?: number;
  /** "mean" over the rows not ignored (default), "sum", or "none" (per-row losses, shape logits[:-1]). */
  reduction?: "mean" | "sum" | "none";
  /**
   * ε ∈ [0, 1): the target distribution becomes (1−ε)·onehot + ε/C, so per row
   * loss = (1−ε)·(lse − x_t) + ε·(lse − mean_j x_j) (PyTorch's `label_smoothing`).
   */
  labelSmoothing?: number;
}

/**
 * Fused softmax cross-entropy: logits [..., C] (usually [N, V]), targets of length
 * numel(logits)/C (row-major over the leading dims). Returns a scalar for "mean"/"sum" and
 * logits.shape[:-1] for "none".
 *
 * "mean" divides by the number of rows whose target is not `ignoreIndex`; when every row is
 * ignored the mean of zero rows is defined as 0 (with zero gradient), not NaN.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array | readonly number[], opts: CrossEntropyOptions = {}): Tensor {
  const op = "crossEntropy";
  logits.check(op);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? "mean";
  const eps = opts.labelSmoothing ?? 0;
  if (logits.rank < 1) throw new OpError(op, `logits must have rank ≥ 1 (…, C), got ${shapeStr(logits.shape)}`);
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") throw new OpError(op, `unknown reduction '${String(reduction)}' (mean | sum | none)`);
  if (!(eps >= 0 && eps < 1)) throw new OpError(op, `labelSmoothing must be in [0, 1), got ${eps}`);
  const cols = logits.shape[logits.rank - 1]!;
  const rows = cols === 0 ? 0 : logits.size / cols;
  if (cols === 0) throw new OpError(op, `logits ${shapeStr(logits.shape)} have no classes`);
  if (targets.length !== rows)
    throw new OpError(op, `${targets.length} targets for logits ${shapeStr(logits.shape)} (${rows} rows of ${cols} classes)`);
  const t = targets instanceof Int32Array ? targets : Int32Array.from(targets);
  for (let r = 0; r < rows; r++) {
    const v = t[r]!;
    const notInt = v !== targets[r]; // a fractional or huge number did not survive Int32 conversion
    if (notInt || (v !== ignoreIndex && (v < 0 || v >= cols)))
      throw new OpError(op, `target ${targets[r]} at position ${r} is out of range [0, ${cols}) (logits ${shapeStr(logits.shape)}, ignoreIndex ${ignoreIndex})`);
  }

  const kern = K(logits);
  const x = logits.dense();
  const loss = empty([rows], logits.dtype);
  const lse = empty([rows], logits.dtype);
  const count = kern.crossEntropy(x, t, loss.data, lse.data, rows, cols, ignoreIndex);
  if (eps > 0)
    for (let r = 0; r < rows; r++) {
      if (t[r] === ignoreIndex) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) s += x[r * cols + j]!;
      loss.data[r] = (1 - eps) * loss.data[r]! + eps * (lse.data[r]! - s / cols);
    }

  let out: Tensor;
  if (reduction === "none") out = new Tensor(loss.data, logits.shape.slice(0, -1));
  else {
    let s = 0;
    for (let r = 0; r < rows; r++) s += loss.data[r]!;
    out = empty([], logits.dtype);
    out.data[0] = reduction === "sum" ? s : count > 0 ? s / count : 0;
  }

  record(op, [logits], [out], ([g]) => {
    // per-row upstream gradient
    const gLoss = empty([rows], logits.dtype);
    if (reduction === "none") gLoss.data.set(g!.dense());
    else {
      const gv = g!.item() * (reduction === "sum" ? 1 : count > 0 ? 1 / count : 0);
      gLoss.data.fill(gv);
    }
    const gx = uninit(logits.shape, logits.dtype); // every row written (ignored rows as zeros)
    kern.crossEntropyBackward(x, t, lse.data, gLoss.data, gx.data, rows, cols, ignoreIndex);
    if (eps > 0)
      // softmax − ((1−ε)·onehot + ε/C) = (softmax − onehot) + ε·(onehot − 1/C)
      for (let r = 0; r < rows; r++) {
        const tr = t[r]!;
        if (tr === ignoreIndex) continue;
        const a = gLoss.data[r]! * eps;
        const o = r * cols;
        for (let j = 0; j < cols; j++) gx.data[o + j] = gx.data[o + j]! - a / cols;
        gx.data[o + tr] = gx.data[o + tr]! + a;
      }
    return [gx];
  });
  return out;
}
