/**
 * The read side and batching shared by the DuckDB and PostgreSQL stores. Both dialects
 * accept `$n` parameters and quoted identifiers; every identifier comes from
 * {@linkcode TABLES} and every value is bound. Backends supply the driver calls
 * ({@linkcode SqlStore.query}, {@linkcode SqlStore.writeRows}, {@linkcode SqlStore.stream}).
 *
 * @example
 * ```ts
 * import type { SqlStore } from "./sql_store.ts";
 * async function latest(store: SqlStore) {
 *   return await store.latestSnapshots("kalshi_fed", 500);
 * }
 * ```
 * @module
 */

import type { Histogram, MetricsRegistry } from "../observability/metrics.ts";
import { defaultRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import {
  compareSignals,
  CONTEXT_CODEC,
  DIGEST_ACCESS,
  DigestAccumulator,
  FEATURE_CODEC,
  flagRows,
  num,
  orderFlags,
  prepareBatch,
  prepareRows,
  SIGNAL_CODEC,
  SNAPSHOT_CODEC,
  type TableCodec,
  TICK_CODEC,
  TRADE_CODEC,
  type WireValue,
} from "./codec.ts";
import { type TableName, TABLES, tableSpec } from "./schema.ts";
import type {
  DigestQuery,
  FeatureVector,
  GroupDigest,
  LatestWithPrior,
  MarketSignal,
  MarketSnapshot,
  RangeQuery,
  SignalContext,
  SnapshotAsOfRead,
  SnapshotRangeRead,
  StateEntry,
  Store,
  StoreBackend,
  TickRecord,
  TickStatus,
  TimeRange,
  TradeRecord,
} from "./types.ts";
import type { Platform } from "../../pipeline/models.ts";

/** Options every SQL store accepts. */
export interface SqlStoreOptions {
  /** Metrics registry (default: the process registry). */
  registry?: MetricsRegistry;
  /** Logger (default: component "storage"). */
  logger?: Logger;
}

/** A query's table label (a real table, or "*" for multi-table statements). */
export type QueryTable = TableName | "*";

/** Operation labels of `augur_db_query_seconds`. */
export type QueryOperation =
  | "ddl"
  | "upsert"
  | "delete"
  | "select"
  | "digest"
  | "state"
  | "commit";

/**
 * Distinct snapshot point reads of one statement (see {@linkcode SqlStore.snapshotReads}),
 * as parallel arrays: read `i` is (`marketIds[i]`, `asOf[i]`) or (`marketIds[i]`,
 * `[start[i], end[i])`); its rows carry `"ord"` = `i + 1`. `latest_prior` reads answer
 * up to two rows each, told apart by `"prior"` (0: the latest L, 1: the oldest row in
 * `[L.timestamp − window, L.timestamp)`, absent when there is none).
 */
export type SnapshotReadBatch =
  | { kind: "latest"; marketIds: string[]; asOf: number[] }
  | { kind: "oldest"; marketIds: string[]; start: number[]; end: number[] }
  | { kind: "latest_prior"; marketIds: string[]; asOf: number[]; window: number };

/** Distinct reads per statement of the batched snapshot reads (bounds parameter sizes). */
const READS_PER_STATEMENT = 5_000;

const cols = (table: TableName): string =>
  TABLES[table].columns.map((col) => `"${col.name}"`).join(", ");

/** Base class of the SQL stores. */
export abstract class SqlStore implements Store {
  abstract readonly backend: StoreBackend;
  protected readonly histogram: Histogram;
  protected readonly logger: Logger;

  constructor(options: SqlStoreOptions = {}) {
    const registry = options.registry ?? defaultRegistry;
    this.histogram = registry.histogram(
      "augur_db_query_seconds",
      "Duration of store queries in seconds.",
      ["table", "operation"],
    );
    this.logger = options.logger ?? createLogger({ component: "storage" });
  }

  abstract initialize(): Promise<void>;
  abstract close(): Promise<void>;

  /** Run one statement with bound parameters and return row objects (timed). */
  protected abstract query(
    table: QueryTable,
    operation: QueryOperation,
    sql: string,
    params?: readonly WireValue[],
  ): Promise<Record<string, unknown>[]>;

  /**
   * Upsert the rows of one table, as produced by {@linkcode SqlStore.encodeBatch}, in one
   * set-based operation.
   */
  protected abstract writeRows(table: TableName, rows: readonly WireValue[][]): Promise<void>;

  /**
   * Encode a batch for {@linkcode SqlStore.writeRows}. By default the rows are deduped on
   * the key (last wins) and sorted by it, so concurrent PostgreSQL writers lock rows in
   * the same order; a backend that dedupes in SQL may return them in batch order instead.
   */
  protected encodeBatch<R>(codec: TableCodec<R>, records: readonly R[]): WireValue[][] {
    return prepareBatch(codec, records);
  }

  /**
   * Upsert signals and replace their flags atomically: the signal rows, then delete the
   * flags of these ids, then insert the new flags.
   */
  protected abstract writeSignals(
    signals: readonly WireValue[][],
    ids: readonly string[],
    flags: readonly WireValue[][],
  ): Promise<void>;

  /**
   * Answer distinct snapshot point reads in one statement: per read at most one snapshot
   * row (the latest with timestamp ≤ asOf, or the oldest in `[start, end)`; `latest_prior`:
   * see {@linkcode SnapshotReadBatch}), with an extra column `"ord"` holding the read's
   * 1-based position in the batch.
   */
  protected abstract snapshotReads(batch: SnapshotReadBatch): Promise<Record<string, unknown>[]>;

  /** Stream a select in batches (bounded memory for digests). */
  protected abstract stream(
    table: QueryTable,
    sql: string,
    params: readonly WireValue[],
    onBatch: (rows: Record<string, unknown>[]) => void,
  ): Promise<void>;

  /** Time `fn` under `augur_db_query_seconds{table,operation}`. */
  protected timed<T>(
    table: QueryTable,
    operation: QueryOperation,
    fn: () => Promise<T>,
  ): Promise<T> {
    return this.histogram.time({ table, operation }, fn);
  }

  async #upsert<R>(codec: TableCodec<R>, records: readonly R[]): Promise<void> {
    if (records.length === 0) return;
    await this.writeRows(codec.table, this.encodeBatch(codec, records));
  }

  upsertSnapshots(rows: readonly MarketSnapshot[]): Promise<void> {
    return this.#upsert(SNAPSHOT_CODEC, rows);
  }
  upsertTrades(rows: readonly TradeRecord[]): Promise<void> {
    return this.#upsert(TRADE_CODEC, rows);
  }
  upsertFeatures(rows: readonly FeatureVector[]): Promise<void> {
    return this.#upsert(FEATURE_CODEC, rows);
  }
  upsertContexts(rows: readonly SignalContext[]): Promise<void> {
    return this.#upsert(CONTEXT_CODEC, rows);
  }
  recordTicks(ticks: readonly TickRecord[]): Promise<void> {
    return this.#upsert(TICK_CODEC, ticks);
  }
  async upsertSignals(rows: readonly MarketSignal[]): Promise<void> {
    if (rows.length === 0) return;
    const last = new Map(rows.map((s) => [s.signal_id, s]));
    const ids = [...last.keys()].sort();
    const flags = prepareRows("manipulation_flags", [...last.values()].flatMap(flagRows));
    await this.writeSignals(this.encodeBatch(SIGNAL_CODEC, rows), ids, flags);
  }

  async snapshotsInRange(marketId: string, range: TimeRange): Promise<MarketSnapshot[]> {
    const rows = await this.query(
      "snapshots",
      "select",
      `SELECT ${
        cols("snapshots")
      } FROM "snapshots" WHERE "market_id" = $1 AND "timestamp" >= $2 AND "timestamp" < $3 ORDER BY "timestamp", "platform"`,
      [marketId, range.start, range.end],
    );
    return rows.map(SNAPSHOT_CODEC.decode);
  }

  async latestSnapshots(
    marketId: string,
    n: number,
    options: { asOf?: number } = {},
  ): Promise<MarketSnapshot[]> {
    if (!(n > 0)) return [];
    const asOf = options.asOf ?? Number.MAX_SAFE_INTEGER;
    const rows = await this.query(
      "snapshots",
      "select",
      `SELECT ${
        cols("snapshots")
      } FROM "snapshots" WHERE "market_id" = $1 AND "timestamp" <= $2 ORDER BY "timestamp" DESC LIMIT $3`,
      [marketId, asOf, Math.floor(n)],
    );
    return rows.map(SNAPSHOT_CODEC.decode).reverse();
  }

  async oldestSnapshotIn(marketId: string, range: TimeRange): Promise<MarketSnapshot | null> {
    const rows = await this.query(
      "snapshots",
      "select",
      `SELECT ${
        cols("snapshots")
      } FROM "snapshots" WHERE "market_id" = $1 AND "timestamp" >= $2 AND "timestamp" < $3 ORDER BY "timestamp" ASC LIMIT 1`,
      [marketId, range.start, range.end],
    );
    return rows.length ? SNAPSHOT_CODEC.decode(rows[0]) : null;
  }

  async latestSnapshot(marketId: string): Promise<MarketSnapshot | null> {
    return (await this.latestSnapshots(marketId, 1))[0] ?? null;
  }

  async latestSnapshotsAt(
    reads: readonly SnapshotAsOfRead[],
  ): Promise<(MarketSnapshot | null)[]> {
    const { unique, slots } = distinctReads(reads, (r) => r.asOf, () => 0);
    const found: (MarketSnapshot | null)[] = new Array(unique.length).fill(null);
    await this.#statements(unique, (part) => ({
      kind: "latest",
      marketIds: part.map((r) => r.marketId),
      asOf: part.map((r) => r.asOf),
    }), (i, row) => found[i] = SNAPSHOT_CODEC.decode(row));
    return slots.map((slot) => found[slot]);
  }

  async oldestSnapshotsIn(
    reads: readonly SnapshotRangeRead[],
  ): Promise<(MarketSnapshot | null)[]> {
    const { unique, slots } = distinctReads(reads, (r) => r.start, (r) => r.end);
    const found: (MarketSnapshot | null)[] = new Array(unique.length).fill(null);
    await this.#statements(unique, (part) => ({
      kind: "oldest",
      marketIds: part.map((r) => r.marketId),
      start: part.map((r) => r.start),
      end: part.map((r) => r.end),
    }), (i, row) => found[i] = SNAPSHOT_CODEC.decode(row));
    return slots.map((slot) => found[slot]);
  }

  async latestWithPriorAt(
    reads: readonly SnapshotAsOfRead[],
    window: number,
  ): Promise<(LatestWithPrior | null)[]> {
    const { unique, slots } = distinctReads(reads, (r) => r.asOf, () => 0);
    const latest: (MarketSnapshot | null)[] = new Array(unique.length).fill(null);
    const prior: (MarketSnapshot | null)[] = new Array(unique.length).fill(null);
    await this.#statements(unique, (part) => ({
      kind: "latest_prior",
      marketIds: part.map((r) => r.marketId),
      asOf: part.map((r) => r.asOf),
      window,
    }), (i, row) => (num(row.prior) === 0 ? latest : prior)[i] = SNAPSHOT_CODEC.decode(row));
    const found = latest.map((l, i) => l === null ? null : { latest: l, prior: prior[i] ?? l });
    return slots.map((slot) => found[slot]);
  }

  /**
   * Answer distinct reads with one {@linkcode SqlStore.snapshotReads} statement per
   * {@linkcode READS_PER_STATEMENT}, handing each row to `onRow` with its read's index.
   */
  async #statements<R>(
    unique: readonly R[],
    batch: (part: R[]) => SnapshotReadBatch,
    onRow: (index: number, row: Record<string, unknown>) => void,
  ): Promise<void> {
    for (let offset = 0; offset < unique.length; offset += READS_PER_STATEMENT) {
      const part = unique.slice(offset, offset + READS_PER_STATEMENT);
      for (const row of await this.snapshotReads(batch(part))) {
        onRow(offset + num(row.ord) - 1, row);
      }
    }
  }

  async latestSnapshotsOfAll(
    n: number,
    options: { asOf?: number } = {},
  ): Promise<Map<string, MarketSnapshot[]>> {
    const out = new Map<string, MarketSnapshot[]>();
    if (!(n > 0)) return out;
    const asOf = options.asOf ?? Number.MAX_SAFE_INTEGER;
    const rows = await this.query(
      "snapshots",
      "select",
      `SELECT ${cols("snapshots")} FROM (SELECT ${
        cols("snapshots")
      }, row_number() OVER (PARTITION BY "market_id" ORDER BY "timestamp" DESC) AS "rank" FROM "snapshots" WHERE "timestamp" <= $1) AS "latest" WHERE "rank" <= $2 ORDER BY "market_id", "timestamp"`,
      [asOf, Math.floor(n)],
    );
    for (const row of rows) {
      const snapshot = SNAPSHOT_CODEC.decode(row);
      const list = out.get(snapshot.market_id);
      if (list) list.push(snapshot);
      else out.set(snapshot.market_id, [snapshot]);
    }
    return out;
  }

  #rangeSql(table: TableName, query: RangeQuery, order: string): [string, WireValue[]] {
    const time = `"${tableSpec(table).time}"`;
    const params: WireValue[] = [query.start, query.end];
    let where = `${time} >= $1 AND ${time} < $2`;
    if (query.marketIds !== undefined) {
      if (query.marketIds.length === 0) where += " AND FALSE";
      else {
        const marks = query.marketIds.map((id) => {
          params.push(id);
          return `$${params.length}`;
        });
        where += ` AND "market_id" IN (${marks.join(", ")})`;
      }
    }
    return [`SELECT ${cols(table)} FROM "${table}" WHERE ${where} ORDER BY ${order}`, params];
  }

  async tradesInRange(query: RangeQuery): Promise<TradeRecord[]> {
    const [sql, params] = this.#rangeSql("trades", query, `"timestamp", "market_id", "trade_key"`);
    return (await this.query("trades", "select", sql, params)).map(TRADE_CODEC.decode);
  }

  async featuresInRange(query: RangeQuery): Promise<FeatureVector[]> {
    const [sql, params] = this.#rangeSql("features", query, `"computed_at", "market_id"`);
    return (await this.query("features", "select", sql, params)).map(FEATURE_CODEC.decode);
  }

  async #flagsInRange(range: TimeRange): Promise<Map<string, string[]>> {
    const rows = await this.query(
      "manipulation_flags",
      "select",
      `SELECT "signal_id", "flag" FROM "manipulation_flags" WHERE "detected_at" >= $1 AND "detected_at" < $2`,
      [range.start, range.end],
    );
    const out = new Map<string, string[]>();
    for (const row of rows) {
      const id = String(row.signal_id);
      const list = out.get(id) ?? [];
      list.push(String(row.flag));
      out.set(id, list);
    }
    return out;
  }

  async signalsInRange(query: RangeQuery): Promise<MarketSignal[]> {
    const [sql, params] = this.#rangeSql(
      "signals",
      query,
      `"detected_at", "market_id", "signal_type", "signal_id"`,
    );
    const rows = await this.query("signals", "select", sql, params);
    const flags = await this.#flagsInRange(query);
    return rows.map((row) => {
      const signal = SIGNAL_CODEC.decode(row);
      return { ...signal, manipulation_flags: orderFlags(flags.get(signal.signal_id) ?? []) };
    }).sort(compareSignals);
  }

  async contextsInRange(query: RangeQuery): Promise<SignalContext[]> {
    const [sql, params] = this.#rangeSql("contexts", query, `"detected_at", "market_id"`);
    const rows = await this.query("contexts", "select", sql, params);
    return rows.map(CONTEXT_CODEC.decode).sort((a, b) => compareSignals(a.signal, b.signal));
  }

  async ticksInRange(platform: Platform, range: TimeRange): Promise<TickStatus[]> {
    const rows = await this.query(
      "ticks",
      "select",
      `SELECT k."platform", k."t", k."announced", (SELECT count(*) FROM "snapshots" s WHERE s."platform" = k."platform" AND s."timestamp" = k."t") AS "stored" FROM "ticks" k WHERE k."platform" = $1 AND k."t" >= $2 AND k."t" < $3 ORDER BY k."t"`,
      [platform, range.start, range.end],
    );
    return rows.map((row) => ({ ...TICK_CODEC.decode(row), stored: num(row.stored) }));
  }

  async groupDigests(query: DigestQuery): Promise<GroupDigest[]> {
    const spec = tableSpec(query.table);
    const acc = new DigestAccumulator(query.table);
    const access = DIGEST_ACCESS[query.table];
    const range = { start: query.start, end: query.end };
    const add = (record: unknown) =>
      acc.add(access.market(record as never), access.time(record as never), record);
    const time = `"${spec.time}"`;
    const sql = `SELECT ${
      cols(query.table)
    } FROM "${spec.name}" WHERE ${time} >= $1 AND ${time} < $2`;
    if (query.table === "signals") {
      const flags = await this.#flagsInRange(range);
      await this.stream("signals", sql, [range.start, range.end], (rows) => {
        for (const row of rows) {
          const s = SIGNAL_CODEC.decode(row);
          add({ ...s, manipulation_flags: orderFlags(flags.get(s.signal_id) ?? []) });
        }
      });
    } else {
      const codec: TableCodec<unknown> = {
        snapshots: SNAPSHOT_CODEC,
        trades: TRADE_CODEC,
        features: FEATURE_CODEC,
        contexts: CONTEXT_CODEC,
      }[query.table] as TableCodec<unknown>;
      await this.stream(query.table, sql, [range.start, range.end], (rows) => {
        for (const row of rows) add(codec.decode(row));
      });
    }
    return acc.result();
  }

  /** Bind form of state bytes for this driver. */
  protected bytesParam(bytes: Uint8Array): WireValue {
    return bytes;
  }

  async saveState(entry: StateEntry): Promise<boolean> {
    if (!Number.isSafeInteger(entry.token) || !Number.isSafeInteger(entry.partition)) {
      throw new TypeError(
        `saveState: expected integer token and partition, received ${entry.token}, ${entry.partition}`,
      );
    }
    const rows = await this.query(
      "worker_state",
      "state",
      `INSERT INTO "worker_state" (${cols("worker_state")}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT ("kind", "partition", "state_key") DO UPDATE SET "position" = EXCLUDED."position",
       "state" = EXCLUDED."state", "token" = EXCLUDED."token"
       WHERE "worker_state"."token" <= EXCLUDED."token" RETURNING "token"`,
      [
        entry.kind,
        entry.partition,
        entry.key,
        entry.position,
        this.bytesParam(entry.state),
        entry.token,
      ],
    );
    return rows.length > 0;
  }

  async loadState(
    kind: string,
    partition: number,
    options: { key?: string } = {},
  ): Promise<StateEntry | null> {
    const rows = await this.query(
      "worker_state",
      "state",
      `SELECT ${
        cols("worker_state")
      } FROM "worker_state" WHERE "kind" = $1 AND "partition" = $2 AND "state_key" = $3`,
      [kind, partition, options.key ?? ""],
    );
    if (rows.length === 0) return null;
    const row = rows[0];
    return {
      kind: String(row.kind),
      partition: num(row.partition),
      key: String(row.state_key),
      position: String(row.position),
      state: toBytes(row.state),
      token: num(row.token),
    };
  }
}

/**
 * Dedupe point reads on (market, `a`, `b`): the distinct reads, and per read the index of
 * its distinct read (identical reads then share one decoded answer). Nested maps: no key
 * strings to build (formatting µs times is the costly part).
 */
function distinctReads<R extends { marketId: string }>(
  reads: readonly R[],
  a: (read: R) => number,
  b: (read: R) => number,
): { unique: R[]; slots: number[] } {
  const slotOf = new Map<string, Map<number, Map<number, number>>>();
  const unique: R[] = [];
  const slots = reads.map((read) => {
    let byA = slotOf.get(read.marketId);
    if (byA === undefined) slotOf.set(read.marketId, byA = new Map());
    let byB = byA.get(a(read));
    if (byB === undefined) byA.set(a(read), byB = new Map());
    let slot = byB.get(b(read));
    if (slot === undefined) {
      byB.set(b(read), slot = unique.length);
      unique.push(read);
    }
    return slot;
  });
  return { unique, slots };
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const bytes = (value as { bytes?: Uint8Array }).bytes;
  if (bytes instanceof Uint8Array) return new Uint8Array(bytes);
  throw new TypeError("expected bytes");
}
