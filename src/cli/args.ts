/**
 * Minimal, strict flag parser for the CLI: `--name value`, `--name=value`, boolean `--flag`,
 * positional arguments. Unknown flags are an error that names the flag and the command.
 */
import { UsageError } from "./command.js";

export interface FlagSpec {
  /** "string" takes a value; "boolean" takes none. */
  type: "string" | "boolean";
  /** Short alias without dash, e.g. "n". */
  alias?: string;
  /** May be given several times; values collected in order. */
  multiple?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

export function parseArgs(command: string, argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const positional: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.alias) byAlias.set(s.alias, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const a = arg.slice(1);
      const full = byAlias.get(a);
      if (!full) throw new UsageError(`chimera ${command}: unknown flag '${arg}' (see 'chimera ${command} --help')`);
      name = full;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`chimera ${command}: unknown flag '--${name}' (see 'chimera ${command} --help')`);
    let value: string | boolean;
    if (s.type === "boolean") {
      if (inline !== undefined && inline !== "true" && inline !== "false")
        throw new UsageError(`chimera ${command}: flag '--${name}' takes no value (got '${inline}')`);
      value = inline === undefined ? true : inline === "true";
    } else {
      if (inline !== undefined) value = inline;
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new UsageError(`chimera ${command}: flag '--${name}' needs a value`);
        value = next;
        i++;
      }
    }
    if (s.multiple) {
      const prev = (flags[name] as string[] | undefined) ?? [];
      prev.push(String(value));
      flags[name] = prev;
    } else flags[name] = value;
  }
  return { flags, positional };
}

/** Reads a numeric flag; names the flag in the error when it is not a finite number in range. */
export function numberFlag(
  command: string,
  flags: ParsedArgs["flags"],
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v))
    throw new UsageError(`chimera ${command}: --${name} must be a number (got '${String(raw)}')`);
  if (opts.integer && !Number.isInteger(v)) throw new UsageError(`chimera ${command}: --${name} must be an integer (got ${raw})`);
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`chimera ${command}: --${name} must be ≥ ${opts.min} (got ${raw})`);
  if (opts.max !== undefined && v > opts.max) throw new UsageError(`chimera ${command}: --${name} must be ≤ ${opts.max} (got ${raw})`);
  return v;
}
