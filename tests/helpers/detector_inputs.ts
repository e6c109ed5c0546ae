/**
 * Builders of snapshots and feature vectors for detector tests.
 *
 * @example
 * ```ts
 * import { snapshot, feature } from "./detector_inputs.ts";
 * const s = snapshot({ last_price: 0.5 });
 * ```
 * @module
 */
import type { FeatureVector, MarketSnapshot } from "../../pipeline/models.ts";

/** 2026-03-15T12:00:00Z in epoch µs. */
export const T0 = 1_773_576_000_000_000;
/** One second in µs. */
export const SEC = 1_000_000;

/** A valid snapshot with overrides. */
export function snapshot(over: Partial<MarketSnapshot> = {}): MarketSnapshot {
  return {
    market_id: "m1",
    platform: "kalshi",
    timestamp: T0,
    last_price: 0.5,
    bid: 0.49,
    ask: 0.51,
    spread: 0.02,
    volume_24h: 100_000,
    liquidity: 20_000,
    question: "Q?",
    resolution_source: null,
    resolution_criteria: null,
    closes_at: null,
    raw_json: {},
    schema_version: "1.0.0",
    ...over,
  };
}

/** A valid feature vector with overrides. */
export function feature(over: Partial<FeatureVector> = {}): FeatureVector {
  return {
    market_id: "m1",
    computed_at: T0,
    price_momentum_5m: 0,
    price_momentum_15m: 0,
    price_momentum_1h: 0,
    price_momentum_4h: 0,
    volatility_5m: 0,
    volatility_15m: 0,
    volatility_1h: 0.01,
    volatility_4h: 0,
    volume_ratio_5m: 1,
    volume_ratio_1h: 1,
    bid_ask_ratio: 0.5,
    spread_pct: 0.04,
    schema_version: "1.0.0",
    ...over,
  };
}
