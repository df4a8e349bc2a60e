/**
 * Buffer pool for float32 tensor storage of at least `POOL_MIN` elements.
 *
 * Why: a training step allocates hundreds of MB of activations and gradients. Every fresh
 * ArrayBuffer is external memory to V8, and V8 runs a scavenge for each few MB and a full
 * mark-compact for each ~64 MB that external memory grows. With the pool, storage the autograd
 * engine is done with goes on a free list (by size class) and the next op of that size gets it
 * back, so a steady-state training step allocates almost no new ArrayBuffers.
 *
 * Safety: storage goes back on the free list only when
 *   1. the engine frees a tensor it knows nobody reads any more (`Tensor.recycle()`: consumed
 *      gradients, and with `backward(…, {releaseIntermediates: true})` the graph's activations), and
 *   2. no other live Tensor uses the same ArrayBuffer. Every Tensor constructed over a pooled
 *      buffer (a view, a detach(), a wrapper of a subarray) counts as a user of it, and only
 *      release()/recycle() take the count down; a view that is simply dropped keeps the buffer
 *      out of the pool for good (it is then garbage-collected like any other).
 * A user's own `release()` never returns storage to the pool (the caller may still hold raw
 * arrays from `dense()`); the buffer is left to the garbage collector, as before the pool.
 * Wrapping a typed array of a buffer that is back in the pool throws.
 *
 * Pooled arrays start `HEADER` bytes into their ArrayBuffer. So a typed array with byteOffset 0
 * and at most 64 bytes never reaches pooled data, and the Tensor constructor skips those: V8 keeps
 * such small arrays inside the JS heap, and asking one for its `.buffer` would move it out (~1 µs).
 *
 * CHIMERA_POOL=off turns the pool off (allocation as before it); CHIMERA_POOL_MB caps the free
 * list (default 1024 MB; least recently used sizes are dropped first).
 */
import { OpError } from "../errors.js";

/** Smallest pooled length (elements); smaller tensors are cheap to allocate. */
export const POOL_MIN = 1024;
/** Bytes before the data in a pooled ArrayBuffer (keeps 64-byte alignment classes). */
const HEADER = 64;
/** How many size classes above its own a request may take a free buffer from. */
const BORROW = 2;

interface Entry {
  /** Capacity in elements (a size class, see `sizeClass`). */
  readonly cap: number;
  /** Live Tensors over this buffer; -1 while on the free list or after the pool dropped it. */
  refs: number;
}

const entries = new WeakMap<ArrayBuffer, Entry>();
/** size class → free buffers; Map order is least recently used first. */
const free = new Map<number, ArrayBuffer[]>();

let enabled = process.env.CHIMERA_POOL !== "off";
let limitBytes = (Number(process.env.CHIMERA_POOL_MB) || 1024) * 2 ** 20;
let freeBytes = 0;

const counters = { allocated: 0, allocatedBytes: 0, reused: 0, reusedBytes: 0, returned: 0, dropped: 0 };

/**
 * Capacity for n elements: n rounded up to 8–15 × a power of two (at most 1/8 over), so tensors
 * whose sizes vary a little from step to step (an MoE expert's tokens) still find a free buffer.
 */
export function sizeClass(n: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

export interface PoolStats {
  enabled: boolean;
  /** Buffers / bytes allocated fresh since start. */
  allocated: number;
  allocatedBytes: number;
  /** Buffers / bytes handed out again from the free list since start. */
  reused: number;
  reusedBytes: number;
  /** Buffers put on the free list since start. */
  returned: number;
  /** Buffers that came back while the free list was full (left to the garbage collector). */
  dropped: number;
  /** Buffers / bytes on the free list now. */
  freeBuffers: number;
  freeBytes: number;
  limitBytes: number;
}

export function poolStats(): PoolStats {
  let freeBuffers = 0;
  for (const l of free.values()) freeBuffers += l.length;
  return { enabled, ...counters, freeBuffers, freeBytes, limitBytes };
}

/** Turns the pool on or off (new allocations only); returns the previous setting. */
export function setPoolEnabled(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  if (!on) clearPool();
  return old;
}

/** Caps the bytes kept on the free list; returns the previous cap. */
export function setPoolLimit(bytes: number): number {
  const old = limitBytes;
  limitBytes = Math.max(0, bytes);
  evict(0);
  return old;
}

/** Drops every free buffer (the garbage collector frees them). */
export function clearPool(): void {
  free.clear();
  freeBytes = 0;
}

/** While set: the pooled arrays handed out are listed here (see `trackArrays`). */
let handedOut: Float32Array[] | null = null;

/** Lists every pooled array handed out from now on in `list` (null: stop); returns the previous list. */
export function trackArrays(list: Float32Array[] | null): Float32Array[] | null {
  const prev = handedOut;
  handedOut = list;
  return prev;
}

/**
 * Puts an array that `allocF32` returned back on the free list if no tensor has ever used it
 * (any other array, such as a tensor's own storage from `dense()`, is left alone).
 */
export function freeArray(arr: ArrayBufferView): void {
  if (!mayBePooled(arr)) return;
  const e = entries.get(arr.buffer as ArrayBuffer);
  if (e === undefined || e.refs !== 0) return;
  e.refs = 1;
  dropStorage(arr, true);
}

/**
 * A float32 array of n elements: zero-filled when `zero`, otherwise with arbitrary contents (for
 * outputs a kernel writes completely).
 */
export function allocF32(n: number, zero: boolean): Float32Array {
  if (!enabled || n < POOL_MIN) {
    if (zero || n < POOL_MIN) return new Float32Array(n);
    const b = Buffer.allocUnsafeSlow(n * 4); // a fresh, unshared ArrayBuffer, not zero-filled
    return new Float32Array(b.buffer, b.byteOffset, n);
  }
  const cap = sizeClass(n);
  // n's own class, else the next ones up (at most BORROW classes: ≤ ~30% unused)
  for (let c = cap, k = 0; k <= BORROW; c = sizeClass(c + 1), k++) {
    const list = free.get(c);
    if (list === undefined || list.length === 0) continue;
    const buf = list.pop()!;
    free.delete(c); // most recently used class goes last
    free.set(c, list);
    freeBytes -= c * 4;
    entries.get(buf)!.refs = 0;
    counters.reused++;
    counters.reusedBytes += c * 4;
    const a = new Float32Array(buf, HEADER, n);
    if (zero) a.fill(0);
    handedOut?.push(a);
    return a;
  }
  const b = zero ? Buffer.alloc(HEADER + cap * 4) : Buffer.allocUnsafeSlow(HEADER + cap * 4);
  const buf = b.buffer as ArrayBuffer; // its own ArrayBuffer (sizes this large never share one)
  entries.set(buf, { cap, refs: 0 });
  counters.allocated++;
  counters.allocatedBytes += cap * 4;
  const a = new Float32Array(buf, b.byteOffset + HEADER, n);
  handedOut?.push(a);
  return a;
}

/** True when a typed array may lie on pooled storage (see the header: small byteOffset-0 arrays never do). */
export function mayBePooled(data: ArrayBufferView): boolean {
  return data.byteOffset !== 0 || data.byteLength > HEADER;
}

/**
 * A Tensor now uses `data` (called by the Tensor constructor for arrays that may be pooled).
 * Returns true when `data` is pooled storage.
 */
export function retainStorage(data: ArrayBufferView): boolean {
  const e = entries.get(data.buffer as ArrayBuffer);
  if (e === undefined) return false;
  if (e.refs < 0)
    throw new OpError("tensor", "its storage was freed to the buffer pool: a typed array kept from a tensor the engine released was used again");
  e.refs++;
  return true;
}

/**
 * A Tensor over `data` was released. `recycle`: the engine freed it, and the buffer goes on the
 * free list once no Tensor uses it. Otherwise (a user's release) the buffer is never reused.
 */
export function dropStorage(data: ArrayBufferView, recycle: boolean): void {
  const buf = data.buffer as ArrayBuffer;
  const e = entries.get(buf);
  if (e === undefined || e.refs < 0) return;
  if (!recycle) {
    entries.delete(buf);
    return;
  }
  if (--e.refs > 0) return;
  e.refs = -1;
  const bytes = e.cap * 4;
  if (!enabled || bytes > limitBytes) {
    counters.dropped++;
    return;
  }
  evict(bytes);
  let list = free.get(e.cap);
  if (list === undefined) free.set(e.cap, (list = []));
  list.push(buf);
  freeBytes += bytes;
  counters.returned++;
}

/** Live Tensors using the buffer under `data` (0 when none or not pooled; tests and exclusivity checks). */
export function storageUsers(data: ArrayBufferView): number {
  if (!mayBePooled(data)) return 0;
  const e = entries.get(data.buffer as ArrayBuffer);
  return e === undefined ? 0 : Math.max(0, e.refs);
}

/** True when `data` is a buffer currently on the free list (tests). */
export function isFree(data: ArrayBufferView): boolean {
  if (!mayBePooled(data)) return false;
  const e = entries.get(data.buffer as ArrayBuffer);
  return e !== undefined && e.refs < 0 && (free.get(e.cap)?.includes(data.buffer as ArrayBuffer) ?? false);
}

/** Makes room for `bytes` more on the free list, dropping least recently used sizes first. */
function evict(bytes: number): void {
  for (const [cap, list] of free) {
    if (freeBytes + bytes <= limitBytes) return;
    while (list.length > 0 && freeBytes + bytes > limitBytes) {
      list.shift();
      freeBytes -= cap * 4;
      counters.dropped++;
    }
    if (list.length === 0) free.delete(cap);
  }
}
