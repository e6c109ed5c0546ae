/**
 * The data model of DOMAIN §2 as strict zod (v4) schemas plus their inferred types.
 *
 * Conventions:
 * - Every time is an integer count of epoch MICROSECONDS (a safe integer `number`) in memory,
 *   on the wire and in storage (DESIGN §10). The canonical JSON formatter
 *   (`canonical_json.ts`) prints them as ISO `Z` strings where DOMAIN §10 says so.
 * - Every record is closed: unknown keys are rejected. Contract records carry
 *   `schema_version` = {@linkcode SCHEMA_VERSION}.
 * - Enum value arrays are exported in canonical order (DOMAIN §2.1); code that emits unions
 *   (dedup) sorts by these orders.
 * - The wire payloads of DESIGN §4 ({@linkcode SnapshotMessageSchema},
 *   {@linkcode FeaturesMessageSchema}, {@linkcode CandidateMessageSchema}) live here too.
 *
 * @example
 * ```ts
 * import { MarketSignalSchema, SIGNAL_TYPES } from "./models.ts";
 * SIGNAL_TYPES[0]; // "price_velocity"
 * MarketSignalSchema.safeParse({}).success; // false
 * ```
 * @module
 */
import { z } from "zod";

/** The contract version every record carries. */
export const SCHEMA_VERSION = "1.0.0" as const;

// ---------------------------------------------------------------------------------------
// Enums (DOMAIN §2.1, canonical order)
// ---------------------------------------------------------------------------------------

/** Signal types in canonical order. */
export const SIGNAL_TYPES = [
  "price_velocity",
  "volume_spike",
  "book_imbalance",
  "cross_market_divergence",
  "regime_shift",
] as const;
/** Manipulation flags in canonical order (the order §6 evaluates them). */
export const MANIPULATION_FLAGS = [
  "single_counterparty_concentration",
  "size_vs_depth_outlier",
  "cancel_replace_burst",
  "thin_book_during_move",
  "pre_resolution_window",
] as const;
/** Consumer types in canonical order. */
export const CONSUMER_TYPES = [
  "macro_research_agent",
  "geopolitical_research_agent",
  "crypto_research_agent",
  "financial_news_desk",
  "regulatory_news_desk",
  "dashboard",
] as const;
/** Interpretation modes. */
export const INTERPRETATION_MODES = ["deterministic", "llm_assisted"] as const;
/** Platforms. */
export const PLATFORMS = ["polymarket", "kalshi"] as const;
/** Liquidity tiers, highest first. */
export const LIQUIDITY_TIERS = ["high", "mid", "low"] as const;
/** Severities, highest first. */
export const SEVERITIES = ["high", "medium", "low"] as const;
/** Taxonomy relationship types. */
export const RELATIONSHIP_TYPES = ["positive", "inverse", "complex", "causal"] as const;
/** Adaptive polling tiers (DOMAIN §3.6). */
export const POLLING_TIERS = ["hot", "warm", "cool", "cold"] as const;
/** Taxonomy edge sources. */
export const EDGE_SOURCES = ["manual", "embedding"] as const;
/** WebSocket frame types. */
export const FRAME_TYPES = ["signal", "heartbeat", "storm_start", "storm_end"] as const;
/** Book event kinds (DOMAIN §2.7). */
export const BOOK_EVENT_KINDS = ["insert", "cancel", "replace"] as const;

/** Detector ids in canonical order (index i detects `SIGNAL_TYPES[i]`). */
export const DETECTOR_IDS = [
  "price_velocity_bocpd_beta_v1",
  "volume_spike_ewma_z_v1",
  "book_imbalance_depth_persist_v1",
  "cross_market_fisher_bh_v1",
  "regime_shift_cusum_v1",
] as const;

/** A signal type. */
export type SignalType = typeof SIGNAL_TYPES[number];
/** A manipulation flag. */
export type ManipulationFlag = typeof MANIPULATION_FLAGS[number];
/** A consumer type. */
export type ConsumerType = typeof CONSUMER_TYPES[number];
/** An interpretation mode. */
export type InterpretationMode = typeof INTERPRETATION_MODES[number];
/** A platform. */
export type Platform = typeof PLATFORMS[number];
/** A liquidity tier. */
export type LiquidityTier = typeof LIQUIDITY_TIERS[number];
/** A severity. */
export type Severity = typeof SEVERITIES[number];
/** A relationship type. */
export type RelationshipType = typeof RELATIONSHIP_TYPES[number];
/** A polling tier. */
export type PollingTier = typeof POLLING_TIERS[number];
/** A taxonomy edge source. */
export type EdgeSource = typeof EDGE_SOURCES[number];
/** A WebSocket frame type. */
export type FrameType = typeof FRAME_TYPES[number];
/** A book event kind. */
export type BookEventKind = typeof BOOK_EVENT_KINDS[number];
/** A detector id. */
export type DetectorId = typeof DETECTOR_IDS[number];

/** Detector id of each signal type. */
export const DETECTOR_ID_BY_SIGNAL_TYPE: Readonly<Record<SignalType, DetectorId>> = {
  price_velocity: "price_velocity_bocpd_beta_v1",
  volume_spike: "volume_spike_ewma_z_v1",
  book_imbalance: "book_imbalance_depth_persist_v1",
  cross_market_divergence: "cross_market_fisher_bh_v1",
  regime_shift: "regime_shift_cusum_v1",
};

/** Signal type of each detector id. */
export const SIGNAL_TYPE_BY_DETECTOR_ID: Readonly<Record<DetectorId, SignalType>> = {
  price_velocity_bocpd_beta_v1: "price_velocity",
  volume_spike_ewma_z_v1: "volume_spike",
  book_imbalance_depth_persist_v1: "book_imbalance",
  cross_market_fisher_bh_v1: "cross_market_divergence",
  regime_shift_cusum_v1: "regime_shift",
};

/** The curve version of the identity calibration (DOMAIN §7.1). */
export const IDENTITY_CURVE_VERSION = "identity_v0" as const;

/**
 * Default provenance `<detector_id>@identity_v0` of a detector.
 *
 * @example
 * ```ts
 * import { defaultProvenance } from "./models.ts";
 * defaultProvenance("volume_spike_ewma_z_v1"); // "volume_spike_ewma_z_v1@identity_v0"
 * ```
 */
export function defaultProvenance(detectorId: DetectorId): string {
  return `${detectorId}@${IDENTITY_CURVE_VERSION}`;
}

/** Enum schemas. */
export const SignalTypeSchema = z.enum(SIGNAL_TYPES);
/** Manipulation flag schema. */
export const ManipulationFlagSchema = z.enum(MANIPULATION_FLAGS);
/** Consumer type schema. */
export const ConsumerTypeSchema = z.enum(CONSUMER_TYPES);
/** Interpretation mode schema. */
export const InterpretationModeSchema = z.enum(INTERPRETATION_MODES);
/** Platform schema. */
export const PlatformSchema = z.enum(PLATFORMS);
/** Liquidity tier schema. */
export const LiquidityTierSchema = z.enum(LIQUIDITY_TIERS);
/** Severity schema. */
export const SeveritySchema = z.enum(SEVERITIES);
/** Relationship type schema. */
export const RelationshipTypeSchema = z.enum(RELATIONSHIP_TYPES);
/** Polling tier schema. */
export const PollingTierSchema = z.enum(POLLING_TIERS);
/** Edge source schema. */
export const EdgeSourceSchema = z.enum(EDGE_SOURCES);
/** Frame type schema. */
export const FrameTypeSchema = z.enum(FRAME_TYPES);
/** Book event kind schema. */
export const BookEventKindSchema = z.enum(BOOK_EVENT_KINDS);
/** Detector id schema. */
export const DetectorIdSchema = z.enum(DETECTOR_IDS);

// ---------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------

/** Epoch microseconds: a safe integer. */
export const MicrosSchema = z.int();
/** A YES probability in [0, 1]. */
export const ProbabilitySchema = z.number().min(0).max(1);
/** A non-negative USD amount. */
export const UsdSchema = z.number().min(0);
/** The schema version literal. */
export const SchemaVersionSchema = z.literal(SCHEMA_VERSION);
/** Lowercase hyphenated UUID (any version). */
export const UuidSchema = z.string().regex(
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  "expected a lowercase hyphenated UUID",
);
/** A `[price, size]` book level. */
export const LevelSchema = z.tuple([z.number(), z.number()]);
/** A `[price, size]` book level. */
export type Level = z.infer<typeof LevelSchema>;

// ---------------------------------------------------------------------------------------
// Contract records
// ---------------------------------------------------------------------------------------

/** DOMAIN §2.2. All fields required; nullable ones present as null. */
export const MarketSnapshotSchema = z.strictObject({
  market_id: z.string(),
  platform: PlatformSchema,
  timestamp: MicrosSchema,
  last_price: ProbabilitySchema,
  bid: ProbabilitySchema.nullable(),
  ask: ProbabilitySchema.nullable(),
  spread: z.number().nullable(),
  volume_24h: UsdSchema,
  liquidity: UsdSchema,
  question: z.string(),
  resolution_source: z.string().nullable(),
  resolution_criteria: z.string().nullable(),
  closes_at: MicrosSchema.nullable(),
  raw_json: z.record(z.string(), z.unknown()),
  schema_version: SchemaVersionSchema,
});
/** A market snapshot. */
export type MarketSnapshot = z.infer<typeof MarketSnapshotSchema>;

/** DOMAIN §2.3. All fields required. */
export const FeatureVectorSchema = z.strictObject({
  market_id: z.string(),
  computed_at: MicrosSchema,
  price_momentum_5m: z.number(),
  price_momentum_15m: z.number(),
  price_momentum_1h: z.number(),
  price_momentum_4h: z.number(),
  volatility_5m: z.number(),
  volatility_15m: z.number(),
  volatility_1h: z.number(),
  volatility_4h: z.number(),
  volume_ratio_5m: z.number(),
  volume_ratio_1h: z.number(),
  bid_ask_ratio: z.number().min(0).max(1).nullable(),
  spread_pct: z.number().nullable(),
  schema_version: SchemaVersionSchema,
});
/** A feature vector. */
export type FeatureVector = z.infer<typeof FeatureVectorSchema>;

const PROVENANCE = /^([a-z0-9_]+)@(\S+)$/;

/** `raw_features`: string → number (float) | string. */
export const RawFeaturesSchema = z.record(z.string(), z.union([z.number(), z.string()]));

/**
 * DOMAIN §2.4. Invariant: `raw_features.calibration_provenance` is
 * `<detector_id>@<curve_version>` with the detector id of `signal_type`.
 */
export const MarketSignalSchema = z.strictObject({
  signal_id: UuidSchema,
  market_id: z.string(),
  platform: PlatformSchema,
  signal_type: SignalTypeSchema,
  magnitude: ProbabilitySchema,
  direction: z.literal([-1, 0, 1]),
  confidence: ProbabilitySchema,
  fdr_adjusted: z.boolean(),
  detected_at: MicrosSchema,
  window_seconds: z.int().positive(),
  liquidity_tier: LiquidityTierSchema,
  manipulation_flags: z.array(ManipulationFlagSchema).default([]),
  related_market_ids: z.array(z.string()).default([]),
  raw_features: RawFeaturesSchema,
  schema_version: SchemaVersionSchema,
}).check((ctx) => {
  const signal = ctx.value;
  const provenance = signal.raw_features["calibration_provenance"];
  const expected = DETECTOR_ID_BY_SIGNAL_TYPE[signal.signal_type];
  const match = typeof provenance === "string" ? PROVENANCE.exec(provenance) : null;
  if (match === null || match[1] !== expected) {
    ctx.issues.push({
      code: "custom",
      input: provenance,
      path: ["raw_features", "calibration_provenance"],
      message: `expected "${expected}@<curve_version>", received ${JSON.stringify(provenance)}`,
    });
  }
});
/** A market signal. */
export type MarketSignal = z.infer<typeof MarketSignalSchema>;
/** Input accepted by {@linkcode makeSignal} (defaulted fields optional). */
export type MarketSignalInput = z.input<typeof MarketSignalSchema>;

/**
 * Construct a signal, checking every field and the provenance invariant.
 *
 * @example
 * ```ts
 * import { makeSignal } from "./models.ts";
 * const s = makeSignal({
 *   signal_id: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", market_id: "m", platform: "kalshi",
 *   signal_type: "volume_spike", magnitude: 0.2, direction: 1, confidence: 0.2,
 *   fdr_adjusted: false, detected_at: 0, window_seconds: 3600, liquidity_tier: "low",
 *   raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@identity_v0" },
 *   schema_version: "1.0.0",
 * });
 * s.manipulation_flags; // []
 * ```
 */
export function makeSignal(input: MarketSignalInput): MarketSignal {
  return MarketSignalSchema.parse(input);
}

/**
 * Copy a signal with changes, re-checking the invariant (records are immutable).
 *
 * @example
 * ```ts
 * import { copySignal, type MarketSignal } from "./models.ts";
 * declare const s: MarketSignal;
 * const t = copySignal(s, { confidence: 0.5 });
 * ```
 */
export function copySignal(signal: MarketSignal, changes: Partial<MarketSignal>): MarketSignal {
  return MarketSignalSchema.parse({ ...signal, ...changes });
}

/** DOMAIN §2.5 (no schema_version). */
export const RelatedMarketStateSchema = z.strictObject({
  market_id: z.string(),
  question: z.string(),
  current_price: z.number(),
  delta_24h: z.number(),
  volume_24h: z.number(),
  relationship_type: RelationshipTypeSchema,
  relationship_strength: z.number(),
});
/** A related market's state. */
export type RelatedMarketState = z.infer<typeof RelatedMarketStateSchema>;

/** DOMAIN §2.5. */
export const SignalContextSchema = z.strictObject({
  signal: MarketSignalSchema,
  market_question: z.string(),
  resolution_criteria: z.string(),
  resolution_source: z.string(),
  closes_at: MicrosSchema,
  related_markets: z.array(RelatedMarketStateSchema),
  investigation_prompts: z.array(z.string()),
  interpretation_mode: InterpretationModeSchema.default("deterministic"),
  schema_version: SchemaVersionSchema.default(SCHEMA_VERSION),
});
/** A signal context. */
export type SignalContext = z.infer<typeof SignalContextSchema>;

/** DOMAIN §2.6. */
export const IntelligenceBriefSchema = z.strictObject({
  brief_id: UuidSchema,
  signal_id: UuidSchema,
  headline: z.string().max(90),
  body_markdown: z.string().max(800),
  severity: SeveritySchema,
  actionable_for: z.array(ConsumerTypeSchema).default([]),
  interpretation_mode: z.literal("llm_assisted").default("llm_assisted"),
  model: z.string().regex(/^.+@.+$/, "expected <model_id>@<backend_id>"),
  prompt_hash: z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 hex digest"),
  formatter_version: z.string().min(1),
  generated_at: MicrosSchema,
  forbidden_token_check: z.literal("passed").default("passed"),
  schema_version: SchemaVersionSchema.default(SCHEMA_VERSION),
});
/** An LLM brief. */
export type IntelligenceBrief = z.infer<typeof IntelligenceBriefSchema>;

// ---------------------------------------------------------------------------------------
// Internal records (DOMAIN §2.7)
// ---------------------------------------------------------------------------------------

/** Raw platform market payload. */
export const RawMarketDataSchema = z.strictObject({
  market_id: z.string(),
  platform: PlatformSchema,
  fetched_at: MicrosSchema,
  payload: z.record(z.string(), z.unknown()),
});
/** Raw platform market payload. */
export type RawMarketData = z.infer<typeof RawMarketDataSchema>;

/** Raw order book (YES side; bids best first, asks best first after normalization). */
export const RawOrderBookSchema = z.strictObject({
  market_id: z.string(),
  platform: PlatformSchema,
  fetched_at: MicrosSchema,
  bids: z.array(LevelSchema),
  asks: z.array(LevelSchema),
});
/** Raw order book. */
export type RawOrderBook = z.infer<typeof RawOrderBookSchema>;

/** A trade. `side` is lower-cased as the platform gives it. */
export const RawTradeSchema = z.strictObject({
  market_id: z.string(),
  platform: PlatformSchema,
  timestamp: MicrosSchema,
  price: ProbabilitySchema,
  size: z.number().min(0),
  side: z.string(),
  counterparty: z.string().nullable(),
});
/** A trade. */
export type RawTrade = z.infer<typeof RawTradeSchema>;

/** A book event. */
export const BookEventSchema = z.strictObject({
  market_id: z.string(),
  timestamp: MicrosSchema,
  kind: BookEventKindSchema,
  size: z.number(),
});
/** A book event. */
export type BookEvent = z.infer<typeof BookEventSchema>;

/** A taxonomy edge. */
export const TaxonomyEdgeSchema = z.strictObject({
  market_a: z.string(),
  market_b: z.string(),
  relationship_type: RelationshipTypeSchema,
  strength: z.number().min(0).max(1).default(1.0),
  source: EdgeSourceSchema.default("manual"),
});
/** A taxonomy edge. */
export type TaxonomyEdge = z.infer<typeof TaxonomyEdgeSchema>;

/** A reliability curve; `deciles` are `[x, y]` points. */
export const ReliabilityCurveSchema = z.strictObject({
  detector_id: DetectorIdSchema,
  liquidity_tier: LiquidityTierSchema,
  curve_version: z.string().min(1),
  deciles: z.array(z.tuple([z.number(), z.number()])),
  built_at: MicrosSchema,
});
/** A reliability curve. */
export type ReliabilityCurve = z.infer<typeof ReliabilityCurveSchema>;

/** An empirical false-positive-rate record. */
export const FprRecordSchema = z.strictObject({
  detector_id: DetectorIdSchema,
  market_id: z.string(),
  fpr: z.number().min(0).max(1),
  sample_size: z.int().min(0),
  computed_at: MicrosSchema,
  label_protocol_version: z.string().default("v0"),
});
/** An FPR record. */
export type FprRecord = z.infer<typeof FprRecordSchema>;

/** A drift report. */
export const DriftReportSchema = z.strictObject({
  detector_id: DetectorIdSchema,
  psi: z.number(),
  ks_statistic: z.number(),
  ks_p_value: z.number(),
  triggered: z.boolean(),
  triggered_metrics: z.array(z.enum(["psi", "ks"])),
  checked_at: MicrosSchema,
});
/** A drift report. */
export type DriftReport = z.infer<typeof DriftReportSchema>;

/** Storm controller state. */
export const StormStateSchema = z.strictObject({
  in_storm: z.boolean(),
  started_at: MicrosSchema.nullable(),
  ended_at: MicrosSchema.nullable(),
});
/** Storm state. */
export type StormState = z.infer<typeof StormStateSchema>;

// ---------------------------------------------------------------------------------------
// Wire payloads (DESIGN §4)
// ---------------------------------------------------------------------------------------

/** Top levels of a book, `[price, size]`, best first on each side. */
export const BookLevelsSchema = z.strictObject({
  bids: z.array(LevelSchema),
  asks: z.array(LevelSchema),
});
/** Top book levels. */
export type BookLevels = z.infer<typeof BookLevelsSchema>;

/**
 * `augur.snapshots.<pp>.<platform>.<m>`: one market's poll result of one tick.
 * - `now`: the tick time T (every snapshot of a tick shares it; detectors use it as `now`).
 * - `trades`: trades fetched since the previous poll of this market.
 * - `book_events`: book events derived this poll (none today: `[]`).
 * - `book`: top (≤ 5) levels per side, or null without a book.
 * - `bid_depth`/`ask_depth`: Σ price×size over the top 5 levels per side (USD), null without a
 *   book. The feature stage derives `bid_ask_ratio` from them (DOMAIN §4).
 */
export const SnapshotMessageSchema = z.strictObject({
  now: MicrosSchema,
  snapshot: MarketSnapshotSchema,
  trades: z.array(RawTradeSchema),
  book_events: z.array(BookEventSchema),
  book: BookLevelsSchema.nullable(),
  bid_depth: UsdSchema.nullable(),
  ask_depth: UsdSchema.nullable(),
});
/** A snapshot message. */
export type SnapshotMessage = z.infer<typeof SnapshotMessageSchema>;

/**
 * `augur.features.<pp>.<m>`: a feature vector with everything detectors and the manipulation
 * signatures need from the same tick: the snapshot, its trades and book events, and `now`.
 */
export const FeaturesMessageSchema = z.strictObject({
  now: MicrosSchema,
  features: FeatureVectorSchema,
  snapshot: MarketSnapshotSchema,
  trades: z.array(RawTradeSchema),
  book_events: z.array(BookEventSchema),
});
/** A features message. */
export type FeaturesMessage = z.infer<typeof FeaturesMessageSchema>;

/**
 * The evidence window a candidate carries for the manipulation signatures (DOMAIN §6):
 * recent trades and book events (fetched since the previous cycle) and the recent snapshots
 * covering `window_seconds` (oldest first; the latest is the tick's snapshot). Senders may
 * replace `raw_json` of evidence snapshots by `{}` to keep messages small.
 */
export const EvidenceSchema = z.strictObject({
  trades: z.array(RawTradeSchema),
  book_events: z.array(BookEventSchema),
  snapshots: z.array(MarketSnapshotSchema),
});
/** Candidate evidence. */
export type Evidence = z.infer<typeof EvidenceSchema>;

/**
 * `augur.candidates.<pp>.<detector>`, `augur.flagged_signals…`, `augur.calibrated_signals…`:
 * a signal plus its evidence and the market's `closes_at` (for `pre_resolution_window`).
 */
export const CandidateMessageSchema = z.strictObject({
  signal: MarketSignalSchema,
  closes_at: MicrosSchema.nullable(),
  evidence: EvidenceSchema,
});
/** A candidate message. */
export type CandidateMessage = z.infer<typeof CandidateMessageSchema>;
