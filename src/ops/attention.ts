/**
 * Scaled dot-product attention as one fused op (FlashAttention-2 algorithm, Dao 2023,
 * arXiv 2307.08691): causal or full, sliding window, GQA/MQA, gpt-oss attention sinks, and a
 * query offset for decoding against a cache (components.md §5–7).
 *
 * Shapes: q [B, Tq, Hq, D], k [B, Tk, Hkv, D], v [B, Tk, Hkv, Dv] → out [B, Tq, Hq, Dv].
 * Query i sits at absolute position qStart + i (default Tk − Tq: the queries are the last Tq
 * positions of the keys); key j at position j. Masks: causal keeps j ≤ pos(i); window > 0 keeps
 * pos(i) − j < window (W keys including self, the HF sliding-window convention). Query head h
 * uses kv head ⌊h/(Hq/Hkv)⌋. The graph saves q, k, v, out and the log-sum-exp [B, Hq, Tq];
 * probabilities are never materialised (O(T) memory, not O(T²)).
 */
import { Tensor } from "../tensor/tensor.js";
import { shapeStr } from "../tensor/shape.js";
import { record } from "../autograd/node.js";
import { OpError } from "../errors.js";
import { checkInputs, empty, K, uninit } from "./util.js";

export interface AttentionOptions {
  /** Causal mask (default true). */
  causal?: boolean;
  /** Sliding window W > 0: query at p sees keys p−W+1..p (0 = unlimited, the default). */
  window?: number;
  /** Per-head sink logits [Hq] (gpt-oss): extra softmax mass with no value. Default null. */
  sinks?: Tensor | null;
  /** Logit scale (default 1/sqrt(D)). */
  scale?: number;
  /** Absolute position of query 0 (default Tk − Tq). */
  qStart?: number;
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const op = "attention";
  const sinks = opts.sinks ?? null;
  checkInputs(op, q, k, v, ...(sinks ? [sinks] : []));
  const shapes = `q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}${sinks ? `, sinks ${shapeStr(sinks.shape)}` : ""}`;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) throw new OpError(op, `q, k, v must be [B, T, H, D]; got ${shapes}`);
  const [B, Tq, Hq, D] = q.shape as [number, number, number, number];
  const [Bk, Tk, Hkv, Dk] = k.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  if (Bk !== B || v.shape[0] !== B) throw new OpError(op, `batch sizes differ: ${shapes}`);
  if (v.shape[1] !== Tk || v.shape[2] !== Hkv) throw new OpError(op, `k and v must agree on [B, Tk, Hkv]: ${shapes}`);
  if (Dk !== D) throw new OpError(op, `q and k head dims differ (${D} vs ${Dk}): ${shapes}`);
  if (Hkv < 1 || Hq % Hkv !== 0) throw new OpError(op, `query heads ${Hq} must be a multiple of kv heads ${Hkv}: ${shapes}`);
  if (sinks && (sinks.rank !== 1 || sinks.shape[0] !== Hq)) throw new OpError(op, `sinks must be [Hq] = [${Hq}]: ${shapes}`);
  const causal = opts.causal ?? true;
  const window = opts.window ?? 0;
  if (!Number.isInteger(window) || window < 0) throw new OpError(op, `window must be an integer ≥ 0, got ${window}`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw new OpError(op, `scale must be finite, got ${scale}`);
  const qStart = opts.qStart ?? Tk - Tq;
  if (!Number.isInteger(qStart)) throw new OpError(op, `qStart must be an integer, got ${qStart}`);

  const kern = K(q);
  const qd = q.dense();
  const kd = k.dense();
  const vd = v.dense();
  const sd = sinks ? sinks.dense() : null;
  const out = uninit([B, Tq, Hq, Dv], q.dtype); // the attention kernels write every output element
  const lse = uninit([B, Hq, Tq], q.dtype);
  kern.attention(qd, kd, vd, sd, out.data, lse.data, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
  record(op, [q, k, v, sinks], [out], ([g]) => {
    const gq = uninit(q.shape, q.dtype);
    const gk = uninit(k.shape, q.dtype);
    const gv = uninit(v.shape, q.dtype);
    const gs = sinks && sinks.requiresGrad ? empty([Hq], q.dtype) : null;
    kern.attentionBackward(qd, kd, vd, sd, out.data, lse.data, g!.dense(), gq.data, gk.data, gv.data, gs ? gs.data : null,
      B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, window, qStart);
    return [q.requiresGrad ? gq : null, k.requiresGrad ? gk : null, v.requiresGrad ? gv : null, gs];
  }, { saved: [qd, kd, vd, lse] });
  return out;
}
