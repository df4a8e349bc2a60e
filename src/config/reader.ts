/**
 * Path-aware reading of untyped JSON into typed config values. Every failure throws a
 * `ConfigError` naming the field path (`layers[3].sublayers[1].attention.numKvHeads`) and the rule
 * that was broken; unknown fields are errors with a "did you mean" hint, so typos never pass
 * silently. Used by `validate.ts` and by each component kind's `parse`.
 */
import { ConfigError } from "../errors.js";

/** Joins a parent path and a key: `""+"a" → "a"`, `"a"+"b" → "a.b"`, `"a"+3 → "a[3]"`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/** A short description of a JSON value's type for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Names from `candidates` close to `name` (edit distance or substring), best first. */
export function closeNames(name: string, candidates: readonly string[], max = 5): string[] {
  const lower = name.toLowerCase();
  return candidates
    .map((c) => {
      const cl = c.toLowerCase();
      const d = editDistance(lower, cl);
      const sub = cl.includes(lower) || lower.includes(cl);
      return { c, score: sub ? Math.min(d, 1) : d };
    })
    .filter((x) => x.score <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.score - b.score || a.c.localeCompare(b.c))
    .slice(0, max)
    .map((x) => x.c);
}

interface NumberRule {
  /** Must be an integer. */
  integer?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound (e.g. eps > 0). */
  above?: number;
  /** Exclusive upper bound (e.g. dropout < 1). */
  below?: number;
}

/**
 * A JSON object being read at `path`. Each accessor marks its key as used; `done()` then rejects
 * any key nobody read.
 */
export class Obj {
  private readonly used = new Set<string>();

  private constructor(
    readonly value: Record<string, unknown>,
    readonly path: string,
  ) {}

  /** Wraps `v`, which must be a plain JSON object. */
  static from(v: unknown, path: string): Obj {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      throw new ConfigError(path || "(root)", `expected an object, got ${typeName(v)}`);
    return new Obj(v as Record<string, unknown>, path);
  }

  at(key: string): string {
    return joinPath(this.path, key);
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.value, key) && this.value[key] !== undefined;
  }

  /** The raw value of `key` (marks it used). */
  raw(key: string): unknown {
    this.used.add(key);
    return this.value[key];
  }

  private required(key: string): unknown {
    if (!this.has(key)) throw new ConfigError(this.at(key), "required field is missing");
    return this.raw(key);
  }

  /** A number obeying `rule`; `fallback` is used when the key is absent. */
  num(key: string, rule: NumberRule = {}, fallback?: number): number {
    const v = this.has(key) || fallback === undefined ? this.required(key) : (this.raw(key), fallback);
    return checkNumber(v, this.at(key), rule);
  }

  /** A positive integer (≥ 1 unless `rule.min` says otherwise). */
  int(key: string, rule: NumberRule = {}, fallback?: number): number {
    return this.num(key, { min: 1, ...rule, integer: true }, fallback);
  }

  /** A number, or null when given as null or absent with `fallback` null. */
  numOrNull(key: string, rule: NumberRule = {}, fallback: number | null = null): number | null {
    if (!this.has(key)) return (this.raw(key), fallback);
    const v = this.raw(key);
    return v === null ? null : checkNumber(v, this.at(key), rule);
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.has(key) || fallback === undefined ? this.required(key) : (this.raw(key), fallback);
    if (typeof v !== "boolean") throw new ConfigError(this.at(key), `expected true or false, got ${typeName(v)}`);
    return v;
  }

  str(key: string, fallback?: string): string {
    const v = this.has(key) || fallback === undefined ? this.required(key) : (this.raw(key), fallback);
    if (typeof v !== "string") throw new ConfigError(this.at(key), `expected a string, got ${typeName(v)}`);
    return v;
  }

  optStr(key: string): string | undefined {
    return this.has(key) ? this.str(key) : (this.raw(key), undefined);
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T {
    const v = this.str(key, fallback);
    if (!(options as readonly string[]).includes(v)) {
      const near = closeNames(v, options, 1);
      throw new ConfigError(
        this.at(key),
        `must be one of ${options.map((o) => `'${o}'`).join(", ")} (got '${v}')${near.length ? `; did you mean '${near[0]}'?` : ""}`,
      );
    }
    return v as T;
  }

  /** A nested object. */
  obj(key: string): Obj {
    return Obj.from(this.required(key), this.at(key));
  }

  /** A nested object, or null when null/absent. */
  objOrNull(key: string): Obj | null {
    if (!this.has(key)) return (this.raw(key), null);
    const v = this.raw(key);
    return v === null ? null : Obj.from(v, this.at(key));
  }

  /** A non-empty-unless-allowed array; returns items with their paths. */
  arr(key: string, opts: { nonEmpty?: boolean } = {}): { item: unknown; path: string }[] {
    const v = this.required(key);
    if (!Array.isArray(v)) throw new ConfigError(this.at(key), `expected an array, got ${typeName(v)}`);
    if (opts.nonEmpty && v.length === 0) throw new ConfigError(this.at(key), "must not be empty");
    return v.map((item, i) => ({ item, path: joinPath(this.at(key), i) }));
  }

  /** Throws on any key that no accessor read, suggesting the closest known key. */
  done(known: readonly string[] = [...this.used]): void {
    for (const k of Object.keys(this.value)) {
      if (this.used.has(k) || this.value[k] === undefined) continue;
      const near = closeNames(k, known, 1);
      throw new ConfigError(this.at(k), `unknown field${near.length ? `; did you mean '${near[0]}'?` : ""}`);
    }
  }

  /** A throwable error at `key` (or at this object when key is omitted). */
  error(key: string | undefined, rule: string): ConfigError {
    return new ConfigError(key === undefined ? this.path || "(root)" : this.at(key), rule);
  }
}

/** Checks a value against a number rule, naming `path` on failure. */
export function checkNumber(v: unknown, path: string, rule: NumberRule): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(path, `expected a finite number, got ${typeName(v)}`);
  if (rule.integer && !Number.isInteger(v)) throw new ConfigError(path, `must be an integer (got ${v})`);
  if (rule.min !== undefined && v < rule.min) throw new ConfigError(path, `must be ≥ ${rule.min} (got ${v})`);
  if (rule.max !== undefined && v > rule.max) throw new ConfigError(path, `must be ≤ ${rule.max} (got ${v})`);
  if (rule.above !== undefined && v <= rule.above) throw new ConfigError(path, `must be > ${rule.above} (got ${v})`);
  if (rule.below !== undefined && v >= rule.below) throw new ConfigError(path, `must be < ${rule.below} (got ${v})`);
  return v;
}
