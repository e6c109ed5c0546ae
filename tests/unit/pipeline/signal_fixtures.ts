/**
 * Builders of signals, snapshots and the DOMAIN §14 canonical-JSON reference inputs for the
 * dedup / storm / context / format tests.
 *
 * @module
 */
import {
  DETECTOR_ID_BY_SIGNAL_TYPE,
  makeSignal,
  type MarketSignal,
  type MarketSignalInput,
  type MarketSnapshot,
} from "../../../pipeline/models.ts";

/** 2026-03-15T12:00:00Z in epoch µs. */
export const T0 = Date.UTC(2026, 2, 15, 12, 0, 0) * 1000;
/** Seconds → µs. */
export const S = 1_000_000;

let counter = 0;

/** A UUIDv7-shaped id whose order follows `n`. */
export function idOf(n: number): string {
  const hex = n.toString(16).padStart(12, "0");
  return `0190a1b2-c3d4-7e5f-8a6b-${hex}`;
}

/** A valid signal with overrides; provenance follows the signal type. */
export function sig(overrides: Partial<MarketSignalInput> = {}): MarketSignal {
  const type = overrides.signal_type ?? "price_velocity";
  return makeSignal({
    signal_id: idOf(++counter),
    market_id: "m_a",
    platform: "kalshi",
    signal_type: type,
    magnitude: 0.5,
    direction: 1,
    confidence: 0.5,
    fdr_adjusted: false,
    detected_at: T0,
    window_seconds: 300,
    liquidity_tier: "mid",
    manipulation_flags: [],
    related_market_ids: [],
    schema_version: "1.0.0",
    ...overrides,
    raw_features: {
      calibration_provenance: `${DETECTOR_ID_BY_SIGNAL_TYPE[type]}@identity_v0`,
      ...(overrides.raw_features ?? {}),
    },
  });
}

/** A valid snapshot with overrides. */
export function snap(overrides: Partial<MarketSnapshot> = {}): MarketSnapshot {
  return {
    market_id: "m_a",
    platform: "kalshi",
    timestamp: T0,
    last_price: 0.5,
    bid: 0.49,
    ask: 0.51,
    spread: 0.02,
    volume_24h: 100000,
    liquidity: 20000,
    question: "Question?",
    resolution_source: "Source",
    resolution_criteria: "Criteria.",
    closes_at: Date.UTC(2026, 5, 15, 18, 0, 0) * 1000,
    raw_json: {},
    schema_version: "1.0.0",
    ...overrides,
  };
}

/** The DOMAIN §14 canonical JSON reference vector. */
export const REFERENCE_CONTEXT_JSON =
  '{"signal":{"signal_id":"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","market_id":"kalshi_fed","platform":"kalshi","signal_type":"volume_spike","magnitude":0.25,"direction":1,"confidence":0.25,"fdr_adjusted":false,"detected_at":"2026-03-15T12:00:07Z","window_seconds":3600,"liquidity_tier":"mid","manipulation_flags":["thin_book_during_move"],"related_market_ids":["kalshi_fed_holds"],"raw_features":{"calibration_provenance":"volume_spike_ewma_z_v1@identity_v0","ewma_mean":2.0,"ewma_std":1e-06,"volume_ratio_1h":1.0,"z_score":3.15},"schema_version":"1.0.0"},"market_question":"Will the Fed cut in June?","resolution_criteria":"","resolution_source":"Fed","closes_at":"2026-06-15T18:00:00Z","related_markets":[{"market_id":"kalshi_fed_holds","question":"Hold?","current_price":0.44,"delta_24h":-0.023543,"volume_24h":85000.0,"relationship_type":"inverse","relationship_strength":0.9}],"investigation_prompts":["Check FOMC calendar."],"interpretation_mode":"deterministic","schema_version":"1.0.0"}';

/** The §14 reference signal. */
export function referenceSignal(): MarketSignal {
  return makeSignal({
    signal_id: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
    market_id: "kalshi_fed",
    platform: "kalshi",
    signal_type: "volume_spike",
    magnitude: 0.25,
    direction: 1,
    confidence: 0.25,
    fdr_adjusted: false,
    detected_at: T0 + 7 * S,
    window_seconds: 3600,
    liquidity_tier: "mid",
    manipulation_flags: ["thin_book_during_move"],
    related_market_ids: ["kalshi_fed_holds"],
    raw_features: {
      calibration_provenance: "volume_spike_ewma_z_v1@identity_v0",
      ewma_mean: 2.0,
      ewma_std: 0.0000012345,
      volume_ratio_1h: 1.0,
      z_score: 3.15,
    },
    schema_version: "1.0.0",
  });
}

/** Snapshots behind the §14 reference: the market, and the related market now and 24 h ago. */
export function referenceSnapshots(): MarketSnapshot[] {
  const now = T0 + 7 * S;
  return [
    snap({
      market_id: "kalshi_fed",
      timestamp: now,
      question: "Will the Fed cut in June?",
      resolution_criteria: null,
      resolution_source: "Fed",
    }),
    snap({
      market_id: "kalshi_fed_holds",
      timestamp: now - 86_400 * S,
      question: "Hold?",
      last_price: 0.4635432,
      volume_24h: 90000,
    }),
    snap({
      market_id: "kalshi_fed_holds",
      timestamp: now,
      question: "Hold?",
      last_price: 0.44,
      volume_24h: 85000,
    }),
  ];
}
