/**
 * The Tensor: a strided view (offset, shape, strides) over a flat typed array, plus the autograd
 * fields (requiresGrad, grad, and the node that produced it). Views share storage with their base.
 *
 * Ops live in src/ops and are functions (`add(a, b)`, `matmul(a, b)`); this file holds only what
 * every op needs: construction, layout queries, element access for tests, and release.
 */
import { allocArray, dtypeOf, type Arr, type DType } from "./dtype.js";
import { allocF32, dropStorage, freeArray, mayBePooled, retainStorage, trackArrays } from "./pool.js";
import { contiguousStrides, numel, shapeStr, type Shape } from "./shape.js";
import { OpError } from "../errors.js";
import type { GradNode } from "../autograd/node.js";

let nextId = 1;
/** Ids given so far: every tensor made after this call has a larger id. */
export function lastTensorId(): number {
  return nextId - 1;
}
const RELEASED = new Float32Array(0);

/** While set: every tensor made over pooled storage is listed here (see `freeingScratch`). */
let scratch: Tensor[] | null = null;

/**
 * Runs fn, then frees what it made on pooled storage and did not return: the tensors not among
 * `keep(result)`, and the arrays no tensor took (copies from dense(), scratch buffers). For code
 * that keeps nothing it makes — the autograd engine runs built-in ops' backward through this.
 */
export function freeingScratch<T>(fn: () => T, keep: (result: T) => readonly unknown[]): T {
  const outerTensors = scratch;
  const tensors: Tensor[] = [];
  const arrays: Float32Array[] = [];
  scratch = tensors;
  const outerArrays = trackArrays(arrays);
  let result: T;
  try {
    result = fn();
  } finally {
    scratch = outerTensors;
    trackArrays(outerArrays);
  }
  const kept = keep(result);
  for (const t of tensors) if (!kept.includes(t)) t.recycle();
  for (const a of arrays) freeArray(a); // only those no tensor uses
  return result;
}

export class Tensor {
  /** Unique id, handy in debug output. */
  readonly id = nextId++;
  /** Backing storage (shared by views). */
  data: Arr;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly dtype: DType;
  /** True for leaves the user marked and for results of ops on such tensors while grad is on. */
  requiresGrad = false;
  /** Accumulated gradient (leaves only). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, and which of its outputs this is. */
  node: GradNode | null = null;
  outputIndex = 0;
  /** Optional label (parameter name) used in error messages. */
  name: string | undefined;
  private released = false;

  constructor(data: Arr, shape: Shape, strides?: readonly number[], offset = 0) {
    this.data = data;
    this.shape = shape.slice();
    this.strides = strides ? strides.slice() : contiguousStrides(shape);
    this.offset = offset;
    this.dtype = dtypeOf(data);
    // count this tensor as a user of pooled storage
    if (mayBePooled(data) && retainStorage(data) && scratch !== null) scratch.push(this);
  }

  static empty(shape: Shape, dtype: DType = "float32"): Tensor {
    return new Tensor(allocArray(dtype, numel(shape)), shape);
  }

  get size(): number {
    return numel(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get isReleased(): boolean {
    return this.released;
  }

  /** True when elements are laid out densely in row-major order starting at `offset`. */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d !== 1 && this.strides[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }

  /** Throws if the tensor was released; `op` names the caller. */
  check(op: string): this {
    if (this.released)
      throw new OpError(op, `tensor #${this.id}${this.name ? ` '${this.name}'` : ""} of shape ${shapeStr(this.shape)} was used after release()`);
    return this;
  }

  /**
   * The elements as a dense array in row-major order (a fresh copy unless the tensor is
   * contiguous with offset 0 and covers its whole buffer, in which case the buffer itself).
   */
  dense(): Arr {
    this.check("dense");
    const n = this.size;
    if (this.isContiguous()) {
      if (this.offset === 0 && this.data.length === n) return this.data;
      return this.data.subarray(this.offset, this.offset + n);
    }
    const out = this.dtype === "float32" ? allocF32(n, false) : allocArray(this.dtype, n); // every element is written below
    if (n === 0) return out;
    // walk the rows of the last dim with an incremental offset; unit-stride rows are block copies
    const rank = this.rank;
    const len = this.shape[rank - 1]!;
    const ls = this.strides[rank - 1]!;
    const rows = n / len;
    const idx = new Array<number>(rank).fill(0);
    let p = this.offset;
    for (let r = 0; r < rows; r++) {
      const o = r * len;
      if (ls === 1 && len >= 8) out.set(this.data.subarray(p, p + len), o);
      else for (let j = 0; j < len; j++) out[o + j] = this.data[p + j * ls]!;
      for (let d = rank - 2; d >= 0; d--) {
        p += this.strides[d]!;
        if (++idx[d]! < this.shape[d]!) break;
        p -= idx[d]! * this.strides[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** Elements as a plain number array (row-major). */
  toArray(): number[] {
    return Array.from(this.dense());
  }

  /** The single element of a size-1 tensor. */
  item(): number {
    this.check("item");
    if (this.size !== 1) throw new OpError("item", `tensor of shape ${shapeStr(this.shape)} has ${this.size} elements, not 1`);
    return this.data[this.offset]!;
  }

  /** Element at a multi-index (tests and debugging; slow). */
  at(...index: number[]): number {
    this.check("at");
    if (index.length !== this.rank) throw new OpError("at", `index of rank ${index.length} for tensor of shape ${shapeStr(this.shape)}`);
    let p = this.offset;
    for (let d = 0; d < index.length; d++) {
      const i = index[d]!;
      if (i < 0 || i >= this.shape[d]!) throw new OpError("at", `index ${i} out of range for dim ${d} of shape ${shapeStr(this.shape)}`);
      p += i * this.strides[d]!;
    }
    return this.data[p]!;
  }

  /** Marks this leaf as requiring gradients (returns this). */
  requiresGrad_(flag = true): this {
    if (this.node && !flag) throw new OpError("requiresGrad_", "cannot clear requiresGrad on a non-leaf tensor; use detach()");
    this.requiresGrad = flag;
    return this;
  }

  /** A tensor sharing storage but cut from the graph. */
  detach(): Tensor {
    this.check("detach");
    return new Tensor(this.data, this.shape, this.strides, this.offset);
  }

  /**
   * Drops the storage now instead of waiting for GC. Any later use names this tensor in an error.
   * Views of the same storage keep their own reference and stay valid. Storage released here is
   * never handed out again by the buffer pool (raw arrays taken from it stay valid).
   */
  release(): void {
    this.drop(false);
  }

  /**
   * @internal Like release(), for tensors the engine owns: their storage goes back to the buffer
   * pool (src/tensor/pool.ts) once no other tensor uses it. The tensor keeps its graph node, so
   * a later backward through it fails naming the op instead of silently stopping there.
   */
  recycle(): void {
    this.drop(true);
  }

  private drop(recycle: boolean): void {
    if (this.released) return;
    const d = this.data;
    this.released = true;
    this.data = RELEASED;
    this.grad = null;
    if (!recycle) this.node = null;
    if (mayBePooled(d)) dropStorage(d, recycle);
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }
}
