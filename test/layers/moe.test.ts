// MoE: dropless dispatch ≡ a dense loop over all experts with the same routing (forward and
// gradients), balance losses and load counts, capacity dropping, gradient check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MoE } from "../../src/layers/moe.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { moe } from "../../src/config/components/moe.js";
import { add, mul, sigmoid } from "../../src/ops/elementwise.js";
import { scatterAdd } from "../../src/ops/indexing.js";
import { reshape, slice } from "../../src/ops/view.js";
import { sum } from "../../src/ops/reduce.js";
import { zeros } from "../../src/tensor/creation.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/node.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, gradcheck, randn64 } from "../helpers/gradcheck.js";

const d = 12;
type MoeInput = Partial<Parameters<typeof moe>[0]>;
function layer(p: MoeInput = {}, seed = 1): MoE {
  return new MoE(moe({ numExperts: 6, topK: 2, expertHidden: 10, ...p }), d, makeInit(seed, 0.3, 1, "float64"));
}

/** Every expert on every token, combined with the routing weights (0 for unselected experts). */
function denseReference(m: MoE, x2: Tensor): Tensor {
  const r = m.route(x2);
  const N = x2.shape[0]!;
  const { numExperts: E, topK: k } = m.spec;
  const W = scatterAdd(zeros([N, E], { dtype: x2.dtype }), 1, { data: r.experts, shape: [N, k] }, r.weights); // [N, E]
  let y: Tensor | null = null;
  for (let e = 0; e < E; e++) {
    const c = mul(m.expert(e, x2), slice(W, 1, e, e + 1));
    y = y ? add(y, c) : c;
  }
  if (m.shared_experts) {
    let sh = m.shared_experts.apply(x2);
    if (m.shared_expert_gate) sh = mul(sh, sigmoid(m.shared_expert_gate.forward(x2)));
    y = add(y!, sh);
  }
  return y!;
}

const variants: [string, MoeInput][] = [
  ["softmax top-2", {}],
  ["sigmoid, no renorm, scale 2.5, expert bias", { router: { scoring: "sigmoid", normalizeTopK: false, bias: true, scale: 2.5 }, expertBias: true }],
  ["gated shared expert, GeGLU", { shared: { count: 2, hidden: 4, gated: true }, activation: "gelu_tanh" }],
  ["top-1 of 3 experts", { numExperts: 3, topK: 1 }],
  ["group-limited sigmoid routing (3 groups, best 1)", { router: { scoring: "sigmoid", groups: 3, topKGroups: 1 } }],
  ["relu² experts + relu² shared expert, sigmoid × 2.5 (Nemotron-H)", { activation: "relu2", shared: { count: 1, hidden: 8, gated: false }, router: { scoring: "sigmoid", scale: 2.5 } }],
];

test("relu² experts are down(ReLU(up x)²) with no gate_proj; the shared expert too", () => {
  const m = layer({ activation: "relu2", expertBias: true, shared: { count: 1, hidden: 8, gated: false } });
  const names = m.namedParameters().map(([n]) => n);
  assert.ok(!names.some((n) => n.includes("gate_proj")), names.join(", "));
  const x = randn64([5, d], 4);
  const lin = (v: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number> | null, out: number, inF: number, wOff = 0, bOff = 0): number[] =>
    Array.from({ length: out }, (_, o) => {
      let s = b ? b[bOff + o]! : 0;
      for (let j = 0; j < inF; j++) s += v[j]! * W[wOff + o * inF + j]!;
      return s;
    });
  const h = 10;
  const e = 3;
  const up = m.experts.up_proj;
  const down = m.experts.down_proj;
  const got = noGrad(() => m.expert(e, x)).dense();
  const sh = noGrad(() => m.shared_experts!.apply(x)).dense();
  const shUp = (m.shared_experts as unknown as { up_proj: { weight: Tensor } }).up_proj.weight.dense();
  const shDown = (m.shared_experts as unknown as { down_proj: { weight: Tensor } }).down_proj.weight.dense();
  for (let n = 0; n < 5; n++) {
    const xn = x.dense().subarray(n * d, (n + 1) * d);
    const a = lin(xn, up.weight.dense(), up.bias!.dense(), h, d, e * h * d, e * h).map((v) => Math.max(v, 0) ** 2);
    assertClose(got.subarray(n * d, (n + 1) * d), lin(a, down.weight.dense(), down.bias!.dense(), d, h, e * d * h, e * d), 1e-12, 1e-13, `expert ${e} row ${n}`);
    const s = lin(xn, shUp, null, 8, d).map((v) => Math.max(v, 0) ** 2);
    assertClose(sh.subarray(n * d, (n + 1) * d), lin(s, shDown, null, d, 8), 1e-12, 1e-13, `shared row ${n}`);
  }
});

for (const [name, p] of variants)
  test(`MoE dispatch ≡ dense loop over experts: ${name}`, () => {
    const N = 37;
    const x = randn64([N, d], 3);
    const run = (dense: boolean): { y: number[]; grads: number[][] } => {
      const m = layer(p);
      const xi = new Tensor(Float64Array.from(x.dense()), [N, d]).requiresGrad_();
      const y = dense ? denseReference(m, xi) : m.forward(reshape(xi, [1, N, d]), layerContext(1, N));
      backward([sum(mul(y, randn64([N, d], 9)))]);
      return { y: y.toArray(), grads: [xi, ...m.parameters()].map((t) => t.grad?.toArray() ?? new Array(t.size).fill(0)) };
    };
    const a = run(false);
    const b = run(true);
    assertClose(a.y, b.y, 1e-12, 1e-13, "output");
    a.grads.forEach((g, i) => assertClose(g, b.grads[i]!, 1e-11, 1e-13, `grad ${i}`));
  });

test("group-limited routing picks experts from the best topKGroups groups only", () => {
  const m = layer({ numExperts: 8, topK: 3, router: { scoring: "softmax", groups: 4, topKGroups: 2 } });
  const N = 30;
  const r = noGrad(() => m.route(randn64([N, d], 11)));
  for (let n = 0; n < N; n++) {
    const groups = new Set(Array.from(r.experts.subarray(n * 3, n * 3 + 3), (e) => Math.floor(e / 2)));
    assert.ok(groups.size <= 2, `token ${n} uses groups ${[...groups]}`);
  }
});

test("MoE load counts sum to N·k; balance losses are positive and weighted", () => {
  const m = layer({ aux: { loadBalance: 0.01, zLoss: 0.001 } });
  const N = 50;
  const ctx = layerContext(2, 25, { computeLosses: true });
  noGrad(() => m.forward(reshape(randn64([N, d], 4), [2, 25, d]), ctx));
  assert.equal(m.lastLoad.reduce((a, b) => a + b, 0), N * 2);
  assert.equal(ctx.aux.length, 1);
  const { loadBalance, zLoss } = m.lastAux!;
  assert.ok(loadBalance > 0.5 && zLoss > 0, `lb ${loadBalance} z ${zLoss}`);
  assert.ok(Math.abs(ctx.aux[0]!.item() - (0.01 * loadBalance + 0.001 * zLoss)) < 1e-12);
  // perfectly uniform router (zero weights): every P_e = 1/E → L_lb = E·Σ f_e/E = 1, L_z = (ln E)²
  const u = layer();
  u.router.weight.data.fill(0);
  const ctx2 = layerContext(1, N, { computeLosses: true });
  noGrad(() => u.forward(reshape(randn64([N, d], 5), [1, N, d]), ctx2));
  assert.ok(Math.abs(u.lastAux!.loadBalance - 1) < 1e-12);
  assert.ok(Math.abs(u.lastAux!.zLoss - Math.log(6) ** 2) < 1e-12);
});

test("MoE compute touches only active experts; capacity factor drops overflow, ∞ equals dropless", () => {
  const N = 20;
  const x = reshape(randn64([N, d], 6), [1, N, d]);
  // bias the router so that only experts 1 and 4 are ever chosen
  const m = layer({ router: { bias: true } });
  m.router.bias!.data.fill(-50);
  m.router.bias!.data[1] = 50;
  m.router.bias!.data[4] = 50;
  const y = m.forward(x, layerContext(1, N));
  backward([sum(y)]);
  assert.deepEqual(Array.from(m.lastLoad), [0, N, 0, 0, N, 0]);
  const gUp = m.experts.up_proj.weight.grad!.dense();
  const per = 10 * d;
  for (const e of [0, 2, 3, 5]) assert.ok(gUp.subarray(e * per, (e + 1) * per).every((v) => v === 0), `expert ${e} got gradient`);
  // capacity: cf = 0.5 → each expert keeps ⌈N·k/E·0.5⌉ assignments
  const xs = reshape(randn64([N, d], 7), [1, N, d]);
  const dropless = noGrad(() => layer().forward(xs, layerContext(1, N))).toArray();
  const big = noGrad(() => layer({ capacityFactor: 6 }).forward(xs, layerContext(1, N))).toArray();
  assertClose(big, dropless, 1e-14, 1e-15, "cf = E");
  const small = layer({ capacityFactor: 0.5 });
  noGrad(() => small.forward(xs, layerContext(1, N)));
  const cap = Math.ceil(((N * 2) / 6) * 0.5);
  assert.ok(Math.max(...small.lastLoad) <= cap && small.lastLoad.reduce((a, b) => a + b, 0) < N * 2);
});

test("MoE gradients match finite differences (input and router)", () => {
  const m = layer({ shared: { count: 1, hidden: 5, gated: true } });
  const N = 9;
  gradcheck((x) => m.forward(reshape(x!, [1, N, d]), layerContext(1, N)), [randn64([N, d], 8)], { rtol: 1e-6 });
  gradcheck(
    (w) => {
      const saved = m.router.weight;
      (m.router as { weight: Tensor }).weight = w!;
      try {
        return m.forward(reshape(randn64([N, d], 8), [1, N, d]), layerContext(1, N, { computeLosses: false }));
      } finally {
        (m.router as { weight: Tensor }).weight = saved;
      }
    },
    [m.router.weight.detach()],
    { rtol: 1e-6 },
  );
});
