#!/usr/bin/env node
/**
 * `chimera` entry point. Sub-commands live one per file in `./commands/` and are found by name,
 * so `chimera spec …` loads `commands/spec.js`.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError, type Command } from "./command.js";

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), "commands");

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts") && !f.endsWith(".map"))
    .map((f) => f.replace(/\.(js|ts)$/, ""))
    .filter((n, i, all) => all.indexOf(n) === i)
    .sort();
}

async function load(name: string): Promise<Command> {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const mod = (await import(join(commandsDir, name + ext))) as { default: Command };
  return mod.default;
}

async function main(argv: string[]): Promise<number> {
  const names = commandNames();
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const lines = ["chimera — build, train, run, compare and plan LLM architectures", "", "Usage: chimera <command> [options]", "", "Commands:"];
    for (const n of names) lines.push(`  ${n.padEnd(12)} ${(await load(n)).summary}`);
    lines.push("", "Run 'chimera <command> --help' for the options of one command.");
    console.log(lines.join("\n"));
    return 0;
  }
  if (first === "--version" || first === "-v") {
    console.log("chimera 0.1.0");
    return 0;
  }
  if (!names.includes(first)) {
    console.error(`chimera: unknown command '${first}'. Commands: ${names.join(", ")}`);
    return 2;
  }
  const cmd = await load(first);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(cmd.help);
    return 0;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && err.name === "ChimeraError")) {
      console.error(err.message);
      process.exitCode = 2;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
