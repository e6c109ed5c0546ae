/**
 * Beta-Binomial Bayesian online change-point detection (DOMAIN.md §5.1), used by the price
 * velocity detector. Pure and checkpointable: {@linkcode Bocpd.state} returns plain JSON data
 * and {@linkcode Bocpd.fromState} restores an identical model.
 *
 * Only run lengths that can carry mass are stored (after t updates: 0..min(t, R)); entries
 * beyond that have π = 0 in the reference too, so the arithmetic is identical.
 *
 * @example
 * ```ts
 * import { Bocpd } from "./bocpd.ts";
 * const model = new Bocpd();
 * const { p_change } = model.update(0); // 1.0 on the first observation
 * ```
 * @module
 */

/** Options of {@linkcode Bocpd}; keys as in `detectors.toml` `[price_velocity]`. */
export interface BocpdOptions {
  /** Constant hazard H (default 0.004). */
  hazard_rate?: number;
  /** Beta prior α₀ (default 1). */
  alpha_prior?: number;
  /** Beta prior β₀ (default 1). */
  beta_prior?: number;
  /** Run-length cap R (default 1000); the last bucket absorbs longer runs. */
  run_length_cap?: number;
}

/** Serializable BOCPD state: the active prefix of π, α, β (all the same length). */
export interface BocpdState {
  pi: number[];
  alpha: number[];
  beta: number[];
}

/** Result of one update. */
export interface BocpdResult {
  /** P5 = Σ_{r=0..4} π′(r): posterior probability of a change within the last 5 steps. */
  p_change: number;
  /** E[r] = Σ r·π′(r). */
  expected_run_length: number;
}

/** Error raised for an observation outside [0, 1] or an invalid state. */
export class BocpdError extends Error {
  /** @param message what was expected and what was received */
  constructor(message: string) {
    super(message);
    this.name = "BocpdError";
  }
}

/**
 * Beta-Binomial BOCPD over run lengths 0..R.
 *
 * @example
 * ```ts
 * import { Bocpd } from "./bocpd.ts";
 * const m = new Bocpd({ hazard_rate: 0.004 });
 * for (let i = 0; i < 5; i++) m.update(0);
 * ```
 */
export class Bocpd {
  readonly hazard: number;
  readonly alpha0: number;
  readonly beta0: number;
  readonly cap: number;
  #pi: Float64Array;
  #alpha: Float64Array;
  #beta: Float64Array;
  #len: number;

  /** @param options priors, hazard and cap (DOMAIN defaults) */
  constructor(options: BocpdOptions = {}) {
    this.hazard = options.hazard_rate ?? 0.004;
    this.alpha0 = options.alpha_prior ?? 1;
    this.beta0 = options.beta_prior ?? 1;
    this.cap = options.run_length_cap ?? 1000;
    if (!(this.hazard > 0 && this.hazard < 1)) {
      throw new BocpdError(`hazard_rate: expected a number in (0, 1), received ${this.hazard}`);
    }
    if (!(this.alpha0 > 0) || !(this.beta0 > 0)) {
      throw new BocpdError(
        `alpha_prior/beta_prior: expected positive numbers, received ${this.alpha0}/${this.beta0}`,
      );
    }
    if (!Number.isInteger(this.cap) || this.cap < 1) {
      throw new BocpdError(`run_length_cap: expected an integer ≥ 1, received ${this.cap}`);
    }
    // Grow lazily: most markets never reach the cap in short replays.
    const initial = Math.min(this.cap + 1, 64);
    this.#pi = new Float64Array(initial);
    this.#alpha = new Float64Array(initial);
    this.#beta = new Float64Array(initial);
    this.#pi[0] = 1;
    this.#alpha[0] = this.alpha0;
    this.#beta[0] = this.beta0;
    this.#len = 1;
  }

  /** Number of stored run lengths (≤ R + 1). */
  get activeLength(): number {
    return this.#len;
  }

  #ensure(size: number): void {
    if (this.#pi.length >= size) return;
    const next = Math.min(this.cap + 1, Math.max(size, this.#pi.length * 2));
    const grow = (a: Float64Array) => {
      const b = new Float64Array(next);
      b.set(a);
      return b;
    };
    this.#pi = grow(this.#pi);
    this.#alpha = grow(this.#alpha);
    this.#beta = grow(this.#beta);
  }

  /**
   * Update with one observation x ∈ [0, 1] and return P5 and E[r].
   *
   * @param x observation in [0, 1]
   * @returns posterior change probability and expected run length
   */
  update(x: number): BocpdResult {
    if (!(x >= 0 && x <= 1)) {
      throw new BocpdError(`observation: expected a number in [0, 1], received ${x}`);
    }
    const H = this.hazard;
    const keep = 1 - H;
    const R = this.cap;
    const L = this.#len;
    const full = L === R + 1;
    const newLen = full ? L : L + 1;
    this.#ensure(newLen);
    const pi = this.#pi, al = this.#alpha, be = this.#beta;
    const nx = 1 - x;
    let c = 0;
    let top = newLen - 1; // highest index written by the plain shift
    if (full) {
      // r = R absorbs g_{R-1} and g_R.
      const aR = al[R], bR = be[R];
      const pR = pi[R] * ((aR * x + bR * nx) / (aR + bR));
      const a1 = al[R - 1], b1 = be[R - 1];
      const p1 = pi[R - 1] * ((a1 * x + b1 * nx) / (a1 + b1));
      c += (pR + p1) * H;
      const gR = pR * keep, g1 = p1 * keep;
      const w = g1 + gR;
      let na: number, nb: number;
      if (w > 0) {
        na = (g1 * (a1 + x) + gR * (aR + x)) / w;
        nb = (g1 * (b1 + nx) + gR * (bR + nx)) / w;
      } else {
        na = a1 + x;
        nb = b1 + nx;
      }
      pi[R] = w;
      al[R] = na;
      be[R] = nb;
      top = R - 1;
    }
    // Plain shift for 1 ≤ r ≤ top, reading index r−1 before it is overwritten.
    for (let r = top; r >= 1; r--) {
      const a = al[r - 1], b = be[r - 1];
      const p = pi[r - 1] * ((a * x + b * nx) / (a + b));
      c += p * H;
      pi[r] = p * keep;
      al[r] = a + x;
      be[r] = b + nx;
    }
    pi[0] = c;
    al[0] = this.alpha0;
    be[0] = this.beta0;
    this.#len = newLen;
    let total = 0;
    for (let r = 0; r < newLen; r++) total += pi[r];
    if (!(total > 0) || !Number.isFinite(total)) {
      pi.fill(0, 0, newLen);
      pi[0] = 1;
      return { p_change: 1, expected_run_length: 0 };
    }
    const inv = 1 / total;
    let p5 = 0;
    let er = 0;
    for (let r = 0; r < newLen; r++) {
      const v = pi[r] * inv;
      pi[r] = v;
      if (r < 5) p5 += v;
      er += r * v;
    }
    return { p_change: p5, expected_run_length: er };
  }

  /** Plain-data copy of the state (JSON round-trips exactly). */
  state(): BocpdState {
    const n = this.#len;
    return {
      pi: Array.from(this.#pi.subarray(0, n)),
      alpha: Array.from(this.#alpha.subarray(0, n)),
      beta: Array.from(this.#beta.subarray(0, n)),
    };
  }

  /**
   * Rebuild a model from {@linkcode Bocpd.state} output.
   *
   * @param state saved state
   * @param options the same options the saved model used
   */
  static fromState(state: BocpdState, options: BocpdOptions = {}): Bocpd {
    const m = new Bocpd(options);
    const n = state.pi?.length ?? 0;
    if (n < 1 || n > m.cap + 1 || state.alpha?.length !== n || state.beta?.length !== n) {
      throw new BocpdError(
        `state: expected pi/alpha/beta arrays of equal length in 1..${m.cap + 1}, received ` +
          `${state.pi?.length}/${state.alpha?.length}/${state.beta?.length}`,
      );
    }
    m.#ensure(n);
    m.#pi.set(state.pi);
    m.#alpha.set(state.alpha);
    m.#beta.set(state.beta);
    m.#len = n;
    return m;
  }
}
