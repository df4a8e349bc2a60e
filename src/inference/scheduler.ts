/**
 * Continuous-batching scheduler (Orca-style iteration-level scheduling, Yu et al. OSDI 2022, over
 * a PagedAttention pool, Kwon et al. 2023). Requests queue FIFO; each iteration of the loop
 *   1. drops cancelled requests (client gone, abort signal) and frees their blocks;
 *   2. admits waiting requests while the batch has room and the pool has the blocks for their
 *      prompt plus one growth block per running sequence (a full pool makes requests wait, never
 *      fail; a prompt that could not fit even in an empty pool is an error);
 *   3. feeds one prefill chunk (≤ prefillChunk tokens) of the oldest sequence still consuming its
 *      prompt (chunked DeltaNet + fused attention inside the model);
 *   4. decodes one token for every other plain sequence in ONE batched forward (rows at different
 *      positions), preempting the newest request when the pool runs dry (its blocks are freed and
 *      it is recomputed later from its tokens, vLLM's recompute preemption);
 *   5. runs one speculative step (draft with the MTP head, verify in one pass) per speculative
 *      sequence (src/inference/speculative.ts);
 *   6. samples, streams text deltas, applies stop strings / stop tokens / max tokens, and retires
 *      finished sequences (their blocks return to the pool at once).
 * The loop yields to the event loop between iterations, so a server stays responsive.
 *
 * A request with n > 1 choices prefills its prompt once, then forks the sequence n − 1 times:
 * the choices share the prompt's blocks copy-on-write.
 */
import { ChimeraError } from "../errors.js";
import type { Tokenizer } from "../tokenizer/types.js";
import type { Tensor } from "../tensor/tensor.js";
import { InferenceEngine, type EngineSequence, type ForwardOptions } from "./engine.js";
import { Sampler, TokenCounts, drawFrom, logprobsOf, type SamplingOptions, type TokenLogprob } from "./sampling.js";
import { acceptDrafts } from "./speculative.js";
import { TextStream } from "./text.js";

export type FinishReason = "stop" | "length" | "cancelled";

export interface GenerateOptions {
  /** Tokens to generate at most (default 128). */
  maxTokens?: number;
  sampling?: SamplingOptions;
  /** Stop strings: generation ends before the first occurrence (not included in the text). */
  stop?: string[];
  /** Token ids that end generation (default: the tokenizer's end-of-text). */
  stopTokens?: number[];
  /** Keep going past end-of-text tokens. */
  ignoreEos?: boolean;
  /** Per-token log-probabilities: 0 = the chosen token's, n = plus the n most likely; omit for none. */
  logprobs?: number;
  /** Draft with the MTP heads or sequential MTP modules and verify (exact; the output distribution is unchanged). */
  speculative?: boolean;
  /** Independent completions of the prompt (share its KV blocks). Default 1. */
  n?: number;
  signal?: AbortSignal;
  /** Streaming: called with each choice's newly released text and tokens. */
  onDelta?: (d: Delta) => void;
}

export interface Delta {
  choice: number;
  text: string;
  tokens: number[];
  logprobs?: TokenLogprob[];
  /** Set on the choice's last delta. */
  finishReason?: FinishReason;
}

export interface ChoiceResult {
  index: number;
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  logprobs?: TokenLogprob[];
}

export interface SpeculativeStats {
  /** Verify passes. */
  steps: number;
  drafted: number;
  accepted: number;
  /** accepted / drafted. */
  acceptanceRate: number;
  /** Tokens emitted per verify pass. */
  tokensPerStep: number;
}

export interface GenerationResult {
  id: string;
  choices: ChoiceResult[];
  promptTokens: number;
  completionTokens: number;
  seed: number;
  timing: {
    queuedMs: number;
    /** Admission to first token. */
    prefillMs: number;
    /** First token to last. */
    decodeMs: number;
    totalMs: number;
    /** Tokens after the first, per second of decode (all choices). */
    tokensPerSec: number;
  };
  speculative?: SpeculativeStats;
  preemptions: number;
}

export interface SchedulerOptions {
  /** Sequences decoded together at most (default 8). */
  maxBatch?: number;
  /** Prompt tokens fed per prefill forward (default 256). */
  prefillChunk?: number;
  /** Requests waiting + running at most; more are refused (default 64). */
  maxQueue?: number;
}

/** Refused at submission (queue full, prompt too long, …): the caller maps it to 4xx. */
export class RequestError extends ChimeraError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

let nextJob = 1;

interface Choice {
  index: number;
  job: Job;
  seq: EngineSequence | null;
  /** Prompt + committed generated tokens. */
  tokens: number[];
  generated: number[];
  counts: TokenCounts;
  sampler: Sampler;
  text: TextStream;
  logprobs: TokenLogprob[] | null;
  done: FinishReason | null;
  /** MTP stream of the last forward and the index of the last committed fed position in it. */
  draft: { hidden: Tensor; t: number } | null;
  /** Admission order (preemption picks the newest). */
  admitted: number;
  /** Logits handed over by the choice this one forks from (n > 1). */
  forkFrom: Choice | null;
}

interface Job {
  id: string;
  prompt: number[];
  opts: Required<Pick<GenerateOptions, "maxTokens" | "stop" | "stopTokens" | "ignoreEos" | "speculative" | "n">> & GenerateOptions;
  choices: Choice[];
  seed: number;
  state: "waiting" | "running" | "done";
  resolve: (r: GenerationResult) => void;
  reject: (e: unknown) => void;
  tSubmit: number;
  tAdmit: number;
  tFirst: number;
  spec: { steps: number; drafted: number; accepted: number; emitted: number };
  preemptions: number;
  cancelled: boolean;
}

export interface RequestHandle {
  id: string;
  result: Promise<GenerationResult>;
  cancel(): void;
}

export class Scheduler {
  readonly maxBatch: number;
  readonly prefillChunk: number;
  readonly maxQueue: number;
  private readonly waiting: Job[] = [];
  private readonly running: Job[] = [];
  private looping = false;
  private closed = false;
  private admitCounter = 0;
  /** Forward passes run (tests, stats). */
  forwards = 0;
  /** Largest number of rows decoded in one batched forward. */
  maxRowsSeen = 0;

  constructor(
    readonly engine: InferenceEngine,
    readonly tokenizer: Tokenizer,
    opts: SchedulerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 8;
    this.prefillChunk = opts.prefillChunk ?? 256;
    this.maxQueue = opts.maxQueue ?? 64;
    if (!(this.maxBatch >= 1 && this.prefillChunk >= 1)) throw new ChimeraError("scheduler: maxBatch and prefillChunk must be ≥ 1");
  }

  /** Requests running / waiting, and KV blocks in use. */
  stats(): { running: number; waiting: number; blocks: { window: number; used: number; total: number }[] } {
    return { running: this.running.length, waiting: this.waiting.length, blocks: this.engine.pool ? this.engine.pool.usage() : [] };
  }

  /** Validates and queues a request; throws RequestError for a request that can never run. */
  submit(prompt: readonly number[], options: GenerateOptions = {}): RequestHandle {
    if (this.closed) throw new RequestError("the server is shutting down", 503);
    const eng = this.engine;
    if (prompt.length === 0) throw new RequestError("the prompt is empty (it encodes to no tokens)", 400);
    for (const t of prompt)
      if (!(Number.isInteger(t) && t >= 0 && t < eng.V)) throw new RequestError(`prompt token id ${t} is outside the vocabulary [0, ${eng.V})`, 400);
    if (prompt.length >= eng.contextLength)
      throw new RequestError(`the prompt has ${prompt.length} tokens; the model's context is ${eng.contextLength} tokens (at most ${eng.contextLength - 1} prompt tokens)`, 400);
    const maxTokens = options.maxTokens ?? 128;
    if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) throw new RequestError(`max tokens must be an integer ≥ 1, got ${maxTokens}`, 400);
    const n = options.n ?? 1;
    if (!(Number.isInteger(n) && n >= 1 && n <= this.maxBatch)) throw new RequestError(`n must be an integer in [1, ${this.maxBatch}], got ${n}`, 400);
    const speculative = options.speculative ?? false;
    if (speculative && eng.maxDrafts < 1)
      throw new RequestError(
        eng.draftRefusal
          ? `speculative decoding: ${eng.draftRefusal.replace(/^inference: /, "")}`
          : "speculative decoding needs a model with parallel MTP heads of depth ≥ 2 or sequential MTP modules (this model has none)",
        400,
      );
    if (speculative && !eng.batchable)
      throw new RequestError("speculative decoding needs a model whose stateful layers are GQA, MLA or Gated DeltaNet (others cannot be rolled back)", 400);
    if (options.logprobs !== undefined && !(Number.isInteger(options.logprobs) && options.logprobs >= 0 && options.logprobs <= 20))
      throw new RequestError(`logprobs must be an integer in [0, 20], got ${options.logprobs}`, 400);
    const stops = options.stop ?? [];
    if (stops.some((s) => typeof s !== "string" || s.length === 0)) throw new RequestError("stop strings must be non-empty strings", 400);
    if (this.waiting.length + this.running.length >= this.maxQueue)
      throw new RequestError(`too many requests in flight (${this.maxQueue}); retry later`, 429);
    if (eng.pool) {
      const need = this.blocksFor(prompt.length);
      need.forEach((k, g) => {
        if (k > eng.pool!.groups[g]!.allocator.numBlocks)
          throw new RequestError(`the prompt needs ${k} KV blocks but the pool has ${eng.pool!.groups[g]!.allocator.numBlocks}; raise --kv-blocks or shorten the prompt`, 400);
      });
    }
    let sampling: Sampler;
    try {
      sampling = new Sampler(options.sampling);
    } catch (e) {
      throw new RequestError((e as Error).message, 400);
    }
    const seed = sampling.params.seed;
    let resolve!: (r: GenerationResult) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<GenerationResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: Job = {
      id: `gen-${nextJob++}`,
      prompt: prompt.slice(),
      opts: { ...options, maxTokens, stop: stops, stopTokens: options.stopTokens ?? [this.tokenizer.eotId], ignoreEos: options.ignoreEos ?? false, speculative, n },
      choices: [],
      seed,
      state: "waiting",
      resolve,
      reject,
      tSubmit: performance.now(),
      tAdmit: 0,
      tFirst: 0,
      spec: { steps: 0, drafted: 0, accepted: 0, emitted: 0 },
      preemptions: 0,
      cancelled: false,
    };
    for (let i = 0; i < n; i++) {
      const sp = i === 0 ? sampling : new Sampler({ ...options.sampling, seed: (seed + i) % Number.MAX_SAFE_INTEGER });
      job.choices.push({
        index: i,
        job,
        seq: null,
        tokens: prompt.slice(),
        generated: [],
        counts: new TokenCounts(prompt),
        sampler: sp,
        text: new TextStream(this.tokenizer, stops),
        logprobs: options.logprobs !== undefined ? [] : null,
        done: null,
        draft: null,
        admitted: 0,
        forkFrom: null,
      });
    }
    if (options.signal) {
      if (options.signal.aborted) job.cancelled = true;
      else options.signal.addEventListener("abort", () => this.cancel(job), { once: true });
    }
    this.waiting.push(job);
    this.kick();
    return { id: job.id, result, cancel: () => this.cancel(job) };
  }

  /** Convenience: encode, submit, await. */
  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.submit(this.tokenizer.encode(prompt), options).result;
  }

  /**
   * Refuses new requests; queued and running ones carry on. With `cancelAfterMs`, those still
   * unfinished after that long are cancelled. Resolves when every request has finished.
   */
  async shutdown(cancelAfterMs = Infinity): Promise<void> {
    this.closed = true;
    const timer = Number.isFinite(cancelAfterMs)
      ? setTimeout(() => {
          for (const j of [...this.running, ...this.waiting]) this.cancel(j);
        }, cancelAfterMs)
      : null;
    while (this.running.length || this.waiting.length || this.looping) await new Promise((r) => setTimeout(r, 5));
    if (timer) clearTimeout(timer);
  }

  private cancel(job: Job): void {
    if (job.state === "done") return;
    job.cancelled = true;
    this.kick();
  }

  private kick(): void {
    if (!this.looping) {
      this.looping = true;
      setImmediate(() => void this.loop());
    }
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiting.length || this.running.length) {
        try {
          this.iteration();
        } catch (e) {
          // an engine failure fails the requests involved, never the process
          for (const j of [...this.running, ...this.waiting]) this.fail(j, e);
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
      if (this.waiting.length || this.running.length) this.kick();
    }
  }

  private liveChoices(): Choice[] {
    const out: Choice[] = [];
    for (const j of this.running) for (const c of j.choices) if (!c.done) out.push(c);
    return out;
  }

  private iteration(): void {
    // 1. cancellations
    for (const j of [...this.waiting, ...this.running]) if (j.cancelled) this.finishJob(j, "cancelled");
    // 2. admission (FIFO)
    this.admit();
    const pending = (c: Choice): number => c.tokens.length - c.seq!.length;
    // a speculative choice with a draft source feeds its (short) pending tokens with its drafts
    const specReady = (c: Choice): boolean => c.job.opts.speculative && (pending(c) === 1 || (c.draft !== null && pending(c) <= this.prefillChunk));
    // 3. one prefill chunk: the oldest choice with more than one token to feed
    const prefill = this.liveChoices().find((c) => c.seq && pending(c) > 1 && !specReady(c));
    if (prefill) this.prefillStep(prefill);
    // 4. batched decode of plain choices with exactly one pending token
    const decode = this.liveChoices().filter((c) => c.seq && c !== prefill && !c.job.opts.speculative && pending(c) === 1);
    if (decode.length) this.decodeStep(decode);
    // 5. speculative choices, one verify pass each
    for (const c of this.liveChoices()) if (c.seq && c !== prefill && !c.done && specReady(c)) this.speculativeStep(c);
  }

  /** Siblings waiting to fork from c (n > 1) fork now, while c holds exactly the prompt, and sample from the same logits. */
  private forkWaiting(c: Choice, logits: ArrayLike<number>, off: number): void {
    for (const s of c.job.choices)
      if (s.forkFrom === c && !s.done) {
        s.seq = this.engine.fork(c.seq!);
        s.forkFrom = null;
        s.draft = c.draft;
        this.sampleAndEmit(s, logits, off);
      }
  }

  private blocksFor(prompt: number): number[] {
    const pool = this.engine.pool!;
    return pool.groups.map((g) => {
      const tokens = g.window > 0 ? Math.min(prompt + 1, Math.min(this.prefillChunk, prompt) + g.window + pool.maxRollback) : prompt + 1;
      return Math.ceil(tokens / pool.blockSize);
    });
  }

  private admit(): void {
    // choices of running requests that lost their sequence (preempted sibling) resume when blocks allow
    const pool = this.engine.pool;
    for (const j of this.running)
      for (const c of j.choices)
        if (!c.done && !c.seq && !c.forkFrom) {
          const need = pool ? this.blocksFor(c.tokens.length) : [];
          const rows = this.liveChoices().filter((x) => x.seq).length;
          if (pool && !need.every((k, g) => k + rows <= pool.groups[g]!.allocator.numFree)) return;
          c.seq = this.newSequence(j);
          c.admitted = ++this.admitCounter;
        }
    while (this.waiting.length) {
      const job = this.waiting[0]!;
      const rows = this.liveChoices().length;
      if (rows + job.choices.filter((c) => !c.done).length > this.maxBatch) return;
      if (pool) {
        const longest = Math.max(...job.choices.map((c) => c.tokens.length));
        const need = this.blocksFor(longest);
        const ok = need.every((k, g) => k + rows <= pool.groups[g]!.allocator.numFree);
        if (!ok) {
          if (rows > 0) return; // wait for running sequences to free blocks
          if (!need.every((k, g) => k <= pool.groups[g]!.allocator.numFree)) {
            this.waiting.shift();
            this.fail(job, new RequestError(`the request needs ${need.join("/")} KV blocks but the pool has ${pool.usage().map((u) => u.total).join("/")}`, 400));
            continue;
          }
        }
      }
      this.waiting.shift();
      job.state = "running";
      if (!job.tAdmit) job.tAdmit = performance.now();
      const [first, ...rest] = job.choices.filter((c) => !c.done);
      first!.seq = this.newSequence(job);
      first!.admitted = ++this.admitCounter;
      for (const c of rest) {
        // a choice that has generated nothing yet forks from the first once the prompt is fed;
        // one that already has its own tokens (re-admitted after preemption) gets its own sequence
        if (c.generated.length === 0 && first!.generated.length === 0 && this.engine.batchable) c.forkFrom = first!;
        else c.seq = this.newSequence(job);
        c.admitted = ++this.admitCounter;
      }
      this.running.push(job);
    }
  }

  /** A sequence for a choice of `job`; a speculative one records what stateful MTP modules need. */
  private newSequence(job: Job): EngineSequence {
    return this.engine.newSequence({ draft: job.opts.speculative });
  }

  private forward(rows: Choice[], ids: Int32Array, T: number, opts: ForwardOptions) {
    this.forwards++;
    return this.engine.forward(
      rows.map((c) => c.seq!),
      ids,
      T,
      opts,
    );
  }

  private prefillStep(c: Choice): void {
    const seq = c.seq!;
    const pending = c.tokens.length - seq.length;
    const T = Math.min(this.prefillChunk, pending);
    if (!this.ensureBlocks(c, T)) return;
    const last = T === pending;
    const out = this.forward([c], Int32Array.from(c.tokens.slice(seq.length, seq.length + T)), T, {
      logitsFrom: last ? T - 1 : T,
      mtp: last && c.job.opts.speculative,
    });
    if (!last) return;
    if (out.mtpHidden) c.draft = { hidden: out.mtpHidden, t: T - 1 };
    this.forkWaiting(c, out.logits, 0);
    this.sampleAndEmit(c, out.logits, 0);
  }

  private decodeStep(rows: Choice[]): void {
    const ok: Choice[] = [];
    for (const c of rows) if (this.ensureBlocks(c, 1)) ok.push(c);
    const live = ok.filter((c) => !c.done && c.seq);
    if (!live.length) return;
    const width = this.engine.batchable ? this.maxBatch : 1; // layers the engine cannot batch: one row per forward
    for (let i = 0; i < live.length; i += width) {
      const batch = live.slice(i, i + width);
      const ids = Int32Array.from(batch.map((c) => c.tokens[c.tokens.length - 1]!));
      this.maxRowsSeen = Math.max(this.maxRowsSeen, batch.length);
      const out = this.forward(batch, ids, 1, { logitsFrom: 0 });
      batch.forEach((c, b) => {
        this.forkWaiting(c, out.logits, b * this.engine.V);
        this.sampleAndEmit(c, out.logits, b * this.engine.V);
      });
    }
  }

  private speculativeStep(c: Choice): void {
    const eng = this.engine;
    const V = eng.V;
    const seq = c.seq!;
    const U = c.tokens.slice(seq.length); // committed, not yet fed (≥ 1)
    const job = c.job;
    const budget = Math.min(job.opts.maxTokens - c.generated.length - 1, eng.contextLength - c.tokens.length - 1);
    // drafts follow U's last token; module caches draft from the sequence's end, so only after U = one token
    const kMax = c.draft && (U.length === 1 || !seq.mtp) ? Math.max(0, Math.min(eng.maxDrafts, budget)) : 0;
    if (!this.ensureBlocks(c, U.length + kMax)) return;
    const penal = this.penalised(c);
    // drafts from the drafter at the last fed position before U's last token: tokens after U's last
    const drafts: number[] = [];
    const q: Float64Array[] = [];
    if (kMax > 0) {
      const ctx = penal ? c.counts.clone() : null;
      const choose = (ql: Float32Array | Float64Array): number => {
        const qi = c.sampler.dist(ql, 0, V, ctx);
        const x = drawFrom(qi, c.sampler.rng.next());
        q.push(qi);
        drafts.push(x);
        ctx?.add(x);
        return x;
      };
      // modules with their own caches draft from the sequence's end (and advance those caches)
      eng.draft(c.draft!.hidden, 0, c.draft!.t, U[U.length - 1]!, kMax, choose, seq);
    }
    const k = drafts.length; // fewer than kMax only when a module's KV pool ran out
    const snap = eng.snapshot(seq);
    const start = seq.length;
    const T = U.length + k;
    // recurrent models record their state after every token of the pass (history): a rejected
    // draft rolls back to the last accepted token, and nothing is fed twice
    const out = this.forward([c], Int32Array.from([...U, ...drafts]), T, { logitsFrom: U.length - 1, mtp: true, ...(eng.recurrent && k > 0 ? { history: true } : {}) });
    // target distributions, lazily, each with the context up to its position
    const ctxAt = (i: number): TokenCounts | null => {
      if (!penal) return null;
      const t = c.counts.clone();
      for (let j = 0; j < i; j++) t.add(drafts[j]!);
      return t;
    };
    const res = acceptDrafts(drafts, q, (i) => c.sampler.dist(out.logits, i * V, V, ctxAt(i)), () => c.sampler.rng.next());
    job.spec.steps++;
    job.spec.drafted += k;
    job.spec.accepted += res.accepted;
    job.spec.emitted += res.tokens.length;
    // fed positions that stay valid: U and the accepted drafts
    const valid = start + U.length + res.accepted;
    if (valid < seq.length) eng.rollback(seq, out.stateAt ? out.stateAt(valid - start - 1) : snap, valid);
    if (c.generated.length === 0 && k === 0) {
      c.draft = { hidden: out.mtpHidden!, t: U.length - 1 };
      this.forkWaiting(c, out.logits, 0);
    }
    c.draft = { hidden: out.mtpHidden!, t: U.length - 1 + res.accepted };
    for (let i = 0; i < res.tokens.length && !c.done; i++) this.emit(c, res.tokens[i]!, out.logits, i * V);
  }

  /** Blocks for n more tokens of c, preempting newer requests if needed; false if c itself was preempted. */
  private ensureBlocks(c: Choice, n: number): boolean {
    const eng = this.engine;
    if (!c.seq || c.done) return false; // preempted by an earlier row of this iteration
    while (!eng.canFeed(c.seq, n)) {
      const victims = this.running.filter((j) => j !== c.job && j.choices.some((x) => x.seq));
      const victim = victims.sort((a, b) => Math.max(...b.choices.map((x) => x.admitted)) - Math.max(...a.choices.map((x) => x.admitted)))[0];
      if (victim) {
        this.preempt(victim);
        continue;
      }
      // c's own request holds the pool: preempt its other choices, else it cannot continue
      const sib = c.job.choices.filter((x) => x !== c && x.seq && !x.done).sort((a, b) => b.admitted - a.admitted)[0];
      if (sib) {
        eng.free(sib.seq!);
        sib.seq = null;
        sib.draft = null;
        c.job.preemptions++;
        this.requeueChoices(c.job);
        continue;
      }
      this.finishChoice(c, "length");
      return false;
    }
    eng.reserve(c.seq!, n); // taken now, so the next row's check sees what is left
    return true;
  }

  private requeueChoices(job: Job): void {
    // choices without a sequence are resumed when the job is admitted again; keep the job running
    // and give them fresh sequences right away if there is room later (simple policy: they wait
    // until the running choices finish and then re-enter through admission)
    if (job.choices.every((x) => !x.seq || x.done) && !this.waiting.includes(job)) {
      this.running.splice(this.running.indexOf(job), 1);
      job.state = "waiting";
      this.waiting.unshift(job);
    }
  }

  private preempt(job: Job): void {
    for (const c of job.choices) {
      if (c.seq) this.engine.free(c.seq);
      c.seq = null;
      c.draft = null;
      c.forkFrom = null;
    }
    job.preemptions++;
    this.running.splice(this.running.indexOf(job), 1);
    job.state = "waiting";
    this.waiting.unshift(job);
  }

  private penalised(c: Choice): boolean {
    const p = c.sampler.params;
    return p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
  }

  /** Samples the next token from logits[off …] and emits it. */
  private sampleAndEmit(c: Choice, logits: ArrayLike<number>, off: number): void {
    const tok = c.sampler.sample(logits, off, this.engine.V, this.penalised(c) ? c.counts : null);
    this.emit(c, tok, logits, off);
  }

  /** Commits one generated token: stop checks, text delta, streaming. */
  private emit(c: Choice, tok: number, logits: ArrayLike<number>, off: number): void {
    const job = c.job;
    if (c.done) return;
    if (!job.tFirst) job.tFirst = performance.now();
    if (!job.opts.ignoreEos && job.opts.stopTokens.includes(tok)) {
      this.finishChoice(c, "stop");
      return;
    }
    c.tokens.push(tok);
    c.generated.push(tok);
    c.counts.add(tok);
    const lp = c.logprobs ? logprobsOf(logits, off, this.engine.V, tok, job.opts.logprobs ?? 0) : null;
    if (lp) c.logprobs!.push(lp);
    const text = c.text.push(tok);
    if (c.text.stopped) {
      this.deliver(c, text, [tok], lp);
      this.finishChoice(c, "stop");
      return;
    }
    const full = c.generated.length >= job.opts.maxTokens || c.tokens.length >= this.engine.contextLength;
    this.deliver(c, text, [tok], lp);
    if (full) this.finishChoice(c, "length");
  }

  private deliver(c: Choice, text: string, tokens: number[], lp: TokenLogprob | null, finishReason?: FinishReason): void {
    const cb = c.job.opts.onDelta;
    if (!cb) return;
    try {
      cb({ choice: c.index, text, tokens, ...(lp ? { logprobs: [lp] } : {}), ...(finishReason ? { finishReason } : {}) });
    } catch {
      /* a failing consumer must not break the loop */
    }
  }

  private finishChoice(c: Choice, reason: FinishReason): void {
    if (c.done) return;
    c.done = reason;
    const tail = c.text.finish();
    this.deliver(c, tail, [], null, reason);
    if (c.seq) this.engine.free(c.seq);
    c.seq = null;
    c.draft = null;
    // forks still waiting on this choice take its place as prompt owner
    for (const s of c.job.choices)
      if (s.forkFrom === c) {
        s.forkFrom = null;
        s.seq = this.newSequence(c.job);
      }
    const job = c.job;
    if (job.choices.every((x) => x.done)) this.complete(job);
  }

  private finishJob(job: Job, reason: FinishReason): void {
    for (const c of job.choices) this.finishChoice(c, reason);
    if (job.state !== "done") this.complete(job);
  }

  private detach(job: Job): void {
    const i = this.running.indexOf(job);
    if (i >= 0) this.running.splice(i, 1);
    const w = this.waiting.indexOf(job);
    if (w >= 0) this.waiting.splice(w, 1);
  }

  private complete(job: Job): void {
    if (job.state === "done") return;
    job.state = "done";
    this.detach(job);
    const now = performance.now();
    const tAdmit = job.tAdmit || now;
    const tFirst = job.tFirst || now;
    const completion = job.choices.reduce((s, c) => s + c.generated.length, 0);
    const decodeMs = now - tFirst;
    const after = Math.max(0, completion - job.choices.length);
    const result: GenerationResult = {
      id: job.id,
      choices: job.choices.map((c) => ({
        index: c.index,
        text: c.text.text,
        tokens: c.generated.slice(),
        finishReason: c.done ?? "cancelled",
        ...(c.logprobs ? { logprobs: c.logprobs } : {}),
      })),
      promptTokens: job.prompt.length,
      completionTokens: completion,
      seed: job.seed,
      timing: {
        queuedMs: tAdmit - job.tSubmit,
        prefillMs: tFirst - tAdmit,
        decodeMs,
        totalMs: now - job.tSubmit,
        tokensPerSec: decodeMs > 0 && after > 0 ? (after * 1000) / decodeMs : 0,
      },
      preemptions: job.preemptions,
    };
    if (job.opts.speculative)
      result.speculative = {
        steps: job.spec.steps,
        drafted: job.spec.drafted,
        accepted: job.spec.accepted,
        acceptanceRate: job.spec.drafted ? job.spec.accepted / job.spec.drafted : 0,
        tokensPerStep: job.spec.steps ? job.spec.emitted / job.spec.steps : 0,
      };
    job.resolve(result);
  }

  private fail(job: Job, e: unknown): void {
    if (job.state === "done") return;
    for (const c of job.choices) {
      if (c.seq) this.engine.free(c.seq);
      c.seq = null;
      c.done ??= "cancelled";
    }
    job.state = "done";
    this.detach(job);
    job.reject(e);
  }
}
