/**
 * Data sources: the built-in corpora, user .txt / .jsonl files and folders, and the errors for
 * missing, empty and malformed input (naming the file, and the line for JSONL).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChimeraError } from "../../src/errors.js";
import { loadDocuments } from "../../src/data/sources.js";

const dir = mkdtempSync(join(tmpdir(), "chimera-src-"));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test("sources: moby-dick is the book in order, one document per chapter", () => {
  const docs = loadDocuments("moby-dick");
  assert.equal(docs.length, 139);
  assert.equal(docs[0]!.name, "moby-dick/contents");
  assert.equal(docs[3]!.name, "moby-dick/chapter_1");
  assert.match(docs[3]!.text, /^CHAPTER 1\. Loomings\.\n\nCall me Ishmael\./);
  assert.equal(docs.at(-1)!.name, "moby-dick/epilogue");
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
  assert.ok(bytes > 1_150_000 && bytes < 1_300_000, `${bytes} bytes`);
});

test("sources: sotu is one document per address, in year order", () => {
  const docs = loadDocuments("sotu");
  assert.equal(docs.length, 233);
  assert.equal(docs[0]!.name, "sotu/1790_george_washington_n");
  const years = docs.map((d) => Number(d.name.slice(5, 9)));
  assert.deepEqual(years, [...years].sort((a, b) => a - b));
  assert.ok(docs.reduce((n, d) => n + d.text.length, 0) > 10_000_000);
});

test("sources: a text file, a JSONL file, a folder, and a comma list", () => {
  const txt = write("a.txt", "\ufeffHello\nworld\n");
  assert.deepEqual(loadDocuments(txt), [{ name: txt, text: "Hello\nworld\n" }]);
  const jsonl = write("b.jsonl", '{"text": "one"}\n\n{"text": "two", "id": 2}\r\n{"text": ""}\n');
  assert.deepEqual(loadDocuments(jsonl), [
    { name: `${jsonl}:1`, text: "one" },
    { name: `${jsonl}:3`, text: "two" },
  ]);
  const folder = join(dir, "corpus");
  mkdirSync(join(folder, "sub"), { recursive: true });
  writeFileSync(join(folder, "z.txt"), "last");
  writeFileSync(join(folder, "a.txt"), "first");
  writeFileSync(join(folder, "empty.txt"), "");
  writeFileSync(join(folder, "skip.bin"), "ignored");
  writeFileSync(join(folder, "sub", "m.jsonl"), '{"text": "middle"}\n');
  assert.deepEqual(loadDocuments(folder).map((d) => d.text), ["first", "middle", "last"]);
  assert.deepEqual(loadDocuments(`${txt},${jsonl}`).map((d) => d.text), ["Hello\nworld\n", "one", "two"]);
});

test("sources: missing, unknown, empty and malformed data stop with a message naming it", () => {
  assert.throws(() => loadDocuments("shakespeare"), /data 'shakespeare': not a built-in corpus \(moby-dick, sotu\) and no such file or folder/);
  assert.throws(() => loadDocuments(join(dir, "nope.txt")), ChimeraError);
  assert.throws(() => loadDocuments(""), /no data given/);
  const empty = write("empty.txt", "  \n");
  assert.throws(() => loadDocuments(empty), new RegExp(`${empty} is empty`));
  const bad = write("bad.jsonl", '{"text": "ok"}\n{"text": "fine"}\n{"text": oops}\n');
  assert.throws(() => loadDocuments(bad), (e: Error) => e instanceof ChimeraError && e.message.startsWith(`${bad}:3: malformed JSON line`));
  const noText = write("notext.jsonl", '{"text": "ok"}\n{"body": "x"}\n');
  assert.throws(() => loadDocuments(noText), new RegExp(`${noText}:2: expected an object with a string "text" field`));
  const emptyFolder = join(dir, "void");
  mkdirSync(emptyFolder);
  assert.throws(() => loadDocuments(emptyFolder), /has no \.txt or \.jsonl files/);
  writeFileSync(join(emptyFolder, "blank.txt"), "");
  assert.throws(() => loadDocuments(emptyFolder), /every file in folder .* is empty/);
});
