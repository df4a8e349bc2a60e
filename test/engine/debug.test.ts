// Bad input and the debug finite mode: the first op that produces NaN/Inf is named (forward,
// backward, inside checkpointed segments, and when switched on by CHIMERA_CHECK_FINITE=1);
// released tensors and shape errors name the op and the shapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { tensor, randn } from "../../src/tensor/creation.js";
import * as ops from "../../src/ops/index.js";
import { backward } from "../../src/autograd/backward.js";
import { setCheckFinite } from "../../src/autograd/node.js";
import { checkpoint } from "../../src/autograd/checkpoint.js";
import { OpError } from "../../src/errors.js";

function withFinite<T>(fn: () => T): T {
  setCheckFinite(true);
  try {
    return fn();
  } finally {
    setCheckFinite(false);
  }
}

test("finite mode names the op that first produced NaN/Inf, not its consumers", () => {
  const x = tensor([[1, 2], [-3, 4]]);
  // without the mode the NaN just propagates
  assert.ok(Number.isNaN(ops.sum(ops.log(x)).item()));
  withFinite(() => {
    assert.throws(
      () => ops.sum(ops.mul(ops.log(x), 2)),
      (e: Error) => e instanceof OpError && /^log: produced NaN at flat index 2 of output shape \[2, 2\]/.test(e.message),
    );
    assert.throws(() => ops.div(tensor([1, 0]), tensor([1, 0])), /^ChimeraError: div: produced NaN at flat index 1/);
    assert.throws(() => ops.exp(tensor([1, 1000])), /^ChimeraError: exp: produced Infinity at flat index 1 of output shape \[2\]/);
    // ops of this family are covered too
    assert.throws(() => ops.cumsum(tensor([3e38, 3e38]), 0), /^ChimeraError: cumsum: produced Infinity/);
    assert.throws(() => ops.concat([tensor([1]), ops.log(tensor([-1]))]), /^ChimeraError: log:/);
    // inside a checkpointed segment the inner op is named
    const w = randn([3]).requiresGrad_();
    assert.throws(() => checkpoint((h) => ops.sqrt(ops.sub(h, 10)), w), /^ChimeraError: sqrt: produced NaN/);
  });
});

test("finite mode checks gradients too (ops run inside backward are checked)", () => {
  const x = tensor([0, 1]).requiresGrad_();
  const y = ops.sum(ops.sqrt(x)); // finite forward; d/dx √x at 0 is +∞
  withFinite(() => assert.throws(() => backward([y]), /^ChimeraError: sqrt \(backward\): produced Infinity at flat index 0 of output shape \[2\]/));
});

test("CHIMERA_CHECK_FINITE=1 turns the mode on from the environment", () => {
  const self = fileURLToPath(import.meta.url);
  const child = fileURLToPath(new URL(`./finite-child${extname(self)}`, import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--test"));
  const r = spawnSync(process.execPath, [...execArgv, child], { env: { ...process.env, CHIMERA_CHECK_FINITE: "1" }, encoding: "utf8", timeout: 20_000 });
  assert.match(r.stdout, /^log: produced NaN at flat index 0 of output shape \[1\]/, r.stderr);
});

test("released tensors and bad shapes name the op and shapes across indexing and shape ops", () => {
  const t = randn([2, 3]);
  const ok = randn([2, 3]);
  t.release();
  const uses: [string, () => unknown][] = [
    ["concat", () => ops.concat([ok, t], 0)],
    ["stack", () => ops.stack([t, ok])],
    ["split", () => ops.split(t, 1)],
    ["pad", () => ops.pad(t, [[1, 1]])],
    ["gather", () => ops.gather(t, 1, new Int32Array(6))],
    ["indexSelect", () => ops.indexSelect(t, 0, new Int32Array(1))],
    ["topk", () => ops.topk(t, 1)],
    ["argsort", () => ops.argsort(t)],
    ["maskedFill", () => ops.maskedFill(t, ok, 0)],
    ["tril", () => ops.tril(t)],
  ];
  for (const [op, use] of uses)
    assert.throws(use, (e: Error) => e instanceof OpError && e.message.startsWith(`${op}: `) && /\[2, 3\] was used after release\(\)/.test(e.message), op);
  assert.throws(() => ops.concat([ok, randn([2, 3], { dtype: "float64" })], 0), /^ChimeraError: concat: dtype mismatch: float32\[2, 3\] vs float64\[2, 3\]/);
  assert.throws(() => ops.stack([ok, randn([3, 2])], 1), /stack: shapes differ: \[2, 3\], \[3, 2\]/);
  assert.throws(() => ops.split(ok, [1, 1], 1), /split: sizes \[1, 1\] do not sum to 3, the size of axis 1 of \[2, 3\]/);
  assert.throws(() => ops.indexAdd(ok, 1, new Int32Array(2), randn([2, 3])), /indexAdd: src \[2, 3\] must be \[2, 2\] for base \[2, 3\] and 2 ids on axis 1/);
});
