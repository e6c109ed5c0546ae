/**
 * Regime shift detector — two-sided CUSUM on `volatility_1h` with dormancy and an adaptive
 * cooldown (DOMAIN.md §5.5). The checkpoint includes M2 (§15.11 fixed).
 *
 * Dormancy: while now − dormant_since < dormancy_minimum_seconds, a breach only pushes
 * dormant_since to now and nothing fires. After a fire dormant_since = now +
 * dormancy_minimum_seconds × adaptive_cooldown_factor. Where the reference *pulls back* a
 * post-fire dormant_since when a breach occurs during that cooldown (§15.11, shortening it),
 * this implementation takes max(dormant_since, now) so a breach can only extend dormancy.
 *
 * @example
 * ```ts
 * import { RegimeShiftDetector } from "./regime_shift.ts";
 * new RegimeShiftDetector().warmupRequired(); // 30
 * ```
 * @module
 */

import type { FeatureVector, MarketSignal, MarketSnapshot } from "../models.ts";
import { Cusum, type CusumState } from "./cusum.ts";
import {
  buildSignal,
  checkOption,
  checkWarmup,
  DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
  inResolutionWindow,
  MICROS,
  PerMarketDetector,
} from "./detector.ts";

/** `[regime_shift]` options (detectors.toml keys, DOMAIN defaults). */
export interface RegimeShiftOptions {
  k_multiplier?: number;
  h_multiplier?: number;
  dormancy_minimum_seconds?: number;
  adaptive_cooldown_factor?: number;
  /** Accepted for config compatibility; unused (as in the reference). */
  target_alpha?: number;
  resolution_exclusion_seconds?: number;
  /** Vectors before firing is allowed (code-only; default 30). */
  warmup?: number;
}

/** Per-market state (plain JSON). Times in epoch µs. */
export interface RegimeShiftState {
  cusum: CusumState;
  count: number;
  dormant_since: number | null;
  last_signal_at: number | null;
}

interface Live {
  cusum: Cusum;
  count: number;
  dormant_since: number | null;
  last_signal_at: number | null;
}

/**
 * Regime shift detector (`regime_shift_cusum_v1`).
 *
 * @example
 * ```ts
 * import { RegimeShiftDetector } from "./regime_shift.ts";
 * new RegimeShiftDetector({ h_multiplier: 5 }).options.h_multiplier; // 5
 * ```
 */
export class RegimeShiftDetector extends PerMarketDetector<Live, RegimeShiftState> {
  readonly detector_id = "regime_shift_cusum_v1" as const;
  readonly signal_type = "regime_shift" as const;
  readonly options: Required<RegimeShiftOptions>;

  /** @param options `[regime_shift]` table */
  constructor(options: RegimeShiftOptions = {}) {
    super();
    const o = {
      k_multiplier: options.k_multiplier ?? 0.5,
      h_multiplier: options.h_multiplier ?? 4.0,
      dormancy_minimum_seconds: options.dormancy_minimum_seconds ?? 21_600,
      adaptive_cooldown_factor: options.adaptive_cooldown_factor ?? 2.0,
      target_alpha: options.target_alpha ?? 0.02,
      resolution_exclusion_seconds: options.resolution_exclusion_seconds ??
        DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
      warmup: options.warmup ?? 30,
    };
    const t = "[regime_shift]";
    const nonNeg = (key: keyof typeof o) =>
      checkOption(o[key], { name: `${t} ${key}`, ok: (v) => v >= 0, expected: "a number ≥ 0" });
    nonNeg("k_multiplier");
    checkOption(o.h_multiplier, {
      name: `${t} h_multiplier`,
      ok: (v) => v > 0,
      expected: "a number > 0",
    });
    nonNeg("dormancy_minimum_seconds");
    nonNeg("adaptive_cooldown_factor");
    checkOption(o.target_alpha, {
      name: `${t} target_alpha`,
      ok: (v) => v > 0 && v < 1,
      expected: "a number in (0, 1)",
    });
    nonNeg("resolution_exclusion_seconds");
    checkWarmup(t, o.warmup);
    this.options = o;
  }

  /** @inheritdoc */
  warmupRequired(): number {
    return this.options.warmup;
  }

  /** @inheritdoc */
  ingest(
    marketId: string,
    feature: FeatureVector,
    snapshot: MarketSnapshot,
    now: number,
  ): MarketSignal | null {
    const o = this.options;
    if (inResolutionWindow(snapshot.closes_at, now, o.resolution_exclusion_seconds)) return null;
    let s = this.live.get(marketId);
    if (s === undefined) {
      s = { cusum: new Cusum(o), count: 0, dormant_since: now, last_signal_at: null };
      this.live.set(marketId, s);
    }
    if (s.dormant_since === null) s.dormant_since = now;
    s.count += 1;
    const step = s.cusum.update(feature.volatility_1h);
    if (s.count < o.warmup) return null;
    const h = step.threshold;
    const pos = Math.abs(step.positive), neg = Math.abs(step.negative);
    const breach = pos > h || neg > h;
    if (now - s.dormant_since < o.dormancy_minimum_seconds * MICROS) {
      if (breach) s.dormant_since = Math.max(s.dormant_since, now);
      return null;
    }
    if (!breach) return null;
    const direction = pos >= neg ? 1 : -1;
    const magnitude = Math.min(1, Math.max(pos, neg) / (2 * h + 1e-9));
    s.cusum.resetSums();
    s.dormant_since = now +
      Math.round(o.dormancy_minimum_seconds * o.adaptive_cooldown_factor * MICROS);
    s.last_signal_at = now;
    return buildSignal({
      detector_id: this.detector_id,
      signal_type: this.signal_type,
      market_id: marketId,
      snapshot,
      now,
      magnitude,
      direction,
      window_seconds: 3600,
      raw_features: {
        positive_cusum: step.positive,
        negative_cusum: step.negative,
        threshold: h,
      },
    });
  }

  protected toJson(l: Live): RegimeShiftState {
    return {
      cusum: l.cusum.state(),
      count: l.count,
      dormant_since: l.dormant_since,
      last_signal_at: l.last_signal_at,
    };
  }

  protected fromJson(s: RegimeShiftState): Live {
    const c = s.cusum;
    if (![c?.n, c?.mean, c?.m2, c?.positive, c?.negative].every(Number.isFinite)) {
      throw new TypeError("cusum must hold finite n, mean, m2, positive, negative");
    }
    return {
      cusum: Cusum.fromState(c, this.options),
      count: s.count,
      dormant_since: s.dormant_since ?? null,
      last_signal_at: s.last_signal_at ?? null,
    };
  }
}
