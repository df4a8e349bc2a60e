/**
 * User-facing errors. A `ChimeraError` message is printed by the CLI without a stack trace, so
 * it must say what is wrong and where (op and shapes, config field path, file and line).
 */
export class ChimeraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChimeraError";
  }
}

/** Error raised by a tensor op: names the op and the shapes involved. */
export class OpError extends ChimeraError {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
  }
}

/** Error raised by config validation: names the field path and the violated rule. */
export class ConfigError extends ChimeraError {
  constructor(
    public readonly path: string,
    rule: string,
  ) {
    super(`config: ${path}: ${rule}`);
  }
}
