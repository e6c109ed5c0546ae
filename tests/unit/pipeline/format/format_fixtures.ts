/**
 * One hand-built SignalContext per signal type for the formatter tests and golden files.
 *
 * @module
 */
import type { SignalContext, SignalType } from "../../../../pipeline/models.ts";
import { S, sig, T0 } from "../signal_fixtures.ts";

const RAW: Record<SignalType, Record<string, number | string>> = {
  price_velocity: { posterior_p_change: 0.71944, expected_run_length: 14.45 },
  volume_spike: { volume_ratio_1h: 4.2, ewma_mean: 1.0625, ewma_std: 0.5, z_score: 2.85 },
  book_imbalance: { bid_ask_ratio: 0.8125, liquidity: 15234.5 },
  cross_market_divergence: {
    spearman_rho: 0.939394,
    p_value: 0.005944,
    historical_z: 0.693147,
    related_market_id: "kalshi_fed_holds",
  },
  regime_shift: { positive_cusum: 8.12345, negative_cusum: -0.5, threshold: 7.15542 },
};

const TIER: Record<SignalType, "high" | "mid" | "low"> = {
  price_velocity: "high",
  volume_spike: "mid",
  book_imbalance: "low",
  cross_market_divergence: "high",
  regime_shift: "mid",
};

/** A deterministic context for `type`. */
export function goldenContext(type: SignalType): SignalContext {
  const withExtras = type === "price_velocity" || type === "cross_market_divergence";
  const signal = sig({
    signal_id: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
    market_id: "kalshi_fed",
    platform: "kalshi",
    signal_type: type,
    magnitude: 0.8125,
    direction: type === "book_imbalance" ? -1 : type === "cross_market_divergence" ? 0 : 1,
    confidence: 0.875,
    fdr_adjusted: type === "cross_market_divergence",
    detected_at: T0 + 7 * S,
    window_seconds: type === "book_imbalance" ? 180 : type === "price_velocity" ? 300 : 3600,
    liquidity_tier: TIER[type],
    manipulation_flags: withExtras ? ["thin_book_during_move", "pre_resolution_window"] : [],
    related_market_ids: type === "cross_market_divergence" ? ["kalshi_fed_holds"] : [],
    raw_features: RAW[type],
  });
  return {
    signal,
    market_question: "Will the Fed cut rates in June 2026?",
    resolution_criteria: withExtras
      ? "Resolves YES if the FOMC lowers the target range.\nOtherwise NO."
      : "",
    resolution_source: withExtras ? "Federal Reserve" : "",
    closes_at: Date.UTC(2026, 5, 15, 18, 0, 0) * 1000,
    related_markets: withExtras
      ? [{
        market_id: "kalshi_fed_holds",
        question: "Will the Fed hold in June 2026?",
        current_price: 0.44,
        delta_24h: -0.0235432,
        volume_24h: 85000.4,
        relationship_type: "inverse",
        relationship_strength: 0.9,
      }, {
        market_id: "poly_fed_cut_june",
        question: "Fed cut in June?",
        current_price: 0.5625,
        delta_24h: 0.0125,
        volume_24h: 120000,
        relationship_type: "positive",
        relationship_strength: 1,
      }]
      : [],
    investigation_prompts: withExtras
      ? ["Check the FOMC calendar.", "Compare with fed funds futures."]
      : [],
    interpretation_mode: "deterministic",
    schema_version: "1.0.0",
  };
}
