/**
 * HTTP plumbing for the OpenAI-compatible server: errors in the OpenAI shape
 * (`{error: {message, type, param, code}}`), JSON responses, bounded body reading, and
 * server-sent events (`data: <json>\n\n`, terminated by `data: [DONE]`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "HttpError";
  }

  get type(): string {
    if (this.status === 429) return "rate_limit_error";
    if (this.status === 404) return "not_found_error";
    if (this.status >= 500) return this.status === 503 ? "service_unavailable" : "server_error";
    return "invalid_request_error";
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  sendJson(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

/** Reads a JSON object body of at most `limit` bytes. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = String(req.headers["content-type"] ?? "application/json");
  if (!/^application\/json\b/i.test(type) && !/\+json\b/i.test(type))
    throw new HttpError(415, `the request body must be JSON (content-type application/json), got '${type}'`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, `the request body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > limit) throw new HttpError(413, `the request body exceeds the limit of ${limit} bytes`);
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "the request body is empty; expected a JSON object");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "the request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** Server-sent events on a response. */
export class SseStream {
  private open = true;
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
  }
  send(data: unknown): void {
    if (!this.open || this.res.destroyed) return;
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }
  /** Sends `data: [DONE]` and ends the response. */
  done(): void {
    if (!this.open) return;
    this.open = false;
    if (!this.res.destroyed) this.res.end("data: [DONE]\n\n");
  }
  /** An error after the stream started: one error event, then [DONE]. */
  error(e: HttpError): void {
    this.send({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
    this.done();
  }
}
