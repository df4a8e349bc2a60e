/**
 * The shape of one CLI sub-command. Each file in `src/cli/commands/` default-exports one
 * `Command`; `main.ts` discovers them by file name, so adding a command touches no other file.
 */
export interface Command {
  /** Name typed after `chimera`, equal to the file name (`spec` ↔ `commands/spec.ts`). */
  name: string;
  /** One line for `chimera --help`. */
  summary: string;
  /** Full text for `chimera <name> --help`: usage line, flags, examples. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** An error whose message is shown to the user as-is (no stack trace), with exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
