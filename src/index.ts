/** Chimera public API. */
export { Tensor } from "./tensor/tensor.js";
export type { DType, Arr } from "./tensor/dtype.js";
export * from "./tensor/creation.js";
export { Generator, manualSeed, defaultGenerator } from "./tensor/rng.js";
export { noGrad, enableGrad, isGradEnabled, setCheckFinite } from "./autograd/node.js";
export { backward } from "./autograd/backward.js";
export * as ops from "./ops/index.js";
export { setBackend, backendName, nativeAvailable, withBackend } from "./backend/index.js";
export { ChimeraError, OpError, ConfigError } from "./errors.js";
export { customOp, CustomContext } from "./autograd/custom.js";
export { checkpoint } from "./autograd/checkpoint.js";
export { liveMemory, settledLiveMemory, forceGC } from "./autograd/memory.js";
export { poolStats, clearPool, setPoolEnabled, setPoolLimit, type PoolStats } from "./tensor/pool.js";
export { Module } from "./nn/module.js";
export { buildModel, CausalLM, type BuildOptions, type ForwardOptions, type ForwardResult } from "./models/causal_lm.js";
export { DecodeState } from "./models/decode_state.js";
export { ContiguousKVCache, type KVCache } from "./layers/kv_cache.js";
export { MoE } from "./layers/moe.js";
