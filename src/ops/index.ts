/** All tensor ops, re-exported by family. */
export * from "./view.js";
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./matmul.js";
