/**
 * Reference gated delta rule: the sequence-mixing core of Gated DeltaNet (Yang, Kautz, Hatamizadeh,
 * arXiv 2412.06464) with Qwen3-Next semantics (components.md §11.2–§11.3; HF
 * `torch_recurrent_gated_delta_rule` / `torch_chunk_gated_delta_rule`, fla `naive_*_gated_delta_rule`).
 *
 * Shape legend: B batch, T time, H heads, Dk key dim, Dv value dim, C chunk size, NC = ⌈T/C⌉ chunks,
 * L = length of the current chunk (C, or less for the last one).
 *   q, k [B, T, H, Dk]   v [B, T, H, Dv]   g, beta [B, T, H]   state S [B, H, Dk, Dv] (key-major)
 *   out [B, T, H, Dv]    savedStates [B, H, NC, Dk, Dv] (the state entering each chunk)
 *
 * Recurrence per head (q pre-scaled by `scale`):
 *   S ← e^{g_t} S;   u_t = β_t (v_t − Sᵀk_t);   S ← S + k_t u_tᵀ;   o_t = Sᵀ q_t
 *
 * Chunked WY/UT form, per chunk with incoming state S (r, s index positions inside the chunk):
 *   γ_r = Σ_{u≤r} g_u (chunk-local, log space)        Γ_rs = e^{γ_r−γ_s} for r ≥ s, else 0
 *   A_rs = β_r (k_r·k_s) Γ_rs for r > s               Tm = (I + A)⁻¹  (forward substitution)
 *   U = Tm diag(β) V      W = Tm diag(β e^γ) K        V' = U − W S   (V' row r is u_r)
 *   O = (Q ⊙ e^γ) S + ((Q Kᵀ) ⊙ Γ) V'                 S ← e^{γ_L} S + (K ⊙ e^{γ_L−γ})ᵀ V'
 * Only differences γ_r − γ_s with r ≥ s (≤ 0 since g ≤ 0) are ever exponentiated. The last
 * partial chunk is processed with L < C rows, which is exactly what zero-padding it to C would give
 * (padded rows have β = 0, so u = 0, and g = 0, so γ stays flat): we skip the dead rows instead.
 *
 * Backward (exact, O(T)): a reverse pass over chunks. The forward saves the state entering each
 * chunk; per chunk we recompute γ, Γ, A, Tm, U, W, V', then back-propagate through the state
 * update, the output, V' = U − W S, U/W = Tm·(…), Tm = (I+A)⁻¹ (dA = −(dVb Uᵀ + dKb Wᵀ) with
 * dVb = Tmᵀ dU, dKb = Tmᵀ dW, kept strictly lower) and A, then turn dγ into dg by a reverse cumsum.
 * docs/gated-deltanet.md derives each step.
 *
 * Kernels are generic over float32/float64 arrays; all scratch is float64.
 */
import type { Arr } from "../../tensor/dtype.js";

/** Per-chunk workspace: the chunk's rows gathered contiguously plus the intra-chunk matrices. */
class Chunk {
  readonly q: Float64Array; // [C, Dk] scaled q
  readonly k: Float64Array; // [C, Dk]
  readonly v: Float64Array; // [C, Dv]
  readonly b: Float64Array; // [C] β
  readonly gam: Float64Array; // [C] γ (chunk-local cumulative log-decay)
  readonly eg: Float64Array; // [C] e^γ
  readonly Gam: Float64Array; // [C, C] Γ (lower incl. diagonal)
  readonly KK: Float64Array; // [C, C] k_r·k_s (lower, strict)
  readonly A: Float64Array; // [C, C] strictly lower
  readonly Tm: Float64Array; // [C, C] (I + A)⁻¹, unit lower
  readonly P: Float64Array; // [C, C] (q_r·k_s) Γ_rs, lower incl.
  readonly U: Float64Array; // [C, Dv]
  readonly W: Float64Array; // [C, Dk]
  readonly Vp: Float64Array; // [C, Dv] V' = U − W S
  constructor(readonly C: number, readonly Dk: number, readonly Dv: number) {
    this.q = new Float64Array(C * Dk);
    this.k = new Float64Array(C * Dk);
    this.v = new Float64Array(C * Dv);
    this.b = new Float64Array(C);
    this.gam = new Float64Array(C);
    this.eg = new Float64Array(C);
    this.Gam = new Float64Array(C * C);
    this.KK = new Float64Array(C * C);
    this.A = new Float64Array(C * C);
    this.Tm = new Float64Array(C * C);
    this.P = new Float64Array(C * C);
    this.U = new Float64Array(C * Dv);
    this.W = new Float64Array(C * Dk);
    this.Vp = new Float64Array(C * Dv);
  }

  /** Gathers rows t0..t0+L−1 of head h in batch b and computes γ, Γ, A, Tm, U, W, P. */
  load(q: Arr, k: Arr, v: Arr, g: Arr, beta: Arr, bi: number, h: number, t0: number, L: number, T: number, H: number, scale: number): void {
    const { C, Dk, Dv } = this;
    let acc = 0;
    for (let r = 0; r < L; r++) {
      const row = (bi * T + t0 + r) * H + h;
      for (let i = 0; i < Dk; i++) {
        this.q[r * Dk + i] = q[row * Dk + i]! * scale;
        this.k[r * Dk + i] = k[row * Dk + i]!;
      }
      for (let j = 0; j < Dv; j++) this.v[r * Dv + j] = v[row * Dv + j]!;
      this.b[r] = beta[row]!;
      acc += g[row]!;
      this.gam[r] = acc;
      this.eg[r] = Math.exp(acc);
    }
    const { Gam, KK, A, Tm, P } = this;
    for (let r = 0; r < L; r++) {
      for (let s = 0; s <= r; s++) {
        Gam[r * C + s] = Math.exp(this.gam[r]! - this.gam[s]!); // masked: r ≥ s, difference ≤ 0
        let kk = 0;
        let qk = 0;
        for (let i = 0; i < Dk; i++) {
          kk += this.k[r * Dk + i]! * this.k[s * Dk + i]!;
          qk += this.q[r * Dk + i]! * this.k[s * Dk + i]!;
        }
        KK[r * C + s] = kk;
        A[r * C + s] = s < r ? this.b[r]! * kk * Gam[r * C + s]! : 0;
        P[r * C + s] = qk * Gam[r * C + s]!;
      }
    }
    // Tm = (I + A)⁻¹ by forward substitution: row r of (I + A)·Tm = e_r gives
    // Tm[r, j] = δ_rj − Σ_{j ≤ s < r} A[r, s]·Tm[s, j].
    for (let r = 0; r < L; r++) {
      for (let j = 0; j < r; j++) {
        let x = 0;
        for (let s = j; s < r; s++) x -= A[r * C + s]! * Tm[s * C + j]!;
        Tm[r * C + j] = x;
      }
      Tm[r * C + r] = 1;
    }
    // U = Tm·diag(β)·V,  W = Tm·diag(β e^γ)·K
    for (let r = 0; r < L; r++) {
      this.U.fill(0, r * Dv, (r + 1) * Dv);
      this.W.fill(0, r * Dk, (r + 1) * Dk);
      for (let s = 0; s <= r; s++) {
        const tv = Tm[r * C + s]! * this.b[s]!;
        const tk = tv * this.eg[s]!;
        for (let j = 0; j < Dv; j++) this.U[r * Dv + j] += tv * this.v[s * Dv + j]!;
        for (let i = 0; i < Dk; i++) this.W[r * Dk + i] += tk * this.k[s * Dk + i]!;
      }
    }
  }

  /** V' = U − W·S  (S [Dk, Dv]). */
  pseudoValues(S: Float64Array, L: number): void {
    const { Dk, Dv, Vp, U, W } = this;
    for (let r = 0; r < L; r++)
      for (let j = 0; j < Dv; j++) {
        let x = U[r * Dv + j]!;
        for (let i = 0; i < Dk; i++) x -= W[r * Dk + i]! * S[i * Dv + j]!;
        Vp[r * Dv + j] = x;
      }
  }
}

/** Reads the state for (b, h) into S (zeros when init is null). */
function readState(init: Arr | null, S: Float64Array, bh: number, n: number): void {
  if (!init) S.fill(0);
  else for (let x = 0; x < n; x++) S[x] = init[bh * n + x]!;
}

/**
 * Chunked forward. Writes out [B, T, H, Dv], finalState [B, H, Dk, Dv] (if non-null) and
 * savedStates [B, H, NC, Dk, Dv] (if non-null: the state entering each chunk, for the backward).
 */
export function gatedDeltaForward(
  q: Arr, k: Arr, v: Arr, g: Arr, beta: Arr, initialState: Arr | null,
  out: Arr, finalState: Arr | null, savedStates: Arr | null,
  B: number, T: number, H: number, Dk: number, Dv: number, scale: number, chunkSize: number,
): void {
  const C = chunkSize;
  const NC = Math.ceil(T / C);
  const n = Dk * Dv;
  const ch = new Chunk(C, Dk, Dv);
  const S = new Float64Array(n);
  const QS = new Float64Array(Dv);
  for (let bi = 0; bi < B; bi++)
    for (let h = 0; h < H; h++) {
      const bh = bi * H + h;
      readState(initialState, S, bh, n);
      for (let c = 0; c < NC; c++) {
        const t0 = c * C;
        const L = Math.min(C, T - t0);
        if (savedStates) for (let x = 0; x < n; x++) savedStates[(bh * NC + c) * n + x] = S[x]!;
        ch.load(q, k, v, g, beta, bi, h, t0, L, T, H, scale);
        ch.pseudoValues(S, L);
        const { q: Q, k: Kc, eg, gam, P, Vp } = ch;
        // O = (Q ⊙ e^γ) S + P V'
        for (let r = 0; r < L; r++) {
          QS.fill(0);
          for (let i = 0; i < Dk; i++) {
            const a = Q[r * Dk + i]! * eg[r]!;
            for (let j = 0; j < Dv; j++) QS[j] += a * S[i * Dv + j]!;
          }
          for (let s = 0; s <= r; s++) {
            const p = P[r * C + s]!;
            for (let j = 0; j < Dv; j++) QS[j] += p * Vp[s * Dv + j]!;
          }
          const o = ((bi * T + t0 + r) * H + h) * Dv;
          for (let j = 0; j < Dv; j++) out[o + j] = QS[j]!;
        }
        // S ← e^{γ_L} S + (K ⊙ e^{γ_L − γ})ᵀ V'
        const gL = gam[L - 1]!;
        const egL = eg[L - 1]!;
        for (let x = 0; x < n; x++) S[x] *= egL;
        for (let r = 0; r < L; r++) {
          const d = Math.exp(gL - gam[r]!);
          for (let i = 0; i < Dk; i++) {
            const a = Kc[r * Dk + i]! * d;
            for (let j = 0; j < Dv; j++) S[i * Dv + j] += a * Vp[r * Dv + j]!;
          }
        }
      }
      if (finalState) for (let x = 0; x < n; x++) finalState[bh * n + x] = S[x]!;
    }
}

/**
 * Token-by-token forward (the decode form); same arguments and outputs as gatedDeltaForward,
 * including savedStates (the state entering tokens 0, C, 2C, …) so the chunked backward applies.
 */
export function gatedDeltaRecurrent(
  q: Arr, k: Arr, v: Arr, g: Arr, beta: Arr, initialState: Arr | null,
  out: Arr, finalState: Arr | null, savedStates: Arr | null,
  B: number, T: number, H: number, Dk: number, Dv: number, scale: number, chunkSize: number,
): void {
  const C = chunkSize;
  const NC = Math.ceil(T / C);
  const n = Dk * Dv;
  const S = new Float64Array(n);
  const u = new Float64Array(Dv);
  for (let bi = 0; bi < B; bi++)
    for (let h = 0; h < H; h++) {
      const bh = bi * H + h;
      readState(initialState, S, bh, n);
      for (let t = 0; t < T; t++) {
        if (savedStates && t % C === 0) for (let x = 0; x < n; x++) savedStates[(bh * NC + t / C) * n + x] = S[x]!;
        const row = (bi * T + t) * H + h;
        const a = Math.exp(g[row]!);
        const bt = beta[row]!;
        for (let x = 0; x < n; x++) S[x] *= a;
        // u = β (v − Sᵀk)
        for (let j = 0; j < Dv; j++) u[j] = v[row * Dv + j]!;
        for (let i = 0; i < Dk; i++) {
          const ki = k[row * Dk + i]!;
          for (let j = 0; j < Dv; j++) u[j] -= ki * S[i * Dv + j]!;
        }
        for (let j = 0; j < Dv; j++) u[j] *= bt;
        // S += k uᵀ;  o = Sᵀ q·scale
        for (let i = 0; i < Dk; i++) {
          const ki = k[row * Dk + i]!;
          for (let j = 0; j < Dv; j++) S[i * Dv + j] += ki * u[j]!;
        }
        for (let j = 0; j < Dv; j++) {
          let o = 0;
          for (let i = 0; i < Dk; i++) o += q[row * Dk + i]! * S[i * Dv + j]!;
          out[row * Dv + j] = o * scale;
        }
      }
      if (finalState) for (let x = 0; x < n; x++) finalState[bh * n + x] = S[x]!;
    }
}

/**
 * Chunked backward. savedStates as written by either forward with the same chunkSize.
 * gOut [B, T, H, Dv]; gFinalState [B, H, Dk, Dv] or null (zero). Writes gq, gk, gv [like q, k, v],
 * gg, gbeta [B, T, H] and gInitialState [B, H, Dk, Dv] (if non-null).
 */
export function gatedDeltaBackward(
  q: Arr, k: Arr, v: Arr, g: Arr, beta: Arr, savedStates: Arr, gOut: Arr, gFinalState: Arr | null,
  gq: Arr, gk: Arr, gv: Arr, gg: Arr, gbeta: Arr, gInitialState: Arr | null,
  B: number, T: number, H: number, Dk: number, Dv: number, scale: number, chunkSize: number,
): void {
  const C = chunkSize;
  const NC = Math.ceil(T / C);
  const n = Dk * Dv;
  const ch = new Chunk(C, Dk, Dv);
  const S0 = new Float64Array(n);
  const dS = new Float64Array(n); // gradient w.r.t. the state leaving the chunk
  const dS0 = new Float64Array(n); // … and entering it
  const dO = new Float64Array(C * Dv);
  const dQ = new Float64Array(C * Dk); // w.r.t. the scaled q
  const dK = new Float64Array(C * Dk);
  const dV = new Float64Array(C * Dv);
  const dB = new Float64Array(C);
  const dGam = new Float64Array(C);
  const dVp = new Float64Array(C * Dv);
  const dW = new Float64Array(C * Dk);
  const dVb = new Float64Array(C * Dv);
  const dKb = new Float64Array(C * Dk);
  const dA = new Float64Array(C * C);
  const tmp = new Float64Array(Math.max(Dk, Dv));
  for (let bi = 0; bi < B; bi++)
    for (let h = 0; h < H; h++) {
      const bh = bi * H + h;
      readState(gFinalState, dS, bh, n);
      for (let c = NC - 1; c >= 0; c--) {
        const t0 = c * C;
        const L = Math.min(C, T - t0);
        for (let x = 0; x < n; x++) S0[x] = savedStates[(bh * NC + c) * n + x]!;
        ch.load(q, k, v, g, beta, bi, h, t0, L, T, H, scale);
        ch.pseudoValues(S0, L);
        const { q: Q, k: Kc, v: Vc, b: bet, gam, eg, Gam, KK, A, Tm, P, U, W, Vp } = ch;
        for (let r = 0; r < L; r++) {
          const o = ((bi * T + t0 + r) * H + h) * Dv;
          for (let j = 0; j < Dv; j++) dO[r * Dv + j] = gOut[o + j]!;
        }
        dQ.fill(0);
        dK.fill(0);
        dV.fill(0);
        dB.fill(0);
        dGam.fill(0);
        dVp.fill(0);

        // ---- state update: S_L = e^{γ_L} S0 + K̃ᵀ V',  K̃_r = k_r e^{γ_L − γ_r} ----
        const gL = gam[L - 1]!;
        const egL = eg[L - 1]!;
        let sd = 0;
        for (let x = 0; x < n; x++) {
          sd += S0[x]! * dS[x]!;
          dS0[x] = egL * dS[x]!;
        }
        dGam[L - 1] += egL * sd;
        for (let r = 0; r < L; r++) {
          const d = Math.exp(gL - gam[r]!);
          // dV'_r += K̃_r dS;   dK̃_r = dS V'_r;   c_r = ⟨dK̃_r, K̃_r⟩
          let cr = 0;
          for (let i = 0; i < Dk; i++) {
            const kt = Kc[r * Dk + i]! * d;
            let dkt = 0;
            for (let j = 0; j < Dv; j++) {
              dVp[r * Dv + j] += kt * dS[i * Dv + j]!;
              dkt += dS[i * Dv + j]! * Vp[r * Dv + j]!;
            }
            dK[r * Dk + i] += dkt * d;
            cr += dkt * kt;
          }
          dGam[L - 1] += cr;
          dGam[r] -= cr;
        }

        // ---- output: O = Q̃ S0 + P V',  Q̃_r = q_r e^{γ_r},  P_rs = (q_r·k_s) Γ_rs ----
        for (let r = 0; r < L; r++) {
          // dQ̃_r = S0 dO_r;  dS0 += Q̃_r ⊗ dO_r
          let e = 0;
          for (let i = 0; i < Dk; i++) {
            let dq = 0;
            const qt = Q[r * Dk + i]! * eg[r]!;
            for (let j = 0; j < Dv; j++) {
              dq += S0[i * Dv + j]! * dO[r * Dv + j]!;
              dS0[i * Dv + j] += qt * dO[r * Dv + j]!;
            }
            dQ[r * Dk + i] += dq * eg[r]!;
            e += dq * qt;
          }
          dGam[r] += e;
          for (let s = 0; s <= r; s++) {
            // dP_rs = dO_r·V'_s;  dV'_s += P_rs dO_r
            let dp = 0;
            const p = P[r * C + s]!;
            for (let j = 0; j < Dv; j++) {
              dp += dO[r * Dv + j]! * Vp[s * Dv + j]!;
              dVp[s * Dv + j] += p * dO[r * Dv + j]!;
            }
            const gm = dp * Gam[r * C + s]!;
            for (let i = 0; i < Dk; i++) {
              dQ[r * Dk + i] += gm * Kc[s * Dk + i]!;
              dK[s * Dk + i] += gm * Q[r * Dk + i]!;
            }
            const E = dp * p;
            dGam[r] += E;
            dGam[s] -= E;
          }
        }

        // ---- V' = U − W S0:  dU = dV',  dW = −dV' S0ᵀ,  dS0 −= Wᵀ dV' ----
        for (let r = 0; r < L; r++)
          for (let i = 0; i < Dk; i++) {
            let x = 0;
            const w = W[r * Dk + i]!;
            for (let j = 0; j < Dv; j++) {
              x += dVp[r * Dv + j]! * S0[i * Dv + j]!;
              dS0[i * Dv + j] -= w * dVp[r * Dv + j]!;
            }
            dW[r * Dk + i] = -x;
          }

        // ---- U = Tm Vb, W = Tm Kb:  dVb = Tmᵀ dU,  dKb = Tmᵀ dW ----
        for (let s = 0; s < L; s++) {
          tmp.fill(0, 0, Dv);
          for (let r = s; r < L; r++) {
            const t = Tm[r * C + s]!;
            for (let j = 0; j < Dv; j++) tmp[j] += t * dVp[r * Dv + j]!;
          }
          for (let j = 0; j < Dv; j++) dVb[s * Dv + j] = tmp[j]!;
          tmp.fill(0, 0, Dk);
          for (let r = s; r < L; r++) {
            const t = Tm[r * C + s]!;
            for (let i = 0; i < Dk; i++) tmp[i] += t * dW[r * Dk + i]!;
          }
          for (let i = 0; i < Dk; i++) dKb[s * Dk + i] = tmp[i]!;
        }
        // Vb_r = β_r v_r;  Kb_r = β_r e^{γ_r} k_r
        for (let r = 0; r < L; r++) {
          let dvb = 0;
          for (let j = 0; j < Dv; j++) {
            dV[r * Dv + j] += bet[r]! * dVb[r * Dv + j]!;
            dvb += dVb[r * Dv + j]! * Vc[r * Dv + j]!;
          }
          let tk = 0;
          const f = bet[r]! * eg[r]!;
          for (let i = 0; i < Dk; i++) {
            dK[r * Dk + i] += f * dKb[r * Dk + i]!;
            tk += dKb[r * Dk + i]! * Kc[r * Dk + i]!;
          }
          dB[r] += dvb + eg[r]! * tk;
          dGam[r] += f * tk;
        }

        // ---- Tm = (I + A)⁻¹:  dA = −(dVb Uᵀ + dKb Wᵀ), strictly lower ----
        for (let r = 0; r < L; r++)
          for (let s = 0; s < r; s++) {
            let x = 0;
            for (let j = 0; j < Dv; j++) x += dVb[r * Dv + j]! * U[s * Dv + j]!;
            for (let i = 0; i < Dk; i++) x += dKb[r * Dk + i]! * W[s * Dk + i]!;
            dA[r * C + s] = -x;
          }

        // ---- A_rs = β_r (k_r·k_s) Γ_rs ----
        for (let r = 0; r < L; r++)
          for (let s = 0; s < r; s++) {
            const da = dA[r * C + s]!;
            dB[r] += da * KK[r * C + s]! * Gam[r * C + s]!;
            const N = da * bet[r]! * Gam[r * C + s]!;
            for (let i = 0; i < Dk; i++) {
              dK[r * Dk + i] += N * Kc[s * Dk + i]!;
              dK[s * Dk + i] += N * Kc[r * Dk + i]!;
            }
            const F = da * A[r * C + s]!;
            dGam[r] += F;
            dGam[s] -= F;
          }

        // ---- write: dg = reverse cumsum of dγ, dq = scale·dQ ----
        let acc = 0;
        for (let r = L - 1; r >= 0; r--) {
          acc += dGam[r]!;
          const row = (bi * T + t0 + r) * H + h;
          gg[row] = acc;
          gbeta[row] = dB[r]!;
          for (let i = 0; i < Dk; i++) {
            gq[row * Dk + i] = dQ[r * Dk + i]! * scale;
            gk[row * Dk + i] = dK[r * Dk + i]!;
          }
          for (let j = 0; j < Dv; j++) gv[row * Dv + j] = dV[r * Dv + j]!;
        }
        dS.set(dS0);
      }
      if (gInitialState) for (let x = 0; x < n; x++) gInitialState[bh * n + x] = dS[x]!;
    }
}
