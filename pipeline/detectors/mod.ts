/**
 * Public surface of the detector stage: the protocol, the five detectors, and a factory from
 * the `detectors.toml` sections.
 *
 * @example
 * ```ts
 * import { createDetectors, runPerMarketDetectors } from "./mod.ts";
 * const set = createDetectors({}, { relationships: [] });
 * // const signals = runPerMarketDetectors(set.perMarket, { market_id, feature, snapshot, now });
 * ```
 * @module
 */

import type { FeatureVector, MarketSignal, MarketSnapshot } from "../models.ts";
import { BookImbalanceDetector, type BookImbalanceOptions } from "./book_imbalance.ts";
import {
  CrossMarketDivergenceDetector,
  type CrossMarketOptions,
  type PairSelection,
  pairsFromRelationships,
  type RelationshipLike,
} from "./cross_market_divergence.ts";
import type { Detector } from "./detector.ts";
import { PriceVelocityDetector, type PriceVelocityOptions } from "./price_velocity.ts";
import { RegimeShiftDetector, type RegimeShiftOptions } from "./regime_shift.ts";
import { VolumeSpikeDetector, type VolumeSpikeOptions } from "./volume_spike.ts";

export * from "./detector.ts";
export * from "./price_velocity.ts";
export * from "./volume_spike.ts";
export * from "./book_imbalance.ts";
export * from "./regime_shift.ts";
export * from "./cross_market_divergence.ts";

/** The `detectors` config section (detectors.toml tables). */
export interface DetectorsConfig {
  price_velocity?: PriceVelocityOptions;
  volume_spike?: VolumeSpikeOptions;
  book_imbalance?: BookImbalanceOptions;
  cross_market?: CrossMarketOptions;
  regime_shift?: RegimeShiftOptions;
}

/** Everything the detector stage runs. */
export interface DetectorSet {
  /** In DOMAIN §1 order: price_velocity, volume_spike, book_imbalance, regime_shift. */
  perMarket: Detector[];
  /** The batch detector (the `divergence` singleton / engine). */
  divergence: CrossMarketDivergenceDetector;
  /** Relationships that did not become pairs, with reasons (log them). */
  skippedPairs: PairSelection["skipped"];
}

/**
 * Build all detectors from config and the watchlist relationships.
 *
 * @param config the `detectors` section
 * @param options `relationships` from markets.toml
 *
 * @example
 * ```ts
 * import { createDetectors } from "./mod.ts";
 * createDetectors({ volume_spike: { minimum_z: 2 } }, { relationships: [] }).perMarket.length; // 4
 * ```
 */
export function createDetectors(
  config: DetectorsConfig,
  options: { relationships?: readonly RelationshipLike[] } = {},
): DetectorSet {
  const cm = config.cross_market ?? {};
  const { pairs, skipped } = pairsFromRelationships(options.relationships ?? [], cm);
  return {
    perMarket: [
      new PriceVelocityDetector(config.price_velocity),
      new VolumeSpikeDetector(config.volume_spike),
      new BookImbalanceDetector(config.book_imbalance),
      new RegimeShiftDetector(config.regime_shift),
    ],
    divergence: new CrossMarketDivergenceDetector(pairs, cm),
    skippedPairs: skipped,
  };
}

/** One market's tick for {@linkcode runPerMarketDetectors}. */
export interface DetectorInput {
  market_id: string;
  feature: FeatureVector;
  snapshot: MarketSnapshot;
  /** Epoch µs (the tick time). */
  now: number;
}

/**
 * Run the per-market detectors in order on one tick; returns 0..n candidates in detector order.
 *
 * @example
 * ```ts
 * import { runPerMarketDetectors } from "./mod.ts";
 * // runPerMarketDetectors(set.perMarket, { market_id, feature, snapshot, now })
 * ```
 */
export function runPerMarketDetectors(
  detectors: readonly Detector[],
  input: DetectorInput,
): MarketSignal[] {
  const out: MarketSignal[] = [];
  for (const d of detectors) {
    const s = d.ingest(input.market_id, input.feature, input.snapshot, input.now);
    if (s !== null) out.push(s);
  }
  return out;
}
