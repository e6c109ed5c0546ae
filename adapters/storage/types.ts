/**
 * The `Store` contract shared by the memory, DuckDB and TimescaleDB (PostgreSQL) backends
 * (DESIGN §6, §10; DOMAIN §13).
 *
 * - Times are integer epoch microseconds everywhere (stored as BIGINT µs columns).
 * - Every write is a batch upsert on the natural key, so re-applying a batch (retry after a
 *   lost connection, replay after restore) leaves the tables with identical content.
 * - Ranges are half-open: `[start, end)`.
 *
 * @example
 * ```ts
 * import type { Store } from "./types.ts";
 * async function persist(store: Store, snapshots: Parameters<Store["upsertSnapshots"]>[0]) {
 *   await store.upsertSnapshots(snapshots);
 *   return await store.latestSnapshot(snapshots[0].market_id);
 * }
 * ```
 * @module
 */

import { AugurError, ConnectionError } from "../../config/errors.ts";
import type {
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  Platform,
  RawTrade,
  SignalContext,
} from "../../pipeline/models.ts";

export type { FeatureVector, MarketSignal, MarketSnapshot, SignalContext };

/** A stored trade: the {@linkcode RawTrade} fields plus its platform trade id when known. */
export interface TradeRecord extends RawTrade {
  /** Platform trade id; when null the store keys the trade by a hash of its content. */
  trade_id: string | null;
}

/** A poller tick marker: at data time `t`, `announced` snapshots were published. */
export interface TickRecord {
  platform: Platform;
  /** Tick time T, epoch µs. */
  t: number;
  /** Number of snapshots the poller published for this tick. */
  announced: number;
}

/** A tick with the number of its snapshots actually stored (timestamp = T, same platform). */
export interface TickStatus extends TickRecord {
  stored: number;
}

/** A half-open time window `[start, end)` in epoch µs. */
export interface TimeRange {
  start: number;
  end: number;
}

/** One point read of {@linkcode Store.latestSnapshotsAt}: a market as of a time. */
export interface SnapshotAsOfRead {
  marketId: string;
  /** Only snapshots with timestamp ≤ `asOf` (epoch µs). */
  asOf: number;
}

/** One point read of {@linkcode Store.oldestSnapshotsIn}: a market over `[start, end)`. */
export interface SnapshotRangeRead extends TimeRange {
  marketId: string;
}

/**
 * A market's latest snapshot as of a time, and its prior: the oldest snapshot of the market
 * with timestamp in `[latest.timestamp − window, latest.timestamp]` (the latest itself when
 * none is older). See {@linkcode Store.latestWithPriorAt}.
 */
export interface LatestWithPrior {
  latest: MarketSnapshot;
  prior: MarketSnapshot;
}

/** Tables that {@linkcode Store.groupDigests} can hash. */
export type DigestTable = "snapshots" | "trades" | "features" | "signals" | "contexts";

/** The digest tables in canonical order. */
export const DIGEST_TABLES: readonly DigestTable[] = [
  "snapshots",
  "trades",
  "features",
  "signals",
  "contexts",
];

/** Row count and order-independent content digest of one (table, market, UTC day). */
export interface GroupDigest {
  table: DigestTable;
  market_id: string;
  /** UTC day `YYYY-MM-DD` of the row's time column. */
  day: string;
  count: number;
  /** 16 hex digits: Σ (first 8 bytes of sha256(canonical row)) mod 2^64. */
  digest: string;
}

/** Options of {@linkcode Store.groupDigests}. */
export interface DigestQuery extends TimeRange {
  table: DigestTable;
}

/** A worker checkpoint (DESIGN §10): written by the owner of (kind, partition). */
export interface StateEntry {
  kind: string;
  partition: number;
  /** Sub-key (e.g. "" for the partition state, or a detector id). */
  key: string;
  /** Input position the state corresponds to (stream sequence / entry id). */
  position: string;
  /** Opaque state bytes. */
  state: Uint8Array;
  /** Lease token of the writer; a save with a lower token than stored is ignored. */
  token: number;
}

/** Filters of range reads over features, signals and contexts. */
export interface RangeQuery extends TimeRange {
  /** Only these markets (all when absent). */
  marketIds?: readonly string[];
}

/** Backends. */
export type StoreBackend = "memory" | "duckdb" | "timescaledb";

/**
 * The storage surface. Implementations: `MemoryStore` (tests), `DuckDbStore` (embedded
 * default, one writer process), `TimescaleStore` (PostgreSQL/TimescaleDB, shared).
 */
export interface Store {
  /** Which backend this is. */
  readonly backend: StoreBackend;
  /** Create tables and indexes (idempotent; schema_version row inserted only if absent). */
  initialize(): Promise<void>;

  /** Upsert snapshots on (market_id, timestamp, platform). */
  upsertSnapshots(rows: readonly MarketSnapshot[]): Promise<void>;
  /** Upsert trades on (market_id, platform, trade key = trade_id or content hash). */
  upsertTrades(rows: readonly TradeRecord[]): Promise<void>;
  /** Upsert feature vectors on (market_id, computed_at). */
  upsertFeatures(rows: readonly FeatureVector[]): Promise<void>;
  /** Upsert signals on (signal_id, detected_at); their manipulation flags are replaced. */
  upsertSignals(rows: readonly MarketSignal[]): Promise<void>;
  /** Upsert contexts on signal.signal_id. */
  upsertContexts(rows: readonly SignalContext[]): Promise<void>;
  /** Upsert tick markers on (platform, t). */
  recordTicks(ticks: readonly TickRecord[]): Promise<void>;

  /** Snapshots of a market with timestamp in `[start, end)`, ascending. */
  snapshotsInRange(marketId: string, range: TimeRange): Promise<MarketSnapshot[]>;
  /**
   * The latest `n` snapshots of a market, ascending by timestamp (oldest of them first);
   * with `asOf`, only snapshots at or before that time (epoch µs).
   */
  latestSnapshots(
    marketId: string,
    n: number,
    options?: { asOf?: number },
  ): Promise<MarketSnapshot[]>;
  /** The oldest snapshot of a market with timestamp in `[start, end)`, or null. */
  oldestSnapshotIn(marketId: string, range: TimeRange): Promise<MarketSnapshot | null>;
  /** The latest snapshot of a market, or null. */
  latestSnapshot(marketId: string): Promise<MarketSnapshot | null>;
  /**
   * Many as-of point reads in one query: entry `i` is the latest snapshot of
   * `reads[i].marketId` with timestamp ≤ `reads[i].asOf` (what `latestSnapshots(id, 1,
   * { asOf })` returns), or null. Identical reads are answered once (same object).
   */
  latestSnapshotsAt(reads: readonly SnapshotAsOfRead[]): Promise<(MarketSnapshot | null)[]>;
  /**
   * Many range point reads in one query: entry `i` is the oldest snapshot of
   * `reads[i].marketId` with timestamp in `[start, end)` (what {@linkcode
   * Store.oldestSnapshotIn} returns), or null. Identical reads are answered once.
   */
  oldestSnapshotsIn(reads: readonly SnapshotRangeRead[]): Promise<(MarketSnapshot | null)[]>;
  /**
   * {@linkcode Store.latestSnapshotsAt} and, for each latest snapshot L found, the next read
   * a context needs, in the same query: the oldest snapshot of the market with timestamp in
   * `[L.timestamp − window, L.timestamp]` (L itself when none is older; what
   * `oldestSnapshotsIn` returns for `[L.timestamp − window, L.timestamp + 1)`). Entry `i`
   * is null when `latestSnapshotsAt` answers null.
   */
  latestWithPriorAt(
    reads: readonly SnapshotAsOfRead[],
    window: number,
  ): Promise<(LatestWithPrior | null)[]>;
  /**
   * {@linkcode Store.latestSnapshots} of every market at once (one query): per market that has
   * any, its latest `n` snapshots at or before `asOf`, ascending. Seeds many windows at start.
   */
  latestSnapshotsOfAll(
    n: number,
    options?: { asOf?: number },
  ): Promise<Map<string, MarketSnapshot[]>>;
  /** Trades with timestamp in range, ascending by (timestamp, market_id, trade key). */
  tradesInRange(query: RangeQuery): Promise<TradeRecord[]>;
  /** Feature vectors with computed_at in range, ascending by (computed_at, market_id). */
  featuresInRange(query: RangeQuery): Promise<FeatureVector[]>;
  /**
   * Signals with detected_at in range, flags re-attached (enum order), ascending by
   * (detected_at, market_id, signal_type, signal_id).
   */
  signalsInRange(query: RangeQuery): Promise<MarketSignal[]>;
  /** Contexts whose signal.detected_at is in range, same order as signals. */
  contextsInRange(query: RangeQuery): Promise<SignalContext[]>;
  /** Ticks of a platform with t in range, ascending, with their stored snapshot counts. */
  ticksInRange(platform: Platform, range: TimeRange): Promise<TickStatus[]>;

  /** Per-(table, market, UTC day) counts and content digests over `[start, end)`. */
  groupDigests(query: DigestQuery): Promise<GroupDigest[]>;

  /** Save a checkpoint; returns false (and writes nothing) when a newer token is stored. */
  saveState(entry: StateEntry): Promise<boolean>;
  /** Load the checkpoint of (kind, partition, key = ""), or null. */
  loadState(
    kind: string,
    partition: number,
    options?: { key?: string },
  ): Promise<StateEntry | null>;

  /** Release connections / file handles. Idempotent. */
  close(): Promise<void>;
}

/**
 * The store could not be reached or lost its connection mid-operation. Retryable: every
 * batch is idempotent, so the caller may re-apply it (see `withRetry`).
 */
export class StoreUnavailableError extends ConnectionError {
  /** Always true: the operation may be retried. */
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A value or identifier was rejected before any SQL ran (allowlist / validation). */
export class StoreInputError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreInputError";
  }
}
