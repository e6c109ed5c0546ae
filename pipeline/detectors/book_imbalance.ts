/**
 * Book imbalance detector — bid depth share with hysteresis by persistence (DOMAIN.md §5.3).
 * `bid_ask_ratio` is the **[DEVIATION]** depth ratio bid_depth/(bid_depth + ask_depth) from the
 * feature stage, so both directions can fire.
 *
 * @example
 * ```ts
 * import { BookImbalanceDetector } from "./book_imbalance.ts";
 * new BookImbalanceDetector().warmupRequired(); // 3
 * ```
 * @module
 */

import type { FeatureVector, MarketSignal, MarketSnapshot } from "../models.ts";
import {
  buildSignal,
  checkExclusionSeconds,
  checkOption,
  DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
  inResolutionWindow,
  PerMarketDetector,
} from "./detector.ts";

/** `[book_imbalance]` options (detectors.toml keys, DOMAIN defaults). */
export interface BookImbalanceOptions {
  /** Informational: the feature stage uses the top 5 levels (default 5). */
  depth_levels?: number;
  bullish_threshold?: number;
  bearish_threshold?: number;
  persistence_snapshots?: number;
  minimum_total_depth?: number;
  resolution_exclusion_seconds?: number;
}

/** Per-market state (plain JSON): consecutive bid-heavy / ask-heavy counts. */
export interface BookImbalanceState {
  bull: number;
  bear: number;
}

/**
 * Book imbalance detector (`book_imbalance_depth_persist_v1`).
 *
 * @example
 * ```ts
 * import { BookImbalanceDetector } from "./book_imbalance.ts";
 * new BookImbalanceDetector({ persistence_snapshots: 4 }).warmupRequired(); // 4
 * ```
 */
export class BookImbalanceDetector
  extends PerMarketDetector<BookImbalanceState, BookImbalanceState> {
  readonly detector_id = "book_imbalance_depth_persist_v1" as const;
  readonly signal_type = "book_imbalance" as const;
  readonly options: Required<BookImbalanceOptions>;

  /** @param options `[book_imbalance]` table */
  constructor(options: BookImbalanceOptions = {}) {
    super();
    const o = {
      depth_levels: options.depth_levels ?? 5,
      bullish_threshold: options.bullish_threshold ?? 0.72,
      bearish_threshold: options.bearish_threshold ?? 0.28,
      persistence_snapshots: options.persistence_snapshots ?? 3,
      minimum_total_depth: options.minimum_total_depth ?? 5_000,
      resolution_exclusion_seconds: options.resolution_exclusion_seconds ??
        DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
    };
    const t = "[book_imbalance]";
    checkOption(o.depth_levels, {
      name: `${t} depth_levels`,
      ok: (v) => Number.isInteger(v) && v >= 1,
      expected: "an integer ≥ 1",
    });
    checkOption(o.bullish_threshold, {
      name: `${t} bullish_threshold`,
      ok: (v) => v > 0.5 && v <= 1,
      expected: "a number in (0.5, 1]",
    });
    checkOption(o.bearish_threshold, {
      name: `${t} bearish_threshold`,
      ok: (v) => v >= 0 && v < 0.5,
      expected: "a number in [0, 0.5)",
    });
    checkOption(o.persistence_snapshots, {
      name: `${t} persistence_snapshots`,
      ok: (v) => Number.isInteger(v) && v >= 1,
      expected: "an integer ≥ 1",
    });
    checkOption(o.minimum_total_depth, {
      name: `${t} minimum_total_depth`,
      ok: (v) => v >= 0,
      expected: "a number ≥ 0",
    });
    checkExclusionSeconds(t, o.resolution_exclusion_seconds);
    this.options = o;
  }

  /** @inheritdoc */
  warmupRequired(): number {
    return this.options.persistence_snapshots;
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
      s = { bull: 0, bear: 0 };
      this.live.set(marketId, s);
    }
    if (snapshot.liquidity < o.minimum_total_depth) {
      s.bull = 0;
      s.bear = 0;
      return null;
    }
    const ratio = feature.bid_ask_ratio;
    if (ratio === null) return null;
    if (ratio >= o.bullish_threshold) {
      s.bull += 1;
      s.bear = 0;
    } else if (ratio <= o.bearish_threshold) {
      s.bear += 1;
      s.bull = 0;
    } else {
      s.bull = 0;
      s.bear = 0;
    }
    const n = o.persistence_snapshots;
    if (s.bull < n && s.bear < n) return null;
    const direction = s.bull >= n ? 1 : -1;
    s.bull = 0;
    s.bear = 0;
    return buildSignal({
      detector_id: this.detector_id,
      signal_type: this.signal_type,
      market_id: marketId,
      snapshot,
      now,
      magnitude: Math.min(1, 2 * Math.abs(ratio - 0.5)),
      direction,
      window_seconds: n * 60,
      raw_features: { bid_ask_ratio: ratio, liquidity: snapshot.liquidity },
    });
  }

  protected toJson(l: BookImbalanceState): BookImbalanceState {
    return { bull: l.bull, bear: l.bear };
  }

  protected fromJson(s: BookImbalanceState): BookImbalanceState {
    if (!Number.isInteger(s.bull) || !Number.isInteger(s.bear)) {
      throw new TypeError("bull and bear must be integers");
    }
    return { bull: s.bull, bear: s.bear };
  }
}
