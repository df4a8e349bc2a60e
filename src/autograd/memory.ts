/**
 * Live-memory probes for leak tests and training logs. Tensor storage is typed arrays, which V8
 * counts under `arrayBuffers` (outside the JS heap), so "live memory" here is
 * heapUsed + arrayBuffers, read after a forced garbage collection when one is available.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Tensor } from "../tensor/tensor.js";
import { poolStats } from "../tensor/pool.js";

let gcFn: (() => void) | null | undefined;

/** Runs a full garbage collection; returns false when none could be forced. */
export function forceGC(): boolean {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === "function") gcFn = g;
    else {
      try {
        // exposes `gc` to contexts created from now on (works without --expose-gc on the command line)
        setFlagsFromString("--expose-gc");
        gcFn = runInNewContext("gc") as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}

export interface LiveMemory {
  /** JS heap in use (bytes). */
  heapUsed: number;
  /** Bytes held by ArrayBuffers (tensor storage, including the buffer pool's free list). */
  arrayBuffers: number;
  /** Of those, bytes on the buffer pool's free list (src/tensor/pool.ts). */
  pooledFree: number;
  /** heapUsed + arrayBuffers. */
  total: number;
  /** Tensors constructed since start (a growth in this per step with a constant workload is fine; live bytes must not grow). */
  tensorsCreated: number;
}

/** Live memory after a forced GC (when possible). */
export function liveMemory(collect = true): LiveMemory {
  if (collect) forceGC();
  return read();
}

/**
 * Live memory once collection has settled: ArrayBuffer backing stores are released after the GC
 * that finds them dead, so this collects, yields to the event loop, and collects again.
 */
export async function settledLiveMemory(rounds = 3): Promise<LiveMemory> {
  for (let i = 0; i < rounds; i++) {
    forceGC();
    await new Promise((r) => setImmediate(r));
  }
  return liveMemory();
}

function read(): LiveMemory {
  const m = process.memoryUsage();
  const probe = new Tensor(new Float32Array(0), [0]);
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, pooledFree: poolStats().freeBytes, total: m.heapUsed + m.arrayBuffers, tensorsCreated: probe.id };
}
