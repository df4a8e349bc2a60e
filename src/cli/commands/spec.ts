/**
 * `chimera spec <preset|config.json> [--context N] [--dtype bf16] [--json] [--shapes]`: the
 * resolved config and its exact cost — parameters (total, active, embedding, per component),
 * FLOPs per token (forward, train) at a context, KV-cache / recurrent-state / weight / training
 * memory — all computed by formula from the config (src/config/cost.ts).
 */
import { ChimeraError } from "../../errors.js";
import { costOf, loadConfig, paramShapes, toJson, type Cost, type ModelConfig } from "../../config/index.js";
import { bytes, describeConfig, flops, int, si } from "../../config/format.js";
import { numberFlag, parseArgs } from "../args.js";
import { UsageError, type Command } from "../command.js";

const DTYPES: Record<string, number> = { bf16: 2, fp16: 2, fp32: 4, fp8: 1 };

const help = `Usage: chimera spec <preset|config.json> [--context N] [--dtype bf16|fp16|fp32|fp8] [--json] [--shapes]

Prints the resolved config and its exact cost, computed by formula from the config:
  params.total / .active (per token, MoE-aware) / .embedding / per-component breakdown,
  flopsPerToken.forward and .train (= 3 × forward) at context N,
  memory.kvCacheBytesPerToken, .recurrentStateBytes (per sequence), .weightsBytes, .trainingBytes.

Options:
  --context N   context length for attention FLOPs and the KV cache (default: the config's)
  --dtype T     element type of weights, KV cache and conv state (default bf16)
  --json        print one JSON object {params, flopsPerToken, memory, layers, config}
  --shapes      also list every parameter tensor (name and shape)

Examples:
  chimera spec hybrid-235b
  chimera spec llama3-8b --context 8192 --json
  chimera spec ./my-model.json --shapes`;

function table(rows: string[][], align: ("l" | "r")[]): string[] {
  const widths = align.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => "  " + r.map((cell, c) => (align[c] === "r" ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("   ").trimEnd());
}

function human(cfg: ModelConfig, cost: Cost, dtype: string, withShapes: boolean): string {
  const p = cost.params;
  const m = cost.memory;
  const out = [`${cfg.name} — ${cfg.description}`];
  if (cfg.source) out.push(`source: ${cfg.source}`);
  out.push("", "Config", ...describeConfig(cfg), "", "Parameters");
  const rows = [["component", "total", "", "active", ""]];
  for (const [k, v] of Object.entries(p.breakdown)) rows.push([k, int(v.total), si(v.total), int(v.active), si(v.active)]);
  rows.push(["total", int(p.total), si(p.total), int(p.active), si(p.active)]);
  out.push(...table(rows, ["l", "r", "r", "r", "r"]));
  out.push(
    ...table(
      [
        ["embedding (token + position tables + untied head)", int(p.embedding), si(p.embedding)],
        ["non-embedding", int(p.nonEmbedding), si(p.nonEmbedding)],
        ["multi-token prediction (included in total)", int(p.mtp), si(p.mtp)],
        ["active without MTP", int(p.activeWithoutMtp), si(p.activeWithoutMtp)],
      ],
      ["l", "r", "r"],
    ),
  );
  const f = cost.flopsPerToken;
  out.push("", `FLOPs per token at context ${int(cost.context)} (2 per multiply-add; attention averaged over the causal context)`);
  out.push(
    ...table(
      [
        ["forward", int(f.forward), flops(f.forward)],
        ["train (3 × forward)", int(f.train), flops(f.train)],
        ["forward without MTP", int(f.forwardWithoutMtp), flops(f.forwardWithoutMtp)],
      ],
      ["l", "r", "r"],
    ),
  );
  out.push("", `Memory (${dtype} = ${cost.dtypeBytes} B per element; recurrent state fp32)`);
  out.push(
    ...table(
      [
        ["KV cache per token", int(m.kvCacheBytesPerToken) + " B", bytes(m.kvCacheBytesPerToken)],
        [`KV cache per sequence at context ${int(cost.context)}`, int(m.kvCacheBytes) + " B", bytes(m.kvCacheBytes)],
        ["recurrent state per sequence", int(m.recurrentStateBytes) + " B", bytes(m.recurrentStateBytes)],
        ...(m.recurrentStateBytes > 0
          ? [
              ["  DeltaNet / SSM state (fp32)", int(m.recurrentState.deltaStateBytes) + " B", bytes(m.recurrentState.deltaStateBytes)],
              ["  conv state", int(m.recurrentState.convStateBytes) + " B", bytes(m.recurrentState.convStateBytes)],
            ]
          : []),
        [`weights (${dtype})`, int(m.weightsBytes) + " B", bytes(m.weightsBytes)],
        ["weights (fp32)", int(m.weightsBytesByDtype.fp32) + " B", bytes(m.weightsBytesByDtype.fp32)],
        ["training: fp32 weights + grads + AdamW m, v (16 B/param)", int(m.trainingBytes) + " B", bytes(m.trainingBytes)],
      ],
      ["l", "r", "r"],
    ),
  );
  if (withShapes) {
    out.push("", "Parameter tensors");
    out.push(...table(paramShapes(cfg).map((s) => [s.name, `[${s.shape.join(", ")}]`]), ["l", "l"]));
  }
  return out.join("\n");
}

const spec: Command = {
  name: "spec",
  summary: "resolved config and exact parameter / FLOP / memory accounting of a preset or config file",
  help,
  async run(argv) {
    const { flags, positional } = parseArgs("spec", argv, {
      context: { type: "string" },
      dtype: { type: "string" },
      json: { type: "boolean" },
      shapes: { type: "boolean" },
    });
    if (positional.length !== 1) throw new UsageError(`chimera spec: expected one preset name or config file (see 'chimera spec --help')`);
    const dtype = (flags.dtype as string | undefined) ?? "bf16";
    if (!(dtype in DTYPES)) throw new UsageError(`chimera spec: --dtype must be one of ${Object.keys(DTYPES).join(", ")} (got '${dtype}')`);
    let cfg: ModelConfig;
    try {
      cfg = loadConfig(positional[0]!);
    } catch (e) {
      if (e instanceof ChimeraError) {
        console.error(`chimera spec: ${e.message}`);
        return 2;
      }
      throw e;
    }
    const context = numberFlag("spec", flags, "context", cfg.contextLength, { integer: true, min: 1 });
    const cost = costOf(cfg, { context, dtypeBytes: DTYPES[dtype]! });
    if (flags.json) {
      const { params, flopsPerToken, memory, layers } = cost;
      const out: Record<string, unknown> = { name: cfg.name, context, dtype, params, flopsPerToken, memory, layers, config: toJson(cfg) };
      if (flags.shapes) out.shapes = paramShapes(cfg);
      console.log(JSON.stringify(out, null, 2));
    } else console.log(human(cfg, cost, dtype, flags.shapes === true));
    return 0;
  },
};

export default spec;
