/**
 * OpenAI-compatible HTTP server over the continuous-batching scheduler (node:http, no framework).
 *
 *   GET  /health                 liveness + load: {status, model, running, waiting, kvBlocks}
 *   GET  /v1/models              the served model ({object: "list", data: [{id, …}]})
 *   GET  /v1/models/{id}
 *   POST /v1/completions         text completion; `stream: true` → server-sent events
 *   POST /v1/chat/completions    chat (src/inference/chat.ts format); `stream: true` → SSE
 *
 * Requests are validated (src/server/validate.ts) and refused with a 4xx JSON error naming the
 * field; a malformed request never affects others. Limits: body size, prompt tokens, max_tokens,
 * n, and requests in flight (429 beyond). A client that disconnects cancels its request (its KV
 * blocks return to the pool at once). `close(graceMs)` stops accepting, lets in-flight requests
 * finish for up to graceMs, cancels the rest, then closes every connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { Tokenizer } from "../tokenizer/types.js";
import { RequestError, type Delta, type GenerateOptions, type GenerationResult, type Scheduler } from "../inference/scheduler.js";
import type { TokenLogprob } from "../inference/sampling.js";
import { CHAT_STOPS, ReplyTrimmer, chatPrompt } from "../inference/chat.js";
import { HttpError, SseStream, readJson, sendError, sendJson } from "./http.js";
import { checkModel, parseChat, parseCompletion, type ServerLimits } from "./validate.js";

export interface ServerOptions {
  scheduler: Scheduler;
  tokenizer: Tokenizer;
  /** The id clients pass as `model` (default "chimera"). */
  modelId?: string;
  /** Longest prompt in tokens (default: context − 1). */
  maxPromptTokens?: number;
  /** Largest max_tokens (default: the context length). */
  maxTokens?: number;
  /** Largest n (default: the scheduler's batch). */
  maxN?: number;
  /** Requests in flight at most; more get 429 (default 32). */
  maxConcurrent?: number;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Log one line per request (default off). */
  log?: (line: string) => void;
}

export class ChimeraServer {
  readonly http: Server;
  readonly modelId: string;
  readonly limits: ServerLimits;
  private readonly maxConcurrent: number;
  private readonly maxBody: number;
  private inFlight = 0;
  private closing = false;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly o: ServerOptions) {
    const eng = o.scheduler.engine;
    this.modelId = o.modelId ?? "chimera";
    this.limits = {
      maxPromptTokens: Math.min(o.maxPromptTokens ?? eng.contextLength - 1, eng.contextLength - 1),
      maxTokens: o.maxTokens ?? eng.contextLength,
      maxN: Math.min(o.maxN ?? o.scheduler.maxBatch, o.scheduler.maxBatch),
    };
    this.maxConcurrent = o.maxConcurrent ?? 32;
    this.maxBody = o.maxBodyBytes ?? 1 << 20;
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.keepAliveTimeout = 5000;
  }

  /** Listens (port 0 = any free port); resolves to the bound address. */
  listen(port: number, host = "127.0.0.1"): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, host, () => {
        this.http.off("error", reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  get activeRequests(): number {
    return this.inFlight;
  }

  /** Graceful shutdown: no new requests; in-flight ones finish within graceMs or are cancelled. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeIdleConnections();
    await this.o.scheduler.shutdown(graceMs);
    // let the handlers write their final bytes, then drop what is left
    const deadline = Date.now() + 1000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.http.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    res.on("finish", () => this.o.log?.(`${req.method} ${path} ${res.statusCode} ${(performance.now() - t0).toFixed(0)}ms`));
    try {
      if (path === "/health" || path === "/v1/health") return this.health(req, res);
      if (path === "/v1/models") return this.only(req, "GET", () => this.models(res));
      if (path.startsWith("/v1/models/")) return this.only(req, "GET", () => this.model(res, decodeURIComponent(path.slice("/v1/models/".length))));
      if (path === "/v1/completions") return await this.onlyAsync(req, "POST", () => this.generate(req, res, "completion"));
      if (path === "/v1/chat/completions") return await this.onlyAsync(req, "POST", () => this.generate(req, res, "chat"));
      throw new HttpError(404, `no route ${req.method} ${path} (routes: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`);
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e);
      if (e instanceof RequestError) return sendError(res, new HttpError(e.status, e.message));
      sendError(res, new HttpError(500, `internal error: ${(e as Error).message}`));
    }
  }

  private only(req: IncomingMessage, method: string, fn: () => void): void {
    if (req.method !== method) throw new HttpError(405, `${req.url} accepts ${method} only, got ${req.method}`);
    fn();
  }

  private async onlyAsync(req: IncomingMessage, method: string, fn: () => Promise<void>): Promise<void> {
    if (req.method !== method) throw new HttpError(405, `${req.url} accepts ${method} only, got ${req.method}`);
    await fn();
  }

  private health(_req: IncomingMessage, res: ServerResponse): void {
    const s = this.o.scheduler.stats();
    sendJson(res, this.closing ? 503 : 200, {
      status: this.closing ? "shutting_down" : "ok",
      model: this.modelId,
      running: s.running,
      waiting: s.waiting,
      inFlight: this.inFlight,
      kvBlocks: s.blocks,
    });
  }

  private modelCard() {
    return { id: this.modelId, object: "model", created: this.created, owned_by: "chimera", context_length: this.o.scheduler.engine.contextLength };
  }

  private models(res: ServerResponse): void {
    sendJson(res, 200, { object: "list", data: [this.modelCard()] });
  }

  private model(res: ServerResponse, id: string): void {
    if (id !== this.modelId) throw new HttpError(404, `the model '${id}' does not exist; this server serves '${this.modelId}'`, "model", "model_not_found");
    sendJson(res, 200, this.modelCard());
  }

  private async generate(req: IncomingMessage, res: ServerResponse, kind: "completion" | "chat"): Promise<void> {
    if (this.closing) throw new HttpError(503, "the server is shutting down");
    if (this.inFlight >= this.maxConcurrent) throw new HttpError(429, `too many concurrent requests (limit ${this.maxConcurrent}); retry later`);
    this.inFlight++;
    try {
      await this.generateInner(req, res, kind);
    } finally {
      this.inFlight--;
    }
  }

  private async generateInner(req: IncomingMessage, res: ServerResponse, kind: "completion" | "chat"): Promise<void> {
    const body = await readJson(req, this.maxBody);
    checkModel(body, this.modelId);
    const tok = this.o.tokenizer;
    const parsed = kind === "completion" ? parseCompletion(body, this.limits) : parseChat(body, this.limits);
    const promptText = kind === "completion" ? (parsed as ReturnType<typeof parseCompletion>).prompt : chatPrompt((parsed as ReturnType<typeof parseChat>).messages);
    const ids = typeof promptText === "string" ? tok.encode(promptText) : promptText;
    if (ids.length === 0) throw new HttpError(400, "the prompt encodes to no tokens", "prompt");
    if (ids.length > this.limits.maxPromptTokens)
      throw new HttpError(400, `the prompt has ${ids.length} tokens; the limit is ${this.limits.maxPromptTokens} (the model's context is ${this.o.scheduler.engine.contextLength})`, kind === "chat" ? "messages" : "prompt", "context_length_exceeded");
    const stop = kind === "chat" ? [...(parsed.stop ?? []), ...CHAT_STOPS] : (parsed.stop ?? []);
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
    const created = Math.floor(Date.now() / 1000);
    const abort = new AbortController();
    // the client going away cancels the request
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on("close", onClose);
    const n = parsed.n ?? 1;
    const trimmers = Array.from({ length: n }, () => new ReplyTrimmer());
    const object = kind === "chat" ? "chat.completion" : "text_completion";
    let sse: SseStream | null = null;
    const opts: GenerateOptions = {
      maxTokens: parsed.maxTokens,
      sampling: parsed.sampling,
      stop,
      ignoreEos: parsed.ignoreEos,
      speculative: parsed.speculative,
      n,
      signal: abort.signal,
      ...(parsed.logprobs !== undefined ? { logprobs: parsed.logprobs } : {}),
    };
    if (parsed.stream) {
      const roleSent = new Array<boolean>(n).fill(false);
      opts.onDelta = (d: Delta) => {
        if (!sse) return;
        const text = kind === "chat" ? trimmers[d.choice]!.push(d.text) : d.text;
        if (!text && !d.finishReason && !(d.logprobs && kind === "completion")) return;
        if (kind === "chat") {
          const delta: Record<string, unknown> = {};
          if (!roleSent[d.choice]) {
            delta.role = "assistant";
            roleSent[d.choice] = true;
          }
          if (text) delta.content = text;
          sse.send({
            id, object: "chat.completion.chunk", created, model: this.modelId,
            choices: [{ index: d.choice, delta, logprobs: d.logprobs && opts.logprobs !== undefined ? { content: chatLogprobs(tok, d.logprobs) } : null, finish_reason: d.finishReason && d.finishReason !== "cancelled" ? d.finishReason : null }],
          });
        } else {
          sse.send({
            id, object: "text_completion", created, model: this.modelId,
            choices: [{ index: d.choice, text, logprobs: d.logprobs && opts.logprobs !== undefined ? completionLogprobs(tok, d.logprobs, 0) : null, finish_reason: d.finishReason && d.finishReason !== "cancelled" ? d.finishReason : null }],
          });
        }
      };
    }
    const handle = this.o.scheduler.submit(ids, opts); // RequestError → 4xx before any byte is sent
    if (parsed.stream) sse = new SseStream(res);
    let result: GenerationResult;
    try {
      result = await handle.result;
    } catch (e) {
      const err = new HttpError(500, `generation failed: ${(e as Error).message}`);
      if (sse) return sse.error(err);
      throw err;
    } finally {
      res.off("close", onClose);
    }
    this.o.log?.(
      `${id} prompt=${result.promptTokens} completion=${result.completionTokens} finish=${result.choices.map((c) => c.finishReason).join(",")}` +
        ` ${result.timing.tokensPerSec.toFixed(1)} tok/s${result.speculative ? ` acceptance=${result.speculative.acceptanceRate.toFixed(2)}` : ""}`,
    );
    if (abort.signal.aborted || res.destroyed) return; // client gone
    const usage = { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens };
    const chimera = {
      seed: result.seed,
      tokens_per_sec: result.timing.tokensPerSec,
      ...(result.speculative ? { acceptance_rate: result.speculative.acceptanceRate, tokens_per_step: result.speculative.tokensPerStep } : {}),
    };
    if (sse) {
      if (parsed.includeUsage) sse.send({ id, object: kind === "chat" ? "chat.completion.chunk" : "text_completion", created, model: this.modelId, choices: [], usage });
      sse.done();
      return;
    }
    const choices = result.choices.map((c) => {
      const finish = c.finishReason === "cancelled" ? "stop" : c.finishReason;
      if (kind === "chat")
        return {
          index: c.index,
          message: { role: "assistant", content: c.text.replace(/^ /, "") },
          logprobs: c.logprobs ? { content: chatLogprobs(tok, c.logprobs) } : null,
          finish_reason: finish,
        };
      return { index: c.index, text: c.text, logprobs: c.logprobs ? completionLogprobs(tok, c.logprobs, 0) : null, finish_reason: finish };
    });
    sendJson(res, 200, { id, object, created, model: this.modelId, choices, usage, chimera });
  }
}

function tokenText(tok: Tokenizer, id: number): string {
  return tok.decode([id]);
}

/** Legacy completions logprobs: {tokens, token_logprobs, top_logprobs, text_offset}. */
function completionLogprobs(tok: Tokenizer, lps: TokenLogprob[], offset: number) {
  const tokens: string[] = [];
  const textOffset: number[] = [];
  let pos = offset;
  for (const l of lps) {
    const t = tokenText(tok, l.token);
    tokens.push(t);
    textOffset.push(pos);
    pos += t.length;
  }
  return {
    tokens,
    token_logprobs: lps.map((l) => l.logprob),
    top_logprobs: lps.map((l) => (l.top ? Object.fromEntries(l.top.map((t) => [tokenText(tok, t.token), t.logprob])) : null)),
    text_offset: textOffset,
  };
}

/** Chat logprobs: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]. */
function chatLogprobs(tok: Tokenizer, lps: TokenLogprob[]) {
  const entry = (id: number, logprob: number) => ({ token: tokenText(tok, id), logprob, bytes: Array.from(tok.decodeBytes([id])) });
  return lps.map((l) => ({ ...entry(l.token, l.logprob), top_logprobs: (l.top ?? []).map((t) => entry(t.token, t.logprob)) }));
}

export function createChimeraServer(o: ServerOptions): ChimeraServer {
  return new ChimeraServer(o);
}
