import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { buildModel } from "../../src/models/causal_lm.js";
import { InferenceEngine } from "../../src/inference/engine.js";
import { Scheduler } from "../../src/inference/scheduler.js";
import { createChimeraServer, type ChimeraServer } from "../../src/server/index.js";
import { letterTokenizer, tinyHybrid } from "../inference/tiny.js";
import { tinyConfig } from "../helpers/tiny.js";

const V = 24;
const tok = letterTokenizer(V);
let server: ChimeraServer;
let base: string;
let engine: InferenceEngine;
let client: OpenAI;
const log: string[] = [];

before(async () => {
  const model = buildModel(tinyHybrid({ vocab: V, std: 0.2, mtpDepth: 3, contextLength: 96 }), { seed: 3 });
  engine = new InferenceEngine(model, { numBlocks: 48, blockSize: 8 });
  const scheduler = new Scheduler(engine, tok, { maxBatch: 8, prefillChunk: 32 });
  server = createChimeraServer({ scheduler, tokenizer: tok, modelId: "tiny", maxConcurrent: 16, maxTokens: 80, log: (l) => log.push(l) });
  const addr = await server.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${addr.port}`;
  client = new OpenAI({ apiKey: "unused", baseURL: `${base}/v1`, maxRetries: 0, timeout: 30_000 });
});

after(async () => {
  await server.close(1000);
});

const blocksUsed = () => engine.pool!.groups.reduce((s, g) => s + g.allocator.numUsed, 0);

async function post(path: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const r = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

test("health and models endpoints", async () => {
  const h = await (await fetch(`${base}/health`)).json();
  assert.equal(h.status, "ok");
  assert.equal(h.model, "tiny");
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["tiny"]);
  const m = await client.models.retrieve("tiny");
  assert.equal(m.id, "tiny");
});

test("openai client: completion, streamed completion and streamed chat agree with each other", async () => {
  const prompt = "abcabcab";
  const plain = await client.completions.create({ model: "tiny", prompt, max_tokens: 12, temperature: 0 });
  assert.equal(plain.object, "text_completion");
  assert.equal(plain.usage!.prompt_tokens, 8);
  assert.ok(plain.choices[0]!.finish_reason === "length" || plain.choices[0]!.finish_reason === "stop");
  const stream = await client.completions.create({ model: "tiny", prompt, max_tokens: 12, temperature: 0, stream: true });
  let text = "";
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, plain.choices[0]!.text);
  assert.equal(finish, plain.choices[0]!.finish_reason);
  // speculative (MTP drafts) greedy gives the same text
  const spec = await post("/v1/completions", { model: "tiny", prompt, max_tokens: 12, temperature: 0, speculative: true });
  assert.equal(spec.json.choices[0].text, plain.choices[0]!.text);
  assert.ok(spec.json.chimera.acceptance_rate >= 0);
  const chat = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "abc" }], max_tokens: 10, temperature: 0, stream: true });
  let reply = "";
  let role = "";
  for await (const chunk of chat) {
    reply += chunk.choices[0]?.delta?.content ?? "";
    role ||= chunk.choices[0]?.delta?.role ?? "";
  }
  assert.equal(role, "assistant");
  const whole = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "abc" }], max_tokens: 10, temperature: 0 });
  assert.equal(whole.choices[0]!.message.content, reply);
  const lp = await client.completions.create({ model: "tiny", prompt, max_tokens: 3, temperature: 0, logprobs: 2 });
  assert.equal(lp.choices[0]!.logprobs!.token_logprobs!.length, 3);
});

test("concurrent streams complete while one client disconnects mid-stream; its blocks are freed", async () => {
  const before = blocksUsed();
  const streams = [0, 1, 2, 3].map(async (i) => {
    const s = await client.completions.create({
      model: "tiny", prompt: "ab".repeat(3 + i), max_tokens: 30, temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true }, ignore_eos: true,
    } as never);
    let n = 0;
    for await (const c of s as unknown as AsyncIterable<{ usage?: { completion_tokens: number } }>) if (c.usage) n = c.usage.completion_tokens;
    return n;
  });
  // the disconnecting client: read a few events, then abort the connection
  const ac = new AbortController();
  const r = await fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", prompt: "cab", max_tokens: 80, stream: true, ignore_eos: true }),
    signal: ac.signal,
  });
  assert.equal(r.headers.get("content-type")?.startsWith("text/event-stream"), true);
  const reader = r.body!.getReader();
  let events = 0;
  while (events < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    events += new TextDecoder().decode(value).split("data: ").length - 1;
  }
  ac.abort();
  await reader.cancel().catch(() => {});
  const lengths = await Promise.all(streams);
  assert.deepEqual(lengths, [30, 30, 30, 30]);
  // the aborted request was cancelled: nothing stays allocated once the others are done
  for (let i = 0; i < 200 && (blocksUsed() > before || server.activeRequests > 0); i++) await new Promise((res) => setTimeout(res, 10));
  assert.equal(blocksUsed(), before);
  assert.equal(server.activeRequests, 0);
  const cancelled = log.filter((l) => l.includes("finish=cancelled"));
  assert.equal(cancelled.length, 1, log.join("\n"));
  assert.ok(Number(/completion=(\d+)/.exec(cancelled[0]!)![1]) < 80, "cancelled before max_tokens");
});

test("bad input: clear 4xx JSON errors, and the server keeps serving", async () => {
  const cases: [string, string | object, number, RegExp][] = [
    ["/v1/completions", "{not json", 400, /not valid JSON/],
    ["/v1/completions", "[1,2]", 400, /JSON object/],
    ["/v1/completions", { model: "tiny", prompt: "" }, 400, /'prompt' is empty/],
    ["/v1/completions", { model: "tiny" }, 400, /'prompt' is required/],
    ["/v1/completions", { model: "tiny", prompt: "abc", temperature: -1 }, 400, /'temperature' must be in \[0, 2\]/],
    ["/v1/completions", { model: "tiny", prompt: "abc", max_tokens: 100000 }, 400, /'max_tokens' must be in \[1, 80\]/],
    ["/v1/completions", { model: "tiny", prompt: "abc", top_p: 7 }, 400, /top_p/],
    ["/v1/completions", { model: "tiny", prompt: "abc", n: 99 }, 400, /'n'/],
    ["/v1/completions", { model: "tiny", prompt: "abc", stop: 5 }, 400, /'stop'/],
    ["/v1/completions", { model: "tiny", prompt: "a".repeat(200) }, 400, /the limit is 95/],
    ["/v1/completions", { model: "nope", prompt: "abc" }, 404, /does not exist/],
    ["/v1/chat/completions", { model: "tiny", messages: [] }, 400, /'messages' is required/],
    ["/v1/chat/completions", { model: "tiny", messages: [{ role: "robot", content: "x" }] }, 400, /role/],
  ];
  for (const [path, body, status, msg] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 60)} → ${r.status} ${JSON.stringify(r.json)}`);
    assert.match(r.json.error.message, msg);
    assert.equal(typeof r.json.error.type, "string");
  }
  const wrongMethod = await fetch(`${base}/v1/completions`);
  assert.equal(wrongMethod.status, 405);
  const wrongType = await post("/v1/completions", "prompt=abc", { "content-type": "text/plain" });
  assert.equal(wrongType.status, 415);
  assert.equal((await fetch(`${base}/nowhere`)).status, 404);
  // the openai client surfaces the 400 as an APIError with the message
  await assert.rejects(client.completions.create({ model: "tiny", prompt: "abc", temperature: 5 }), (e: unknown) => (e as { status?: number }).status === 400);
  // still serving
  const ok = await client.completions.create({ model: "tiny", prompt: "abc", max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test("graceful shutdown: in-flight requests finish, new ones are refused", async () => {
  const model = buildModel(tinyHybrid({ vocab: V, std: 0.2 }), { seed: 5 });
  const eng = new InferenceEngine(model, { numBlocks: 32, blockSize: 8 });
  const srv = createChimeraServer({ scheduler: new Scheduler(eng, tok), tokenizer: tok, modelId: "tiny" });
  const addr = await srv.listen(0);
  const url = `http://127.0.0.1:${addr.port}`;
  const c = new OpenAI({ apiKey: "x", baseURL: `${url}/v1`, maxRetries: 0 });
  const inflight = c.completions.create({ model: "tiny", prompt: "abc", max_tokens: 20, ignore_eos: true } as never);
  for (let i = 0; i < 500 && srv.activeRequests === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const closing = srv.close(5000);
  assert.equal((await fetch(`${url}/health`).catch(() => null))?.status ?? 503, 503, "no longer healthy while draining");
  const done = (await inflight) as unknown as { usage: { completion_tokens: number } };
  assert.equal(done.usage.completion_tokens, 20);
  await closing;
  await assert.rejects(fetch(`${url}/health`));
});

test("speculative requests on a model whose sequential MTP module has MLA (deepseek-tiny): accepted, and greedy text ≡ plain", async () => {
  const cfg = tinyConfig("deepseek-tiny", V);
  const model = buildModel({ ...cfg, init: { ...cfg.init, std: 0.15 } }, { seed: 13 });
  const eng = new InferenceEngine(model, { numBlocks: 32, blockSize: 8 });
  const ds = createChimeraServer({ scheduler: new Scheduler(eng, tok, { maxBatch: 4 }), tokenizer: tok, modelId: "ds", maxConcurrent: 4, maxTokens: 40, log: () => {} });
  const addr = await ds.listen(0, "127.0.0.1");
  try {
    const ask = async (speculative: boolean) => {
      const r = await fetch(`http://127.0.0.1:${addr.port}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "ds", prompt: "abcab", max_tokens: 24, temperature: 0, ignore_eos: true, speculative }),
      });
      return { status: r.status, json: (await r.json()) as any };
    };
    const plain = await ask(false);
    const spec = await ask(true);
    assert.equal(spec.status, 200, JSON.stringify(spec.json));
    assert.equal(spec.json.choices[0].text, plain.json.choices[0].text);
    assert.ok(spec.json.chimera.acceptance_rate >= 0 && spec.json.chimera.tokens_per_step >= 1);
  } finally {
    await ds.close(1000);
  }
});
