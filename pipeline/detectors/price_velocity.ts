/**
 * Price velocity detector — Beta-Binomial BOCPD on "price above its slow mean" (DOMAIN.md §5.1).
 *
 * Per tick: μ_prev = μ (first time: the price); μ ← 0.95μ_prev + 0.05p; x = 1 if p > μ_prev
 * else 0; BOCPD update; fire when count ≥ 50 and P5 ≥ 0.7, then cool down 900 s (during the
 * cooldown ticks are ignored entirely). **[DEVIATION]** direction = sign(p − μ_prev).
 *
 * @example
 * ```ts
 * import { PriceVelocityDetector } from "./price_velocity.ts";
 * const d = new PriceVelocityDetector({ fire_threshold: 0.7 });
 * d.warmupRequired(); // 50
 * ```
 * @module
 */

import type { FeatureVector, MarketSignal, MarketSnapshot } from "../models.ts";
import { Bocpd, type BocpdState } from "./bocpd.ts";
import {
  buildSignal,
  checkExclusionSeconds,
  checkOption,
  checkWarmup,
  clamp01,
  DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
  inResolutionWindow,
  MICROS,
  PerMarketDetector,
} from "./detector.ts";

/** `[price_velocity]` options (detectors.toml keys, DOMAIN defaults). */
export interface PriceVelocityOptions {
  hazard_rate?: number;
  alpha_prior?: number;
  beta_prior?: number;
  run_length_cap?: number;
  fire_threshold?: number;
  cooldown_seconds?: number;
  resolution_exclusion_seconds?: number;
  /** Vectors before firing is allowed (code-only; default 50). */
  warmup?: number;
}

/** Per-market state (plain JSON). */
export interface PriceVelocityState {
  bocpd: BocpdState;
  /** Running mean μ (null before the first price). */
  mean: number | null;
  last_price: number | null;
  /** Epoch µs; null when not cooling down. */
  cooldown_until: number | null;
  count: number;
}

interface Live {
  bocpd: Bocpd;
  mean: number | null;
  last_price: number | null;
  cooldown_until: number | null;
  count: number;
}

/** Fixed weight of the running mean (DOMAIN §5.1). */
const MEAN_DECAY = 0.95;

/**
 * Price velocity detector (`price_velocity_bocpd_beta_v1`).
 *
 * @example
 * ```ts
 * import { PriceVelocityDetector } from "./price_velocity.ts";
 * const d = new PriceVelocityDetector();
 * d.state("m"); // null until the first vector
 * ```
 */
export class PriceVelocityDetector extends PerMarketDetector<Live, PriceVelocityState> {
  readonly detector_id = "price_velocity_bocpd_beta_v1" as const;
  readonly signal_type = "price_velocity" as const;
  readonly options: Required<PriceVelocityOptions>;

  /** @param options `[price_velocity]` table */
  constructor(options: PriceVelocityOptions = {}) {
    super();
    const o = {
      hazard_rate: options.hazard_rate ?? 0.004,
      alpha_prior: options.alpha_prior ?? 1,
      beta_prior: options.beta_prior ?? 1,
      run_length_cap: options.run_length_cap ?? 1000,
      fire_threshold: options.fire_threshold ?? 0.7,
      cooldown_seconds: options.cooldown_seconds ?? 900,
      resolution_exclusion_seconds: options.resolution_exclusion_seconds ??
        DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
      warmup: options.warmup ?? 50,
    };
    const t = "[price_velocity]";
    checkOption(o.fire_threshold, {
      name: `${t} fire_threshold`,
      ok: (v) => v >= 0 && v <= 1,
      expected: "a number in [0, 1]",
    });
    checkOption(o.cooldown_seconds, {
      name: `${t} cooldown_seconds`,
      ok: (v) => v >= 0,
      expected: "a number ≥ 0",
    });
    checkExclusionSeconds(t, o.resolution_exclusion_seconds);
    checkWarmup(t, o.warmup);
    new Bocpd(o); // validates hazard, priors and cap
    this.options = o;
  }

  /** @inheritdoc */
  warmupRequired(): number {
    return this.options.warmup;
  }

  /** @inheritdoc */
  ingest(
    marketId: string,
    _feature: FeatureVector,
    snapshot: MarketSnapshot,
    now: number,
  ): MarketSignal | null {
    const o = this.options;
    if (inResolutionWindow(snapshot.closes_at, now, o.resolution_exclusion_seconds)) return null;
    let s = this.live.get(marketId);
    if (s === undefined) {
      s = { bocpd: new Bocpd(o), mean: null, last_price: null, cooldown_until: null, count: 0 };
      this.live.set(marketId, s);
    }
    if (s.cooldown_until !== null && now < s.cooldown_until) return null;
    const p = snapshot.last_price;
    const prev = s.mean ?? p;
    s.mean = MEAN_DECAY * prev + (1 - MEAN_DECAY) * p;
    const x = p > prev ? 1 : 0;
    const r = s.bocpd.update(x);
    s.last_price = p;
    s.count += 1;
    if (s.count < o.warmup || r.p_change < o.fire_threshold) return null;
    s.cooldown_until = now + o.cooldown_seconds * MICROS;
    const diff = p - prev;
    return buildSignal({
      detector_id: this.detector_id,
      signal_type: this.signal_type,
      market_id: marketId,
      snapshot,
      now,
      magnitude: clamp01(r.p_change),
      direction: diff > 0 ? 1 : diff < 0 ? -1 : 0,
      window_seconds: 300,
      raw_score: r.p_change,
      raw_features: {
        posterior_p_change: r.p_change,
        expected_run_length: r.expected_run_length,
      },
    });
  }

  protected toJson(l: Live): PriceVelocityState {
    return {
      bocpd: l.bocpd.state(),
      mean: l.mean,
      last_price: l.last_price,
      cooldown_until: l.cooldown_until,
      count: l.count,
    };
  }

  protected fromJson(s: PriceVelocityState): Live {
    return {
      bocpd: Bocpd.fromState(s.bocpd, this.options),
      mean: s.mean ?? null,
      last_price: s.last_price ?? null,
      cooldown_until: s.cooldown_until ?? null,
      count: s.count ?? 0,
    };
  }
}
