/**
 * A deterministic generated store for migrate / verify tests and the migrate benchmark:
 * snapshots spread evenly over `days` UTC days and `markets` markets, plus trades (1/10),
 * features (1/4), signals (1/100, with manipulation flags and related markets), a context
 * per other signal, and tick markers.
 *
 * @example
 * ```ts
 * import { generateStore } from "./migrate_data.ts";
 * import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
 * const store = new DuckDbStore({ path: ":memory:" });
 * await store.initialize();
 * const counts = await generateStore(store, { snapshots: 1000, days: 3 });
 * ```
 * @module
 */
import type {
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  SignalContext,
  Store,
  TickRecord,
  TradeRecord,
} from "../../adapters/storage/types.ts";
import { DETECTOR_ID_BY_SIGNAL_TYPE, MANIPULATION_FLAGS } from "../../pipeline/models.ts";

/** Start of generated data: 2026-03-01T00:00:00Z in epoch µs. */
export const GEN_T0 = Date.UTC(2026, 2, 1) * 1000;
/** One day in µs. */
export const GEN_DAY = 86_400_000_000;

/** Options of {@linkcode generateStore}. */
export interface GenerateOptions {
  snapshots: number;
  days?: number;
  markets?: number;
  /** Rows per upsert call (default 20 000). */
  chunk?: number;
  /** Index of the first snapshot (default 0): generate a later slice of the same set. */
  first?: number;
  /** Total snapshots of the whole set the slice belongs to (default: `snapshots`). */
  setSize?: number;
  /** Tables to write (default all); the others are only counted. */
  tables?: readonly GenTable[];
}

/** A table {@linkcode generateStore} writes. */
export type GenTable = "snapshots" | "trades" | "features" | "signals" | "contexts" | "ticks";

/** What was generated, per table. */
export interface GeneratedCounts {
  snapshots: number;
  trades: number;
  features: number;
  signals: number;
  contexts: number;
  ticks: number;
  /** End of the generated data (exclusive), epoch µs. */
  end: number;
}

const FLAGS = MANIPULATION_FLAGS;
const TYPES = ["volume_spike", "price_velocity", "book_imbalance"] as const;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** Snapshot `i` of the generated set. */
export function genSnapshot(
  i: number,
  options: Pick<Required<GenerateOptions>, "snapshots" | "days" | "markets"> & {
    setSize?: number;
  },
): MarketSnapshot {
  const perMarket = Math.ceil((options.setSize ?? options.snapshots) / options.markets);
  const m = i % options.markets;
  const k = Math.floor(i / options.markets);
  const step = Math.floor((options.days * GEN_DAY) / perMarket);
  const t = GEN_T0 + k * step + m;
  const price = 0.05 + ((i * 7919) % 900) / 1000;
  return {
    market_id: `gen_market_${hex(m, 3)}`,
    platform: m % 2 === 0 ? "kalshi" : "polymarket",
    timestamp: t,
    last_price: price,
    bid: i % 11 === 0 ? null : price - 0.01,
    ask: i % 11 === 0 ? null : price + 0.01,
    spread: i % 11 === 0 ? null : 0.020000000000000018,
    volume_24h: 1000 + (i % 5000) * 1.5,
    liquidity: 250.25 + (i % 97),
    question: `Will market ${m} resolve "yes"?\tline\\two`,
    resolution_source: m % 3 === 0 ? null : "Official source",
    resolution_criteria: "Per the official announcement",
    closes_at: GEN_T0 + 90 * GEN_DAY,
    raw_json: { id: `m${m}`, seq: i, tags: ["a", "ü"], nested: { p: price } },
    schema_version: "1.0.0",
  } as MarketSnapshot;
}

/** Feature vector of snapshot `i` (every 4th snapshot has one). */
export function genFeature(s: MarketSnapshot, i: number): FeatureVector {
  return {
    market_id: s.market_id,
    computed_at: s.timestamp,
    price_momentum_5m: (i % 13) / 100,
    price_momentum_15m: -0.02,
    price_momentum_1h: 0.1 + 0.2,
    price_momentum_4h: 0,
    volatility_5m: 1e-9,
    volatility_15m: 0.3,
    volatility_1h: 0.25,
    volatility_4h: 0.125,
    volume_ratio_5m: 3.5,
    volume_ratio_1h: 1,
    bid_ask_ratio: i % 3 === 0 ? null : 0.5,
    spread_pct: null,
    schema_version: "1.0.0",
  } as FeatureVector;
}

function genSignal(s: MarketSnapshot, i: number): MarketSignal {
  const type = TYPES[i % TYPES.length];
  return {
    signal_id: `0190a1b2-c3d4-7e5f-8a6b-${hex(i, 12)}`,
    market_id: s.market_id,
    platform: s.platform,
    signal_type: type,
    magnitude: 0.25 + (i % 7) / 100,
    direction: i % 2 === 0 ? 1 : -1,
    confidence: 0.5,
    fdr_adjusted: i % 3 === 0,
    detected_at: s.timestamp,
    window_seconds: 3600,
    liquidity_tier: "mid",
    manipulation_flags: FLAGS.slice(0, i % 3) as MarketSignal["manipulation_flags"],
    related_market_ids: i % 2 === 0 ? ["gen_market_000", "b"] : [],
    raw_features: {
      calibration_provenance: `${DETECTOR_ID_BY_SIGNAL_TYPE[type]}@identity_v0`,
      z_score: 3.15,
      seq: i,
    },
    schema_version: "1.0.0",
  } as MarketSignal;
}

function genContext(signal: MarketSignal): SignalContext {
  return {
    signal,
    market_question: "Will the market resolve yes?",
    resolution_criteria: "",
    resolution_source: "Official",
    closes_at: GEN_T0 + 90 * GEN_DAY,
    related_markets: [],
    investigation_prompts: ["Check the calendar."],
    interpretation_mode: "deterministic",
    schema_version: "1.0.0",
  } as SignalContext;
}

/** How many multiples of `k` lie in `[from, to)` (from, to ≥ 0). */
function multiples(from: number, to: number, k: number): number {
  return Math.ceil(to / k) - Math.ceil(from / k);
}

/** The options with every default filled in. */
export function withDefaults(options: GenerateOptions): Required<GenerateOptions> {
  return {
    days: 30,
    markets: 200,
    chunk: 20_000,
    first: 0,
    setSize: options.snapshots,
    tables: ["snapshots", "trades", "features", "signals", "contexts", "ticks"],
    ...options,
  };
}

/** Write the generated data set into `store` and return the counts. */
export async function generateStore(
  store: Store,
  options: GenerateOptions,
): Promise<GeneratedCounts> {
  const full = withDefaults(options);
  const writes = new Set(full.tables);
  const counts: GeneratedCounts = {
    snapshots: 0,
    trades: 0,
    features: 0,
    signals: 0,
    contexts: 0,
    ticks: 0,
    end: GEN_T0 + full.days * GEN_DAY,
  };
  const last = full.first + full.snapshots;
  // Signals, contexts and ticks only exist at multiples of 100: without the bulk tables,
  // visit only those.
  const bulk = writes.has("snapshots") || writes.has("trades") || writes.has("features");
  const stride = bulk ? 1 : 100;
  for (let start = full.first; start < last; start += full.chunk) {
    const end = Math.min(last, start + full.chunk);
    const snaps: MarketSnapshot[] = [];
    const trades: TradeRecord[] = [];
    const feats: FeatureVector[] = [];
    const sigs: MarketSignal[] = [];
    const ctxs: SignalContext[] = [];
    const ticks: TickRecord[] = [];
    for (let i = Math.ceil(start / stride) * stride; i < end; i += stride) {
      const s = genSnapshot(i, full);
      snaps.push(s);
      if (i % 10 === 0) {
        trades.push({
          market_id: s.market_id,
          platform: s.platform,
          timestamp: s.timestamp,
          price: s.last_price,
          size: 10 + (i % 50),
          side: i % 20 === 0 ? "buy" : "sell",
          counterparty: i % 30 === 0 ? null : `0x${hex(i, 8)}`,
          trade_id: i % 40 === 0 ? null : `t${i}`,
        });
      }
      if (i % 4 === 0) feats.push(genFeature(s, i));
      if (i % 100 === 0) {
        const sig = genSignal(s, i);
        sigs.push(sig);
        if (i % 200 === 0) ctxs.push(genContext(sig));
      }
      if (i % 1000 === 0) ticks.push({ platform: s.platform, t: s.timestamp, announced: 1 });
    }
    if (writes.has("snapshots")) await store.upsertSnapshots(snaps);
    if (writes.has("trades")) await store.upsertTrades(trades);
    if (writes.has("features")) await store.upsertFeatures(feats);
    if (writes.has("signals")) await store.upsertSignals(sigs);
    if (writes.has("contexts")) await store.upsertContexts(ctxs);
    if (writes.has("ticks")) await store.recordTicks(ticks);
    counts.snapshots += end - start;
    counts.trades += multiples(start, end, 10);
    counts.features += multiples(start, end, 4);
    counts.signals += sigs.length;
    counts.contexts += ctxs.length;
    counts.ticks += ticks.length;
  }
  return counts;
}
