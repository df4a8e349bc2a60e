/**
 * Reverse-mode autograd: graph nodes, grad mode, and the `record` helper every op uses.
 *
 * An op computes its outputs eagerly, then (when grad mode is on and some input requires grad)
 * calls `record(name, inputs, outputs, backward)`. `backward` receives one gradient per output
 * (null where no gradient flowed) and returns one gradient per input (null where none).
 * Backward functions run with grad mode off; they may close over saved tensors, which are
 * dropped when the node has run (as PyTorch does without retain_graph). The gradients a built-in
 * backward returns belong to the engine, which frees them once they are propagated (see
 * backward.ts); a built-in backward must therefore not keep the gradients it receives or returns.
 */
import type { Tensor } from "../tensor/tensor.js";
import { freeArray } from "../tensor/pool.js";
import { OpError } from "../errors.js";

export type BackwardFn = (gradOutputs: (Tensor | null)[]) => (Tensor | null)[];

export interface GradNode {
  readonly op: string;
  readonly inputs: (Tensor | null)[];
  readonly numOutputs: number;
  /** Shapes of the outputs, for zero gradients and error messages. */
  readonly outputShapes: (readonly number[])[];
  /** The outputs (freed after the node's backward when backward runs with releaseIntermediates). */
  readonly outputs: readonly Tensor[];
  /** backward is user code (customOp): it may keep what it gets or returns, so none of it is recycled. */
  readonly userBackward?: boolean;
  /** Made by `record` for a built-in op: backward keeps nothing it makes, so what it does not return is scratch. */
  readonly builtin?: boolean;
  /** What only this node's backward reads (see `record`): freed once it has run. */
  readonly saved?: readonly Saved[];
  backward: BackwardFn | null;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (inference, optimiser steps, backward functions). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with gradient recording on (used by checkpoint recomputation inside backward). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when recording is on and at least one input requires grad. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

// ---- debug mode: check every op's outputs for NaN/Inf -----------------------------------------
let checkFinite = process.env.CHIMERA_CHECK_FINITE === "1";
export function setCheckFinite(on: boolean): void {
  checkFinite = on;
}
export function isCheckFinite(): boolean {
  return checkFinite;
}

function assertFinite(op: string, t: Tensor): void {
  const d = t.dense();
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (x !== x || x === Infinity || x === -Infinity)
      throw new OpError(op, `produced ${x} at flat index ${i} of output shape [${t.shape.join(", ")}] (debug finite check)`);
  }
}

/** Called by ops on their outputs when the debug finite check is on. */
export function debugCheck(op: string, outputs: readonly Tensor[]): void {
  if (!checkFinite) return;
  for (const o of outputs) assertFinite(op, o);
}

/**
 * Records an op in the graph when needed. Returns true when a node was recorded.
 * Always runs the debug finite check on outputs when that mode is on.
 */
/** A tensor or array an op keeps for its backward alone. */
export type Saved = Tensor | ArrayBufferView | null;

/** Frees what an op kept for its backward: tensors go to the buffer pool, and arrays no tensor uses (dense() copies). */
export function freeSaved(saved: readonly Saved[] | undefined): void {
  if (!saved) return;
  for (const s of saved) {
    if (s === null) continue;
    if (isTensor(s)) s.recycle();
    else freeArray(s);
  }
}

function isTensor(s: Tensor | ArrayBufferView): s is Tensor {
  return !ArrayBuffer.isView(s);
}

export interface RecordOptions {
  /** backward is user code (customOp). */
  userBackward?: boolean;
  /**
   * What backward reads and nothing else does: tensors the op made for it (statistics, copies),
   * and the arrays from `dense()` of its inputs (those that are copies). They are freed once
   * backward has run, or at once when no node is recorded. Arrays that are an input's own
   * storage are left alone (a tensor still uses them).
   */
  saved?: readonly Saved[];
}

export function record(op: string, inputs: (Tensor | null)[], outputs: Tensor[], backward: BackwardFn, opts: RecordOptions = {}): boolean {
  if (checkFinite) debugCheck(op, outputs);
  if (!needsGrad(...inputs)) {
    freeSaved(opts.saved);
    return false;
  }
  const node: GradNode = {
    op,
    inputs: inputs.map((t) => (t && t.requiresGrad ? t : null)),
    numOutputs: outputs.length,
    outputShapes: outputs.map((o) => o.shape),
    outputs,
    ...(opts.userBackward ? { userBackward: true } : { builtin: true }),
    ...(opts.saved ? { saved: opts.saved } : {}),
    backward,
  };
  outputs.forEach((o, i) => {
    o.requiresGrad = true;
    o.node = node;
    o.outputIndex = i;
  });
  return true;
}
