/**
 * Two-sided CUSUM with cumulative (Welford) mean and standard deviation (DOMAIN.md §5.5).
 * The state includes M2, so a restored model keeps its σ (the reference drops it, §15.11).
 *
 * @example
 * ```ts
 * import { Cusum } from "./cusum.ts";
 * const c = new Cusum();
 * for (const x of [1, 1, 1, 1, 5]) c.update(x);
 * c.state().positive; // ≈ 2.30557
 * ```
 * @module
 */

/** Options of {@linkcode Cusum}; keys as in `detectors.toml` `[regime_shift]`. */
export interface CusumOptions {
  /** k = k_multiplier·σ (default 0.5). */
  k_multiplier?: number;
  /** h = h_multiplier·σ (default 4.0). */
  h_multiplier?: number;
}

/** Serializable CUSUM state. */
export interface CusumState {
  n: number;
  mean: number;
  m2: number;
  positive: number;
  negative: number;
}

/** Result of one update. */
export interface CusumStep {
  positive: number;
  negative: number;
  /** Decision threshold h = h_multiplier·σ. */
  threshold: number;
  mean: number;
  sigma: number;
}

/**
 * Two-sided CUSUM: S⁺ = max(0, S⁺ + (x − μ) − k), S⁻ = min(0, S⁻ + (x − μ) + k).
 *
 * @example
 * ```ts
 * import { Cusum } from "./cusum.ts";
 * const step = new Cusum({ k_multiplier: 0.5, h_multiplier: 4 }).update(0.01);
 * step.threshold; // 4 (σ = 1 before the second point)
 * ```
 */
export class Cusum {
  readonly kMultiplier: number;
  readonly hMultiplier: number;
  #s: CusumState = { n: 0, mean: 0, m2: 0, positive: 0, negative: 0 };

  /** @param options k and h multipliers */
  constructor(options: CusumOptions = {}) {
    this.kMultiplier = options.k_multiplier ?? 0.5;
    this.hMultiplier = options.h_multiplier ?? 4.0;
  }

  /**
   * Add one observation.
   *
   * @param x the observation (finite)
   * @returns the sums and threshold after the update
   */
  update(x: number): CusumStep {
    const s = this.#s;
    s.n += 1;
    const delta = x - s.mean;
    s.mean += delta / s.n;
    s.m2 += delta * (x - s.mean);
    const sigma = s.n > 1 ? Math.max(1e-9, Math.sqrt(s.m2 / (s.n - 1))) : 1;
    const k = this.kMultiplier * sigma;
    const dev = x - s.mean;
    s.positive = Math.max(0, s.positive + dev - k);
    s.negative = Math.min(0, s.negative + dev + k);
    return {
      positive: s.positive,
      negative: s.negative,
      threshold: this.hMultiplier * sigma,
      mean: s.mean,
      sigma,
    };
  }

  /** Clear S⁺ and S⁻ only (μ, σ stay cumulative). */
  resetSums(): void {
    this.#s.positive = 0;
    this.#s.negative = 0;
  }

  /** Plain-data copy of the state. */
  state(): CusumState {
    return { ...this.#s };
  }

  /**
   * Rebuild from {@linkcode Cusum.state} output.
   *
   * @param state saved state
   * @param options the same multipliers
   */
  static fromState(state: CusumState, options: CusumOptions = {}): Cusum {
    const c = new Cusum(options);
    c.#s = {
      n: state.n,
      mean: state.mean,
      m2: state.m2,
      positive: state.positive,
      negative: state.negative,
    };
    return c;
  }
}
