/**
 * The backward pass: topologically order the nodes reachable from the roots, then run each
 * node's backward once with its summed output gradients, accumulating into leaves' `.grad`.
 */
import { Tensor } from "../tensor/tensor.js";
import { contiguousStrides, shapeStr, sameShape } from "../tensor/shape.js";
import { OpError } from "../errors.js";
import { debugCheck, isCheckFinite, noGrad, type GradNode } from "./node.js";
import { kernelsFor } from "../backend/index.js";
import { uninit } from "../ops/util.js";

function addInto(target: Tensor, g: Tensor): void {
  // target is contiguous and owned by the accumulator
  const gd = g.isContiguous() ? g : null;
  const K = kernelsFor(target.dtype);
  if (gd && g.offset === 0 && g.data.length === g.size) K.axpy(target.size, 1, g.data, target.data);
  else K.axpy(target.size, 1, g.dense(), target.data);
}

/** prev + g as a fresh, owned, contiguous tensor in one pass (instead of a copy, then an add). */
function ownedSum(prev: Tensor, g: Tensor): Tensor {
  const out = uninit(prev.shape, prev.dtype);
  const cs = contiguousStrides(prev.shape);
  kernelsFor(prev.dtype).binary("add", prev.dense(), cs, g.dense(), cs, out.data, prev.shape);
  return out;
}

/** A fresh, owned, contiguous copy of g (so later in-place accumulation never aliases). */
function ownedCopy(g: Tensor): Tensor {
  const out = uninit(g.shape, g.dtype);
  out.data.set(g.dense());
  return out;
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
}

/**
 * Runs reverse-mode differentiation from `roots` with seed gradients `grads` (default: ones for
 * scalar roots). Leaves with requiresGrad get `.grad` accumulated (+=).
 */
export function backward(roots: Tensor[], grads?: (Tensor | null)[], opts: BackwardOptions = {}): void {
  // 1. topological order of nodes (iterative DFS, post-order)
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: { node: GradNode; next: number }[] = [];
  for (const r of roots) {
    if (!r.node || visited.has(r.node)) continue;
    visited.add(r.node);
    stack.push({ node: r.node, next: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.node.backward === null)
        throw new OpError("backward", `graph through op '${top.node.op}' was already freed; pass {retainGraph: true} to the first backward to run it twice`);
      if (top.next < top.node.inputs.length) {
        const inp = top.node.inputs[top.next++];
        const n = inp?.node;
        if (n && !visited.has(n)) {
          visited.add(n);
          stack.push({ node: n, next: 0 });
        }
      } else {
        order.push(top.node);
        stack.pop();
      }
    }
  }

  // 2. seed
  const pending = new Map<GradNode, (Tensor | null)[]>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (!sameShape(t.shape, g.shape))
      throw new OpError("backward", `gradient of shape ${shapeStr(g.shape)} for tensor of shape ${shapeStr(t.shape)}${t.node ? ` (output of '${t.node.op}')` : ""}`);
    if (t.node) {
      let slot = pending.get(t.node);
      if (!slot) {
        slot = new Array<Tensor | null>(t.node.numOutputs).fill(null);
        pending.set(t.node, slot);
      }
      const prev = slot[t.outputIndex];
      if (!prev) slot[t.outputIndex] = g;
      else slot[t.outputIndex] = ownedSum(prev, g);
    } else if (t.requiresGrad) {
      if (!t.grad) t.grad = ownedCopy(g);
      else addInto(t.grad, g);
    }
  };

  noGrad(() => {
    roots.forEach((r, i) => {
      let g = grads?.[i] ?? null;
      if (!g) {
        if (r.size !== 1) throw new OpError("backward", `root of shape ${shapeStr(r.shape)} is not a scalar: pass its gradient explicitly`);
        const one = new Tensor(r.dtype === "float64" ? new Float64Array(1) : new Float32Array(1), r.shape);
        one.data[0] = 1;
        g = one;
      }
      if (!r.requiresGrad) throw new OpError("backward", `root of shape ${shapeStr(r.shape)} does not require grad (no input of its graph requires grad)`);
      accumulate(r, g);
    });

    // 3. reverse topological sweep
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      const gouts = pending.get(node);
      pending.delete(node);
      if (!gouts || gouts.every((g) => g === null)) {
        if (!opts.retainGraph) node.backward = null;
        continue;
      }
      const fn = node.backward!;
      if (!opts.retainGraph) node.backward = null;
      const gins = fn(gouts);
      if (isCheckFinite()) debugCheck(`${node.op} (backward)`, gins.filter((g): g is Tensor => g !== null));
      if (gins.length !== node.inputs.length)
        throw new OpError(node.op, `backward returned ${gins.length} gradients for ${node.inputs.length} inputs`);
      for (let j = 0; j < gins.length; j++) {
        const inp = node.inputs[j];
        const g = gins[j];
        if (inp && g) accumulate(inp, g);
      }
    }
  });
}
