/**
 * Decode state of DeepSeek-style sequential MTP modules whose block has a sequence mixer (GQA,
 * MLA, Gated DeltaNet), so that they can draft for speculative decoding (components.md §16.1, §17).
 *
 * Module k (0-based) at position i reads h^{k−1}_i (h^{−1}: the main stack's last hidden state,
 * before the final norm) and the token at i+k+1; its block is causal over the module's own
 * positions 0, 1, … (RoPE position i), as in the training layout (`CausalLM.sequentialMtp`).
 * A draft at the end of a sequence therefore needs the module's keys / recurrent state at every
 * earlier position, so each module keeps per-sequence state: KV pages in its own paged pool for its
 * attention and MLA sublayers, and the recurrent S + conv window of its DeltaNet sublayers.
 *
 * Invariant (lazy sync). With n positions fed to the main model, module k's cache holds positions
 * 0 … L_k − 1, each computed from tokens that had been FED when it ran (i + k + 1 < n then): never
 * from a draft and never from the committed-but-unfed next token. Nothing that a verify pass feeds
 * and then rejects ever reaches a module cache, so a main-model rollback needs no module rollback;
 * it only drops the recorded ids and hidden rows past the new length. (Rolling back below a
 * module's L_k, which the scheduler never does, is refused with a ChimeraError.)
 *
 * Kept per sequence (`MtpSequenceState`):
 *   ids        every token fed to the main model (position p → ids[p]);
 *   pending_k  module k's inputs h^{k−1} at positions L_k, L_k + 1, … not yet run: for k = 0 the
 *              rows of the main stack's output, recorded by every engine forward; for k ≥ 1 the
 *              committed outputs of module k−1.
 *
 * draft(next, count) with n fed positions and next the token at position n. With c_k = max(0,
 * n − k − 1), one call of module k (k = 0 … count−1) over positions L_k … n−1:
 *   - committed part L_k … c_k − 1 (tokens ids[L_k+k+1 … n−1], all fed): stays in the cache, and
 *     its outputs join pending_{k+1}; L_k ← c_k;
 *   - draft part c_k … n−1 (≤ k + 1 positions, tokens next, d_1 … d_k): run, then discarded (KV
 *     pages truncated, DeltaNet run on a copy of its state). Its outputs are module k+1's inputs
 *     at the same positions, and head_norm + unembed of the last one gives the logits of d_{k+1}.
 * So module k's draft is the training-layout module over the sequence extended by next, d_1 … d_k
 * at position n − 1 (test/inference/seqmtp_spec.test.ts checks it to rounding). Cost per
 * speculative step: module 0 over the a accepted drafts + 2 positions, module k over a + k + 2,
 * one call per module (a block's worth of compute each: for deepseek-tiny, MLA + MoE).
 */
import { noGrad } from "../autograd/node.js";
import { concat } from "../ops/shape.js";
import { slice } from "../ops/view.js";
import { Tensor } from "../tensor/tensor.js";
import { allocArray, type Arr } from "../tensor/dtype.js";
import { ChimeraError } from "../errors.js";
import type { CausalLM } from "../models/causal_lm.js";
import type { BlockOptions } from "../models/block.js";
import type { SequentialMtpModule } from "../models/sequential_mtp.js";
import { layerContext, type LayerContext, type LayerState } from "../layers/context.js";
import { pagedKvSpec } from "./kv_layers.js";
import type { AttentionState } from "../layers/kv_cache.js";
import { GatedDeltaNet } from "../layers/gated_deltanet.js";
import { PagedKVPool, PagedSequence, PagedKVCache, type KvLayerSpec } from "./paged/index.js";

/** What a module-block sublayer is to the cache. */
type ModSlot = { kind: "attention"; layer: number } | { kind: "deltanet" } | { kind: "stateless" } | { kind: "side" };

/** One module's state for one sequence. */
export interface MtpModuleState {
  /** L_k: positions 0 … L_k − 1 are in the cache. */
  length: number;
  /** KV pages of the module's attention / MLA sublayers (null when it has none). */
  paged: PagedSequence | null;
  /** Per sublayer: DeltaNet state, else null. Tensors are replaced, never mutated. */
  states: (LayerState | null)[];
  /** The module's inputs h^{k−1} [d] at positions L_k, L_k + 1, …, not yet run. */
  pending: Arr[];
}

/** The MTP modules' decode state of one sequence (`EngineSequence.mtp`). */
export interface MtpSequenceState {
  /** Tokens fed to the main model. */
  ids: number[];
  mods: MtpModuleState[];
}

export interface MtpCacheOptions {
  /** Tokens per KV block. */
  blockSize: number;
  /** Blocks of each module's pool (per window group). */
  numBlocks: number;
  /** Positions a module cache may be truncated back by (≥ the modules' count + 1). */
  maxRollback: number;
}

/** What a stateful sublayer means for drafting with its module. */
function classify(modules: readonly SequentialMtpModule[], dtype: CausalLM["dtype"]): { mixer: boolean; refusal: string | null } {
  let mixer = false;
  let refusal: string | null = null;
  modules.forEach((m, k) =>
    m.block.sublayers.forEach((s, j) => {
      const c = s.component;
      if (c.sideBranch || c.newState(1, dtype) === null) return;
      if (pagedKvSpec(c) || c instanceof GatedDeltaNet) mixer = true;
      else
        refusal ??= `inference: drafting with sequential MTP modules supports GQA, MLA and Gated DeltaNet sequence mixers in module blocks; module ${k} sublayer ${j} ('${s.where}') keeps another kind of decode state`;
    }),
  );
  return { mixer, refusal };
}

export class MtpModuleCaches {
  private readonly slots: ModSlot[][] = [];
  /** Per module: the KV geometry of its attention / MLA sublayers. */
  private readonly kv: KvLayerSpec[][] = [];
  private poolsMade: (PagedKVPool | null)[] | null = null;
  private readonly blockOpts: BlockOptions = { residualDropout: 0, checkFinite: false };

  /** True when some module block has a sequence mixer (the modules then need these caches to draft). */
  static needed(modules: readonly SequentialMtpModule[], dtype: CausalLM["dtype"]): boolean {
    return classify(modules, dtype).mixer;
  }

  /** Why these modules cannot draft (a sublayer keeps a kind of state the engine does not cache), or null. */
  static refusal(modules: readonly SequentialMtpModule[], dtype: CausalLM["dtype"]): string | null {
    return classify(modules, dtype).refusal;
  }

  constructor(
    readonly model: CausalLM,
    readonly modules: readonly SequentialMtpModule[],
    private readonly opts: MtpCacheOptions,
  ) {
    const refusal = MtpModuleCaches.refusal(modules, model.dtype);
    if (refusal) throw new ChimeraError(refusal);
    for (const m of modules) {
      const kv: KvLayerSpec[] = [];
      this.slots.push(
        m.block.sublayers.map((s): ModSlot => {
          const c = s.component;
          if (c.sideBranch) return { kind: "side" };
          const kvSpec = pagedKvSpec(c);
          if (kvSpec) {
            kv.push(kvSpec);
            return { kind: "attention", layer: kv.length - 1 };
          }
          return c instanceof GatedDeltaNet ? { kind: "deltanet" } : { kind: "stateless" };
        }),
      );
      this.kv.push(kv);
    }
  }

  /**
   * Per module: the paged pool of its attention / MLA sublayers, or null. Allocated on first use
   * (the first drafting sequence), so an engine that never drafts holds no module storage.
   */
  get pools(): readonly (PagedKVPool | null)[] {
    const o = this.opts;
    this.poolsMade ??= this.kv.map((layers) =>
      layers.length ? new PagedKVPool({ layers, blockSize: o.blockSize, numBlocks: o.numBlocks, dtype: this.model.dtype, maxRollback: o.maxRollback }) : null,
    );
    return this.poolsMade;
  }

  /** Empty state for a new sequence. */
  newState(): MtpSequenceState {
    const pools = this.pools;
    return {
      ids: [],
      mods: this.modules.map((m, k) => ({
        length: 0,
        paged: pools[k] ? new PagedSequence(pools[k]!) : null,
        states: m.block.sublayers.map((s, j) => (this.slots[k]![j]!.kind === "deltanet" ? s.component.newState(1, this.model.dtype) : null)),
        pending: [],
      })),
    };
  }

  /** A sibling: KV blocks shared copy-on-write, recurrent states and recorded rows shared until replaced. */
  fork(st: MtpSequenceState): MtpSequenceState {
    return {
      ids: st.ids.slice(),
      mods: st.mods.map((m) => ({
        length: m.length,
        paged: m.paged ? m.paged.fork() : null,
        states: m.states.map((s) => (s ? { ...s } : null)),
        pending: m.pending.slice(),
      })),
    };
  }

  free(st: MtpSequenceState): void {
    for (const m of st.mods) m.paged?.free();
  }

  /**
   * Records a main forward of T tokens on this sequence: the fed ids (ids[idOff …]) and the stack's
   * last hidden rows (hidden[hOff …], T rows of d), module 0's future inputs.
   */
  record(st: MtpSequenceState, ids: ArrayLike<number>, idOff: number, hidden: Arr, hOff: number, T: number): void {
    const d = this.model.config.dModel;
    const m0 = st.mods[0]!;
    if (m0.length + m0.pending.length !== st.ids.length) throw new ChimeraError("inference: MTP module state out of step with its sequence (internal error)");
    for (let t = 0; t < T; t++) {
      st.ids.push(ids[idOff + t]!);
      m0.pending.push(hidden.slice(hOff + t * d, hOff + (t + 1) * d));
    }
  }

  /** Null when the sequence may roll back to `to` positions; else why not (a module already ran on tokens at or past `to`). */
  rollbackError(st: MtpSequenceState, to: number): string | null {
    for (let k = 0; k < st.mods.length; k++) {
      const L = st.mods[k]!.length;
      if (L > Math.max(0, to - k - 1))
        return `inference: cannot roll back to ${to} positions: MTP module ${k} already holds ${L} positions computed from the tokens up to ${L + k} (roll back only to lengths at or after the last draft)`;
    }
    return null;
  }

  /** Drops what was recorded past `to` positions (check `rollbackError` first). */
  rollback(st: MtpSequenceState, to: number): void {
    if (to >= st.ids.length) return;
    st.ids.length = to;
    const m0 = st.mods[0]!;
    m0.pending.length = to - m0.length;
  }

  /**
   * Drafts up to `count` tokens after `next` (the committed, not yet fed token at position n =
   * ids.length), advancing each module's cache over the positions whose tokens are fed (see the file
   * comment). `choose(logits [V], i)` returns draft i. Returns the number of drafts made: fewer than
   * `count` only when a module's pool has no blocks left (then drafting stops early; nothing breaks).
   */
  draft(st: MtpSequenceState, next: number, count: number, choose: (logits: Float32Array | Float64Array, i: number) => number): number {
    const model = this.model;
    const n = st.ids.length;
    const d = model.config.dModel;
    const V = model.config.vocabSize;
    if (n < 1) throw new ChimeraError("inference: drafting needs at least one fed position");
    if (count > this.modules.length) throw new ChimeraError(`inference: ${count} drafts asked of ${this.modules.length} MTP modules`);
    return noGrad(() => {
      const drafts: number[] = [];
      let carry: Arr[] = []; // module k−1's outputs at its draft positions c_{k−1} … n−1
      let cPrev = n; // c_{k−1}; c_{−1} = n (the main stack has every fed position)
      for (let k = 0; k < count; k++) {
        const mod = this.modules[k]!;
        const ms = st.mods[k]!;
        const L = ms.length;
        const c = Math.max(0, n - k - 1); // positions < c have every token they need fed
        const T = n - L;
        if (L > c || ms.pending.length !== cPrev - L || carry.length !== n - cPrev)
          throw new ChimeraError(`inference: MTP module ${k} state out of step (L ${L}, ${ms.pending.length} pending, n ${n}) (internal error)`);
        if (ms.paged && !ms.paged.canReserve(T)) break;
        // token at i + k + 1 for positions i = L … n−1: fed ids, then next, then the drafts so far
        const tok = new Int32Array(T);
        for (let t = 0; t < T; t++) {
          const j = L + t + k + 1;
          tok[t] = j < n ? st.ids[j]! : j === n ? next : drafts[j - n - 1]!;
        }
        const hIn = allocArray(model.dtype, T * d);
        let r = 0;
        for (const row of ms.pending) hIn.set(row, d * r++);
        for (const row of carry) hIn.set(row, d * r++);
        const x = mod.input(model.embedTokens(tok, 1, T), new Tensor(hIn, [1, T, d])); // [1, T, d]
        const h = this.runBlock(k, ms, x, L, c - L).dense(); // [1, T, d]
        const row = (t: number): Arr => h.slice(t * d, (t + 1) * d);
        // commit positions L … c−1; their outputs are module k+1's inputs
        const nextMod = st.mods[k + 1];
        if (nextMod) for (let t = 0; t < c - L; t++) nextMod.pending.push(row(t));
        ms.pending = ms.pending.slice(c - L);
        ms.length = c;
        carry = [];
        for (let t = c - L; t < T; t++) carry.push(row(t));
        cPrev = c;
        const logits = model.unembed(mod.head_norm.forward(new Tensor(row(T - 1), [1, 1, d]))).dense();
        const x1 = choose(logits, k);
        if (!(Number.isInteger(x1) && x1 >= 0 && x1 < V)) throw new ChimeraError(`inference: drafted token ${x1} is outside the vocabulary [0, ${V})`);
        drafts.push(x1);
      }
      return drafts.length;
    });
  }

  /**
   * Module k's block on one sequence's x [1, T, d] at positions L … L+T−1, through its caches.
   * Positions L … L+commit−1 stay in the caches; the rest (draft tokens) are run and discarded.
   */
  private runBlock(k: number, ms: MtpModuleState, x: Tensor, L: number, commit: number): Tensor {
    const T = x.shape[1]!;
    const model = this.model;
    const ctx = layerContext(1, T, { startPos: L, unembed: (h) => model.unembed(h) }); // positions L … L+T−1
    const positions = ctx.positions;
    const piece = (a: number, b: number): LayerContext => ({ ...ctx, T: b - a, startPos: L + a, positions: positions.slice(a, b) });
    const pool = this.pools[k];
    ms.paged?.reserve(T);
    this.modules[k]!.block.sublayers.forEach((s, j) => {
      const slot = this.slots[k]![j]!;
      if (slot.kind === "side") return; // an MTP head inside a module block adds nothing at inference
      if (slot.kind === "attention") {
        const st: AttentionState = { kind: "attention", cache: new PagedKVCache(pool!, slot.layer, [ms.paged!]) };
        x = s.forward(x, ctx, st, this.blockOpts);
      } else if (slot.kind === "deltanet") {
        // committed tokens advance the state; the draft tokens run on a copy of it
        const st = ms.states[j]!;
        const parts: Tensor[] = [];
        if (commit > 0) parts.push(s.forward(commit === T ? x : slice(x, 1, 0, commit), piece(0, commit), st, this.blockOpts));
        if (commit < T) parts.push(s.forward(commit === 0 ? x : slice(x, 1, commit, T), piece(commit, T), { ...st }, this.blockOpts));
        x = parts.length === 1 ? parts[0]! : concat(parts, 1);
      } else x = s.forward(x, ctx, null, this.blockOpts);
    });
    if (ms.paged) {
      ms.paged.advance(T);
      ms.paged.truncate(L + commit);
    }
    return x;
  }
}
