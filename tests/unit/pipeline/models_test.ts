import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  copySignal,
  defaultProvenance,
  DETECTOR_ID_BY_SIGNAL_TYPE,
  DETECTOR_IDS,
  FeatureVectorSchema,
  IntelligenceBriefSchema,
  makeSignal,
  MANIPULATION_FLAGS,
  type MarketSignalInput,
  MarketSignalSchema,
  MarketSnapshotSchema,
  SCHEMA_VERSION,
  SIGNAL_TYPE_BY_DETECTOR_ID,
  SIGNAL_TYPES,
  SignalContextSchema,
  TaxonomyEdgeSchema,
} from "../../../pipeline/models.ts";

const signalInput: MarketSignalInput = {
  signal_id: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
  market_id: "kalshi_fed",
  platform: "kalshi",
  signal_type: "volume_spike",
  magnitude: 0.25,
  direction: 1,
  confidence: 0.25,
  fdr_adjusted: false,
  detected_at: 1773576007000000,
  window_seconds: 3600,
  liquidity_tier: "mid",
  raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@identity_v0", z_score: 3.15 },
  schema_version: "1.0.0",
};

const snapshot = {
  market_id: "m",
  platform: "polymarket",
  timestamp: 1773576007000000,
  last_price: 0.5,
  bid: 0.49,
  ask: 0.51,
  spread: 0.02,
  volume_24h: 1000,
  liquidity: 50,
  question: "Q?",
  resolution_source: null,
  resolution_criteria: null,
  closes_at: null,
  raw_json: {},
  schema_version: "1.0.0",
};

Deno.test("enums and detector ids are in canonical order and consistent", () => {
  assertEquals(SIGNAL_TYPES[0], "price_velocity");
  assertEquals(SIGNAL_TYPES[4], "regime_shift");
  assertEquals(MANIPULATION_FLAGS[3], "thin_book_during_move");
  SIGNAL_TYPES.forEach((t, i) => {
    assertEquals(DETECTOR_ID_BY_SIGNAL_TYPE[t], DETECTOR_IDS[i]);
    assertEquals(SIGNAL_TYPE_BY_DETECTOR_ID[DETECTOR_IDS[i]], t);
  });
  assertEquals(defaultProvenance("regime_shift_cusum_v1"), "regime_shift_cusum_v1@identity_v0");
  assertEquals(SCHEMA_VERSION, "1.0.0");
});

Deno.test("makeSignal applies defaults and enforces the provenance invariant", () => {
  const s = makeSignal(signalInput);
  assertEquals(s.manipulation_flags, []);
  assertEquals(s.related_market_ids, []);
  const wrongDetector = {
    ...signalInput,
    raw_features: { calibration_provenance: "regime_shift_cusum_v1@identity_v0" },
  };
  assertThrows(() => makeSignal(wrongDetector), Error, "volume_spike_ewma_z_v1@<curve_version>");
  assertThrows(
    () => makeSignal({ ...signalInput, raw_features: {} }),
    Error,
    "calibration_provenance",
  );
  assertThrows(
    () =>
      makeSignal({
        ...signalInput,
        raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@" },
      }),
    Error,
  );
  // copies re-check the invariant
  assertEquals(copySignal(s, { confidence: 0.5 }).confidence, 0.5);
  assertThrows(() => copySignal(s, { raw_features: { calibration_provenance: 1 } }), Error);
});

Deno.test("signals reject float directions, bad windows, extra keys and wrong versions", () => {
  const bad: Record<string, unknown>[] = [
    { direction: 0.5 },
    { direction: 2 },
    { window_seconds: 0 },
    { window_seconds: 1.5 },
    { magnitude: 1.1 },
    { detected_at: 1.5 },
    { signal_id: "0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B" },
    { schema_version: "2.0.0" },
    { extra: true },
    { manipulation_flags: ["nope"] },
    { raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@x", bad: true } },
  ];
  for (const change of bad) {
    assert(
      !MarketSignalSchema.safeParse({ ...signalInput, ...change }).success,
      JSON.stringify(change),
    );
  }
});

Deno.test("snapshots, features, contexts and briefs are strict", () => {
  assert(MarketSnapshotSchema.safeParse(snapshot).success);
  assert(!MarketSnapshotSchema.safeParse({ ...snapshot, last_price: 1.2 }).success);
  assert(!MarketSnapshotSchema.safeParse({ ...snapshot, volume_24h: -1 }).success);
  const { bid: _bid, ...missingBid } = snapshot;
  assert(!MarketSnapshotSchema.safeParse(missingBid).success);
  assert(
    !MarketSnapshotSchema.safeParse({ ...snapshot, timestamp: Number.MAX_SAFE_INTEGER + 2 })
      .success,
  );
  assert(!FeatureVectorSchema.safeParse({ market_id: "m" }).success);
  const context = SignalContextSchema.parse({
    signal: signalInput,
    market_question: "Q",
    resolution_criteria: "",
    resolution_source: "",
    closes_at: 0,
    related_markets: [],
    investigation_prompts: [],
  });
  assertEquals(context.interpretation_mode, "deterministic");
  assertEquals(context.schema_version, "1.0.0");
  assert(
    !IntelligenceBriefSchema.safeParse({
      brief_id: signalInput.signal_id,
      signal_id: signalInput.signal_id,
      headline: "x".repeat(91),
      body_markdown: "",
      severity: "high",
      model: "m@b",
      prompt_hash: "0".repeat(64),
      formatter_version: "0.1.0",
      generated_at: 0,
    }).success,
  );
  assertEquals(
    TaxonomyEdgeSchema.parse({ market_a: "a", market_b: "b", relationship_type: "causal" }),
    {
      market_a: "a",
      market_b: "b",
      relationship_type: "causal",
      strength: 1.0,
      source: "manual",
    },
  );
});
