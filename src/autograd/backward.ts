/**
 * The backward pass: topologically order the nodes reachable from the roots, then run each
 * node's backward once with its summed output gradients, accumulating into leaves' `.grad`.
 */
import { freeingScratch, lastTensorId, Tensor } from "../tensor/tensor.js";
import { storageUsers } from "../tensor/pool.js";
import { contiguousStrides, shapeStr, sameShape } from "../tensor/shape.js";
import { OpError } from "../errors.js";
import { debugCheck, freeSaved, isCheckFinite, noGrad, type GradNode } from "./node.js";
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
  /**
   * Also release the graph's intermediate tensors — the outputs of recorded ops, except the
   * roots — as soon as backward is done with them, returning their storage to the buffer pool.
   * For training loops that read nothing but the roots after backward: any other tensor of the
   * graph (logits, hidden states, partial losses) then throws on use, and no later backward may
   * go through this graph. Not with retainGraph.
   */
  releaseIntermediates?: boolean;
}

let releasing = false;

/** True while a backward with releaseIntermediates runs (checkpoint's inner backward follows it). */
export function isReleasingIntermediates(): boolean {
  return releasing;
}

/** Dense, offset 0, covering its whole buffer, and the only tensor using that (pooled) buffer. */
function exclusive(t: Tensor): boolean {
  return t.offset === 0 && t.data.length === t.size && storageUsers(t.data) === 1 && t.isContiguous();
}

/**
 * Runs reverse-mode differentiation from `roots` with seed gradients `grads` (default: ones for
 * scalar roots). Leaves with requiresGrad get `.grad` accumulated (+=).
 *
 * Gradient bookkeeping: a gradient a built-in backward creates belongs to the engine ("owned").
 * It waits in its producer's pending slot; once no slot holds it and the node that received it
 * has run, it is freed (its storage goes back to the buffer pool). An owned gradient that is the
 * only user of its storage is summed into in place instead of into a fresh buffer, and becomes a
 * leaf's `.grad` as it is instead of being copied. Seeds and the gradients that reach or leave a
 * customOp's backward are never owned.
 */
export function backward(roots: Tensor[], grads?: (Tensor | null)[], opts: BackwardOptions = {}): void {
  const release = opts.releaseIntermediates ?? false;
  if (release && opts.retainGraph) throw new OpError("backward", "releaseIntermediates frees the graph's tensors, so it cannot be combined with retainGraph");
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
  /** Gradients the engine owns (see above). */
  const owned = new Set<Tensor>();
  /** Owned gradients → how many pending slots hold them. */
  const held = new Map<Tensor, number>();
  const hold = (g: Tensor): void => {
    if (owned.has(g)) held.set(g, (held.get(g) ?? 0) + 1);
  };
  const unhold = (g: Tensor): void => {
    const c = held.get(g);
    if (c === undefined) return;
    if (c > 1) held.set(g, c - 1);
    else held.delete(g);
  };
  /** Frees owned gradients no slot holds (called once a node's gradients are all placed). */
  const freeDone = (gs: readonly (Tensor | null)[]): void => {
    for (const g of gs) {
      if (g && owned.has(g) && !held.has(g)) {
        owned.delete(g);
        g.recycle();
      }
    }
  };
  const checkShape = (t: Tensor, g: Tensor): void => {
    if (!sameShape(t.shape, g.shape))
      throw new OpError("backward", `gradient of shape ${shapeStr(g.shape)} for tensor of shape ${shapeStr(t.shape)}${t.node ? ` (output of '${t.node.op}')` : ""}`);
  };
  /** Replaced slot contents, freed with the node's other gradients. */
  const replaced: Tensor[] = [];
  /** Adds g into the pending slot of non-leaf t; `batch` is all the gradients being placed with it. */
  const toSlot = (t: Tensor, g: Tensor, batch: readonly (Tensor | null)[]): void => {
    checkShape(t, g);
    let slot = pending.get(t.node!);
    if (!slot) {
      slot = new Array<Tensor | null>(t.node!.numOutputs).fill(null);
      pending.set(t.node!, slot);
    }
    const prev = slot[t.outputIndex];
    if (!prev) {
      slot[t.outputIndex] = g;
      hold(g);
    } else if (owned.has(prev) && held.get(prev) === 1 && !batch.includes(prev) && exclusive(prev)) {
      addInto(prev, g); // prev + g in place (nothing else reads prev): the same sum as ownedSum, bit for bit
    } else {
      const sum = ownedSum(prev, g);
      owned.add(sum);
      unhold(prev);
      replaced.push(prev);
      slot[t.outputIndex] = sum;
      hold(sum);
    }
  };
  /** Accumulates g into leaf t's .grad; `batch` is all the gradients being placed with it. */
  const toLeaf = (t: Tensor, g: Tensor, batch: readonly (Tensor | null)[]): void => {
    checkShape(t, g);
    if (t.grad) addInto(t.grad, g);
    else if (owned.has(g) && !held.has(g) && batch.indexOf(g) === batch.lastIndexOf(g) && exclusive(g)) {
      owned.delete(g); // adopted as it is: the leaf's now
      t.grad = g;
    } else t.grad = ownedCopy(g);
  };
  const keep = new Set<Tensor>(roots);

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
      if (r.node) toSlot(r, g, []);
      else if (r.requiresGrad) toLeaf(r, g, []);
    });

    // 3. reverse topological sweep
    const prevReleasing = releasing;
    releasing = release;
    try {
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i]!;
        runNode(node);
        if (release) for (const o of node.outputs) if (o.node === node && !keep.has(o)) o.recycle();
      }
    } finally {
      releasing = prevReleasing;
    }
  });

  function runNode(node: GradNode): void {
    const gouts = pending.get(node);
    pending.delete(node);
    if (!gouts || gouts.every((g) => g === null)) {
      if (!opts.retainGraph) {
        node.backward = null;
        freeSaved(node.saved);
      }
      return;
    }
    if (release) {
      const gone = [...node.inputs, ...node.outputs].find((t) => t?.isReleased);
      if (gone)
        throw new OpError(node.op, `backward needs tensor #${gone.id} of shape ${shapeStr(gone.shape)}, which was already released (an earlier backward with releaseIntermediates went through it?)`);
    }
    const fn = node.backward!;
    if (!opts.retainGraph) node.backward = null;
    const mark = lastTensorId();
    // what a built-in backward made and did not return (temporaries, views, dense copies) is freed now
    const gins = node.builtin ? freeingScratch(() => fn(gouts), (gs) => gs) : fn(gouts);
    if (!opts.retainGraph) freeSaved(node.saved);
    if (isCheckFinite()) debugCheck(`${node.op} (backward)`, gins.filter((g): g is Tensor => g !== null));
    if (gins.length !== node.inputs.length)
      throw new OpError(node.op, `backward returned ${gins.length} gradients for ${node.inputs.length} inputs`);
    for (const g of gouts) if (g) unhold(g);
    if (node.userBackward) {
      for (const g of gouts) if (g) owned.delete(g); // user code has seen them
    } else {
      for (const g of gins) if (g && g.id > mark) owned.add(g); // made by this backward
    }
    // slots first, leaves after: a gradient is adopted as a leaf's .grad only if no slot holds it
    for (let j = 0; j < gins.length; j++) {
      const inp = node.inputs[j];
      const g = gins[j];
      if (inp && g && inp.node) toSlot(inp, g, gins);
    }
    // gradients received (and not passed on as they are) are done before the leaves are served, so
    // a gradient returned as a view of its gout can be adopted
    freeDone(gouts.filter((g) => g && !gins.includes(g)));
    for (let j = 0; j < gins.length; j++) {
      const inp = node.inputs[j];
      const g = gins[j];
      if (inp && g && !inp.node && inp.requiresGrad) toLeaf(inp, g, gins);
    }
    freeDone(gins);
    freeDone(replaced);
    replaced.length = 0;
  }
}
