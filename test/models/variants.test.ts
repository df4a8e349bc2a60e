// Model variants beyond the hybrid: every positional encoding, every norm placement, MLP kinds,
// tied head with bias — each decodes with its cache exactly as the full forward and trains every
// parameter. Plus the MTP head's target alignment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { attnSub, ffnSub, model, mtpSub } from "../../src/config/build.js";
import { gqa } from "../../src/config/components/gqa.js";
import { swiglu } from "../../src/config/components/swiglu.js";
import { geglu } from "../../src/config/components/geglu.js";
import { geluMlp } from "../../src/config/components/gelu_mlp.js";
import { rmsnorm } from "../../src/config/components/rmsnorm.js";
import { layernorm } from "../../src/config/components/layernorm.js";
import { rope } from "../../src/config/components/rope.js";
import { parallelMtpHead } from "../../src/config/components/mtp_head.js";
import type { NormPlacement, NormSpec } from "../../src/config/components/norms.js";
import type { FfnSpec, ModelConfig, PositionalSpec } from "../../src/config/types.js";
import { pattern } from "../../src/config/pattern.js";
import { buildModel } from "../../src/models/causal_lm.js";
import { ParallelMtpHead, shiftTargets } from "../../src/layers/mtp.js";
import { layerContext } from "../../src/layers/context.js";
import { makeInit } from "../../src/layers/init.js";
import { crossEntropy } from "../../src/ops/softmax.js";
import { linear } from "../../src/ops/matmul.js";
import { reshape } from "../../src/ops/view.js";
import { concat } from "../../src/ops/shape.js";
import { noGrad } from "../../src/autograd/node.js";
import { backward } from "../../src/autograd/backward.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, randn64 } from "../helpers/gradcheck.js";
import { nextTokenTargets, tokens } from "./tiny_configs.js";

function dense(positional: PositionalSpec, norm: NormPlacement, ffn: FfnSpec, extra: Partial<ModelConfig> = {}): ModelConfig {
  const d = 16;
  return model({
    name: "test-dense",
    description: "",
    source: "test",
    vocabSize: 40,
    dModel: d,
    contextLength: 32,
    positional,
    layers: pattern({ sublayers: [attnSub(gqa({ numHeads: 2, numKvHeads: 1, headDim: 8 }), norm), ffnSub(ffn, norm)] }, 2),
    finalNorm: rmsnorm(),
    head: { tied: false, bias: false },
    ...extra,
  });
}

const pre = (n: NormSpec = rmsnorm()): NormPlacement => ({ placement: "pre", ...n });
const VARIANTS: [string, ModelConfig][] = [
  ["RoPE, pre-norm RMSNorm, SwiGLU", dense(rope(1e4), pre(), swiglu(24))],
  ["sinusoidal, post-norm (OLMo 2)", dense({ kind: "sinusoidal", base: 10_000 }, { placement: "post", ...rmsnorm() }, swiglu(24))],
  ["learned, LayerNorm pre-norm, GELU MLP, tied head + bias (GPT-2)", dense({ kind: "learned", maxPositions: 32 }, pre(layernorm()), geluMlp(32), { head: { tied: true, bias: true }, finalNorm: layernorm() })],
  ["NoPE, sandwich (1+w) norms, GeGLU, √d embedding scale", dense({ kind: "none" }, { placement: "sandwich", ...rmsnorm(1e-6, true) }, geglu(24), { embedding: { dropout: 0, scaleBySqrtD: true } })],
  ["RoPE, post-residual LayerNorm (original Transformer)", dense(rope(1e4, 0.5), { placement: "post_residual", ...layernorm() }, swiglu(24))],
  ["RoPE, no norms, no final norm", dense(rope(1e4), { placement: "none" }, swiglu(24), { finalNorm: null })],
];

for (const [name, cfg] of VARIANTS)
  test(`variant decodes ≡ full forward and trains every parameter: ${name}`, () => {
    const m = buildModel(cfg, { seed: 2 });
    const B = 2;
    const T = 12;
    const ids = tokens(B * T, cfg.vocabSize, 6);
    noGrad(() => {
      m.eval();
      const full = m.forward(ids, B, T).logits.dense();
      const st = m.newState(B);
      const parts: Tensor[] = [];
      for (let t = 0; t < T; t += t < 5 ? 5 : 1) {
        const n = t < 5 ? 5 : 1;
        const chunk = new Int32Array(B * n);
        for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) chunk[b * n + j] = ids[b * T + t + j]!;
        parts.push(m.forward(chunk, B, n, { state: st }).logits);
      }
      assertClose(concat(parts, 1).dense(), full, 1e-5, 1e-6, name);
    });
    m.train();
    const r = m.forward(ids, B, T, { targets: nextTokenTargets(ids, B, T) });
    backward([r.loss!]);
    for (const [n, p] of m.namedParameters()) assert.ok(p.grad && p.grad.dense().some((v) => v !== 0), `${n} has no gradient`);
  });

test("MTP head: offset o at position t is scored against targets[t+o]; past the end is ignored", () => {
  assert.deepEqual(Array.from(shiftTargets(Int32Array.of(1, 2, 3, 4, 5, 6), 2, 3, 1, -1)), [2, 3, -1, 5, 6, -1]);
  const d = 8;
  const V = 11;
  const head = new ParallelMtpHead(parallelMtpHead(3, 0.3, true), d, makeInit(1, 0.3, 1, "float64"));
  const U = randn64([V, d], 2);
  const B = 2;
  const T = 5;
  const h = randn64([B, T, d], 3);
  const targets = Int32Array.from(tokens(B * T, V, 4));
  const ctx = layerContext(B, T, { computeLosses: true, targets, unembed: (x) => linear(x, U) });
  const out = head.forward(h, ctx);
  assert.equal(out, h, "the residual stream passes through unchanged");
  assert.equal(ctx.mtp.length, 1);
  let want = 0;
  for (let o = 0; o < 3; o++) {
    const logits = linear(head.proj.at(o).forward(h), U);
    want += crossEntropy(reshape(logits, [B * T, V]), shiftTargets(targets, B, T, o, -100)).item() / 3;
  }
  assert.ok(Math.abs(ctx.mtp[0]!.loss.item() - want) < 1e-12);
  assert.equal(ctx.mtp[0]!.weight, 0.3);
  // without targets the head does nothing
  const quiet = layerContext(B, T);
  head.forward(h, quiet);
  assert.equal(quiet.mtp.length, 0);
});

test("MTP head with a post placement reads the post-normalised stream and trains its norm", () => {
  const cfg = dense(rope(1e4), pre(), swiglu(24));
  cfg.layers[1]!.sublayers.push(mtpSub(parallelMtpHead(2, 0.3), { placement: "post", ...rmsnorm() }, "mtp"));
  const m = buildModel(cfg, { seed: 1 });
  const ids = tokens(12, cfg.vocabSize);
  const r = m.forward(ids, 1, 12, { targets: nextTokenTargets(ids, 1, 12) });
  assert.ok(r.lossMtp!.item() > 0);
  backward([r.loss!]);
  assert.ok(new Map(m.namedParameters()).get("layers.1.mtp.post_norm.weight")!.grad);
});
