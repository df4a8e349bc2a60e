/**
 * Multi-head latent attention (DeepSeek-V2/V3; components.md §9, DeepSeek-V3 `inference/model.py`).
 * q = W_qb RMSNorm(W_qa x) (or W_q x when qLoraRank = 0), split per head into [nope | rope];
 * [c_kv ; k_rope] = W_kva x, c_kv ← RMSNorm(c_kv); [k_nope ; v] = W_kvb c_kv per head; k_rope is one
 * vector shared by all heads; out = W_o concat(o_h). Parameter names follow the reference code.
 *
 * Parameters (d width, H heads, r_q q rank, r_kv kv rank, n nope dim, p rope dim, v value dim):
 *   wq_a [r_q, d], q_norm [r_q], wq_b [H·(n+p), r_q]   (or wq [H·(n+p), d])
 *   wkv_a [r_kv + p, d], kv_norm [r_kv], wkv_b [H·(n+v), r_kv], wo [d, H·v]
 * KV cache per token: r_kv + p elements (the latent and the shared rope key).
 * FLOPs: counted in the non-absorbed form (scores over n+p dims, values over v dims per head).
 */
import { ConfigError } from "../../errors.js";
import type { Obj } from "../reader.js";
import { averageKeys, linear, whole, type ComponentKind, type ParamShape } from "./kind.js";
import { describeRope, parseRopeParams, type RopeParams } from "./rope.js";

export interface MlaSpec {
  kind: "mla";
  numHeads: number;
  /** 0 = full-rank query projection `wq`. */
  qLoraRank: number;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  /** eps of the latent RMSNorms. */
  normEps: number;
  /** Absent: the model's positional RoPE. */
  rope?: RopeParams | null;
}

type MlaInput = Omit<MlaSpec, "kind" | "normEps"> & Partial<Pick<MlaSpec, "normEps">>;

export function mla(p: MlaInput): MlaSpec {
  return { kind: "mla", normEps: 1e-6, ...p };
}

export const mlaKind: ComponentKind<MlaSpec> = {
  kind: "mla",
  about: "multi-head latent attention (DeepSeek-V3): compressed KV cache of kvLoraRank + rope dims",
  parse(o: Obj): MlaSpec {
    const spec: MlaSpec = {
      kind: "mla",
      numHeads: o.int("numHeads"),
      qLoraRank: o.int("qLoraRank", { min: 0 }, 0),
      kvLoraRank: o.int("kvLoraRank"),
      qkNopeHeadDim: o.int("qkNopeHeadDim"),
      qkRopeHeadDim: o.int("qkRopeHeadDim"),
      vHeadDim: o.int("vHeadDim"),
      normEps: o.num("normEps", { above: 0, below: 1 }, 1e-6),
    };
    if (spec.qkRopeHeadDim % 2 !== 0) throw new ConfigError(o.at("qkRopeHeadDim"), `must be even (got ${spec.qkRopeHeadDim})`);
    if (o.has("rope")) {
      const r = o.objOrNull("rope");
      spec.rope = r ? parseRopeParams(r) : null;
      r?.done();
      if (spec.rope && spec.rope.fraction !== 1)
        throw new ConfigError(o.at("rope.fraction"), `must be 1: MLA rotates all qkRopeHeadDim dims (its partial rotation is the qkNopeHeadDim | qkRopeHeadDim split)`);
    } else o.raw("rope");
    return spec;
  },
  describe: (s) =>
    `mla ${s.numHeads} heads, q rank ${s.qLoraRank || "full"}, kv rank ${s.kvLoraRank}, qk ${s.qkNopeHeadDim}+${s.qkRopeHeadDim}, v ${s.vHeadDim}` +
    (s.rope === null ? ", NoPE" : s.rope ? `, ${describeRope(s.rope)}` : ""),
  shapes(s, env) {
    const d = env.dModel;
    const qk = s.qkNopeHeadDim + s.qkRopeHeadDim;
    const out: ParamShape[] =
      s.qLoraRank > 0
        ? [...linear("wq_a", d, s.qLoraRank, false), { name: "q_norm.weight", shape: [s.qLoraRank] }, ...linear("wq_b", s.qLoraRank, s.numHeads * qk, false)]
        : linear("wq", d, s.numHeads * qk, false);
    out.push(
      ...linear("wkv_a", d, s.kvLoraRank + s.qkRopeHeadDim, false),
      { name: "kv_norm.weight", shape: [s.kvLoraRank] },
      ...linear("wkv_b", s.kvLoraRank, s.numHeads * (s.qkNopeHeadDim + s.vHeadDim), false),
      ...linear("wo", s.numHeads * s.vHeadDim, d, false),
    );
    return out;
  },
  params(s, env) {
    const d = env.dModel;
    const qk = s.qkNopeHeadDim + s.qkRopeHeadDim;
    const q = s.qLoraRank > 0 ? d * s.qLoraRank + s.qLoraRank + s.qLoraRank * s.numHeads * qk : d * s.numHeads * qk;
    const kv = d * (s.kvLoraRank + s.qkRopeHeadDim) + s.kvLoraRank + s.kvLoraRank * s.numHeads * (s.qkNopeHeadDim + s.vHeadDim);
    return whole(q + kv + s.numHeads * s.vHeadDim * d);
  },
  extraFlops: (s, _env, context) =>
    2 * s.numHeads * (s.qkNopeHeadDim + s.qkRopeHeadDim + s.vHeadDim) * averageKeys(context, null),
  cache: (s) => ({ kvElemsPerToken: s.kvLoraRank + s.qkRopeHeadDim, window: null, stateElemsFp32: 0, convStateElems: 0 }),
};
