/**
 * `chimera presets [--json] [--family F]`: every preset with its family, parameter counts
 * (computed from its config, total and active) and a one-line description.
 */
import { costOf, getPreset, listPresets } from "../../config/index.js";
import { si } from "../../config/format.js";
import { parseArgs } from "../args.js";
import { UsageError, type Command } from "../command.js";

const help = `Usage: chimera presets [--json] [--family F]

Lists the model presets: name, family, total / active parameters (computed from the config)
and a one-line description. Use a name with 'chimera spec <name>'.

Options:
  --json       print a JSON array of {name, family, description, params: {total, active}}
  --family F   only presets of family F (hybrid, gpt2, llama, …)`;

const presets: Command = {
  name: "presets",
  summary: "list model presets with their sizes and a one-line description",
  help,
  async run(argv) {
    const { flags, positional } = parseArgs("presets", argv, { json: { type: "boolean" }, family: { type: "string" } });
    if (positional.length > 0) throw new UsageError(`chimera presets: unexpected argument '${positional[0]}'`);
    const family = flags.family as string | undefined;
    const all = listPresets();
    const families = [...new Set(all.map((p) => p.family))];
    if (family !== undefined && !families.includes(family))
      throw new UsageError(`chimera presets: unknown family '${family}' (families: ${families.join(", ")})`);
    const rows = all
      .filter((p) => family === undefined || p.family === family)
      .map((p) => {
        const c = costOf(getPreset(p.name));
        return { ...p, params: { total: c.params.total, active: c.params.active } };
      });
    if (flags.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    const nw = Math.max(...rows.map((r) => r.name.length));
    const fw = Math.max(...rows.map((r) => r.family.length));
    console.log(`  ${"name".padEnd(nw)}  ${"family".padEnd(fw)}  ${"total".padStart(8)}  ${"active".padStart(8)}  description`);
    for (const r of rows)
      console.log(
        `  ${r.name.padEnd(nw)}  ${r.family.padEnd(fw)}  ${si(r.params.total).padStart(8)}  ${si(r.params.active).padStart(8)}  ${r.description}`,
      );
    return 0;
  },
};

export default presets;
