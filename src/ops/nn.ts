/**
 * Token embedding (gather with scatter-add backward) and inverted dropout over the Philox
 * stream (Srivastava et al. 2014; stream layout in tensor/rng.ts).
 */
import { Tensor } from "../tensor/tensor.js";
import { numel, shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import { empty, K, uninit } from "./util.js";

/**
 * out[..., :] = weight[ids[...], :] for weight [V, d] and ids (Int32, row-major over `shape`,
 * default [ids.length]) → [...shape, d]. Backward scatter-adds into the rows used (repeated
 * ids accumulate).
 */
export function embedding(weight: Tensor, ids: Int32Array | readonly number[], shape?: readonly number[]): Tensor {
  const op = "embedding";
  weight.check(op);
  if (weight.rank !== 2) throw new OpError(op, `weight must be [V, d], got ${shapeStr(weight.shape)}`);
  const [V, dim] = weight.shape as [number, number];
  const s = shape ? shape.slice() : [ids.length];
  if (numel(s) !== ids.length) throw new OpError(op, `${ids.length} ids do not fill shape ${shapeStr(s)}`);
  const idx = ids instanceof Int32Array ? ids : Int32Array.from(ids);
  for (let i = 0; i < idx.length; i++) {
    const t = idx[i]!;
    if (t < 0 || t >= V || t !== ids[i]) throw new OpError(op, `id ${ids[i]} at position ${i} is out of range [0, ${V}) (weight ${shapeStr(weight.shape)})`);
  }
  const kern = K(weight);
  const n = idx.length;
  const out = uninit([...s, dim], weight.dtype); // every row is copied
  kern.embedding(weight.dense(), idx, out.data, n, dim);
  record(op, [weight], [out], ([g]) => {
    const gw = empty([V, dim], weight.dtype);
    kern.embeddingBackward(g!.dense(), idx, gw.data, n, dim);
    return [gw];
  });
  return out;
}

export interface DropoutOptions {
  /** Identity when false (default true). */
  training?: boolean;
  /** Stream to draw the mask from (default: the global generator). */
  generator?: Generator;
}

/**
 * Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p).
 * The mask comes from the Philox stream at an offset reserved from the generator; backward
 * applies the same kernel at the same offset to the gradient, which regenerates exactly the
 * same mask (nothing but the offset is saved). p = 0 or training = false return x itself;
 * p = 1 zeroes everything.
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  const op = "dropout";
  x.check(op);
  if (!(p >= 0 && p <= 1)) throw new OpError(op, `p must be in [0, 1], got ${p} (x ${shapeStr(x.shape)})`);
  if (p === 0 || opts.training === false) return x;
  const gen = opts.generator ?? defaultGenerator();
  const n = x.size;
  const offset = gen.take(n);
  const { k0, k1 } = gen;
  const kern = K(x);
  const out = empty(x.shape, x.dtype);
  kern.dropout(x.dense(), out.data, n, p, k0, k1, offset);
  record(op, [x], [out], ([g]) => {
    const gx = empty(x.shape, x.dtype);
    kern.dropout(g!.dense(), gx.data, n, p, k0, k1, offset);
    return [gx];
  });
  return out;
}
