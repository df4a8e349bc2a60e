/**
 * Validation of OpenAI-style request bodies (`/v1/completions`, `/v1/chat/completions`) into the
 * scheduler's options. Every rejection is an HttpError 400 whose message names the field and says
 * what was expected; unknown fields are ignored (clients send extras such as `user`).
 * Ranges follow the OpenAI API where it defines one (temperature [0, 2], penalties [−2, 2],
 * top_p (0, 1], logprobs ≤ 5 / top_logprobs ≤ 20, ≤ 4 stop strings); Chimera extensions:
 * top_k, min_p, repetition_penalty, speculative, ignore_eos.
 */
import type { GenerateOptions } from "../inference/scheduler.js";
import { HttpError } from "./http.js";

export interface ServerLimits {
  /** Longest prompt in tokens (default: the model's context − 1). */
  maxPromptTokens: number;
  /** Largest max_tokens a request may ask for. */
  maxTokens: number;
  /** Largest n. */
  maxN: number;
}

type Body = Record<string, unknown>;

function has(b: Body, k: string): boolean {
  return b[k] !== undefined && b[k] !== null;
}

function number(b: Body, k: string, lo: number, hi: number, opts: { integer?: boolean; loOpen?: boolean } = {}): number | undefined {
  if (!has(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new HttpError(400, `'${k}' must be a number, got ${JSON.stringify(v)}`, k);
  if (opts.integer && !Number.isInteger(v)) throw new HttpError(400, `'${k}' must be an integer, got ${v}`, k);
  if (v < lo || v > hi || (opts.loOpen && v === lo))
    throw new HttpError(400, `'${k}' must be in ${opts.loOpen ? "(" : "["}${lo}, ${hi}], got ${v}`, k);
  return v;
}

function bool(b: Body, k: string): boolean | undefined {
  if (!has(b, k)) return undefined;
  if (typeof b[k] !== "boolean") throw new HttpError(400, `'${k}' must be true or false, got ${JSON.stringify(b[k])}`, k);
  return b[k] as boolean;
}

function stops(b: Body): string[] {
  if (!has(b, "stop")) return [];
  const v = b.stop;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string"))
    throw new HttpError(400, `'stop' must be a string or an array of strings, got ${JSON.stringify(v)}`, "stop");
  if (list.length > 4) throw new HttpError(400, `'stop' may hold at most 4 strings, got ${list.length}`, "stop");
  if (list.some((s) => s === "")) throw new HttpError(400, "'stop' strings must not be empty", "stop");
  return list as string[];
}

export function checkModel(b: Body, served: string): void {
  if (!has(b, "model")) return;
  if (typeof b.model !== "string") throw new HttpError(400, `'model' must be a string, got ${JSON.stringify(b.model)}`, "model");
  if (b.model !== served) throw new HttpError(404, `the model '${b.model}' does not exist; this server serves '${served}' (GET /v1/models)`, "model", "model_not_found");
}

/** Options shared by both endpoints. `maxTokensKey` is the field that holds the limit. */
function common(b: Body, limits: ServerLimits, maxTokensKeys: string[], defaultMaxTokens: number): GenerateOptions & { stream: boolean; includeUsage: boolean } {
  let maxTokens = defaultMaxTokens;
  for (const k of maxTokensKeys) {
    const v = number(b, k, 1, limits.maxTokens, { integer: true });
    if (v !== undefined) maxTokens = v;
  }
  const n = number(b, "n", 1, limits.maxN, { integer: true }) ?? 1;
  const stream = bool(b, "stream") ?? false;
  if (has(b, "stream_options") && (typeof b.stream_options !== "object" || Array.isArray(b.stream_options)))
    throw new HttpError(400, "'stream_options' must be an object", "stream_options");
  const includeUsage = Boolean((b.stream_options as { include_usage?: unknown } | undefined)?.include_usage);
  if (has(b, "best_of") && b.best_of !== 1 && b.best_of !== n) throw new HttpError(400, "'best_of' is not supported (use n)", "best_of");
  const seed = number(b, "seed", 0, Number.MAX_SAFE_INTEGER, { integer: true });
  return {
    maxTokens,
    n,
    stream,
    includeUsage,
    stop: stops(b),
    speculative: bool(b, "speculative") ?? false,
    ignoreEos: bool(b, "ignore_eos") ?? false,
    sampling: {
      temperature: number(b, "temperature", 0, 2),
      topP: number(b, "top_p", 0, 1, { loOpen: true }),
      topK: number(b, "top_k", 0, 1 << 20, { integer: true }),
      minP: number(b, "min_p", 0, 1),
      repetitionPenalty: number(b, "repetition_penalty", 0, 10, { loOpen: true }),
      presencePenalty: number(b, "presence_penalty", -2, 2),
      frequencyPenalty: number(b, "frequency_penalty", -2, 2),
      ...(seed !== undefined ? { seed } : {}),
    },
  };
}

export interface CompletionRequest extends GenerateOptions {
  prompt: string | number[];
  stream: boolean;
  includeUsage: boolean;
  echo: boolean;
}

export function parseCompletion(b: Body, limits: ServerLimits): CompletionRequest {
  if (!has(b, "prompt")) throw new HttpError(400, "'prompt' is required (a string)", "prompt");
  let prompt: string | number[];
  const p = b.prompt;
  if (typeof p === "string") prompt = p;
  else if (Array.isArray(p) && p.length === 1 && typeof p[0] === "string") prompt = p[0];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x))) prompt = p as number[];
  else if (Array.isArray(p) && p.length > 1 && p.every((x) => typeof x === "string"))
    throw new HttpError(400, "'prompt' with several strings is not supported; send one request per prompt (or use n)", "prompt");
  else throw new HttpError(400, `'prompt' must be a string (or an array of token ids), got ${JSON.stringify(p).slice(0, 80)}`, "prompt");
  if (prompt.length === 0) throw new HttpError(400, "'prompt' is empty", "prompt");
  if (has(b, "suffix")) throw new HttpError(400, "'suffix' is not supported", "suffix");
  const logprobs = number(b, "logprobs", 0, 5, { integer: true });
  const echo = bool(b, "echo") ?? false;
  if (echo) throw new HttpError(400, "'echo' is not supported", "echo");
  return { ...common(b, limits, ["max_tokens"], 16), prompt, echo, ...(logprobs !== undefined ? { logprobs } : {}) };
}

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant";
  content: string;
}

export interface ChatRequest extends GenerateOptions {
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
}

export function parseChat(b: Body, limits: ServerLimits): ChatRequest {
  if (!Array.isArray(b.messages) || b.messages.length === 0)
    throw new HttpError(400, "'messages' is required: a non-empty array of {role, content}", "messages");
  const messages: ChatMessage[] = b.messages.map((m: unknown, i: number) => {
    if (typeof m !== "object" || m === null) throw new HttpError(400, `messages[${i}] must be an object {role, content}`, `messages[${i}]`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (role !== "system" && role !== "developer" && role !== "user" && role !== "assistant")
      throw new HttpError(400, `messages[${i}].role must be system, developer, user or assistant, got ${JSON.stringify(role)}`, `messages[${i}].role`);
    let text: string;
    if (typeof content === "string") text = content;
    else if (Array.isArray(content) && content.every((c) => c && typeof c === "object" && (c as { type?: unknown }).type === "text" && typeof (c as { text?: unknown }).text === "string"))
      text = content.map((c) => (c as { text: string }).text).join("");
    else throw new HttpError(400, `messages[${i}].content must be a string (or text parts), got ${JSON.stringify(content)?.slice(0, 60)}`, `messages[${i}].content`);
    return { role, content: text };
  });
  if (messages.every((m) => m.content.trim() === "")) throw new HttpError(400, "all messages are empty", "messages");
  const logprobs = bool(b, "logprobs") ?? false;
  const top = number(b, "top_logprobs", 0, 20, { integer: true });
  if (top !== undefined && !logprobs) throw new HttpError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
  if (has(b, "tools") || has(b, "functions")) throw new HttpError(400, "tool / function calling is not supported", has(b, "tools") ? "tools" : "functions");
  return {
    ...common(b, limits, ["max_tokens", "max_completion_tokens"], Math.min(256, limits.maxTokens)),
    messages,
    ...(logprobs ? { logprobs: top ?? 0 } : {}),
  };
}
