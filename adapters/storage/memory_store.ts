/**
 * In-memory {@linkcode Store} for unit tests of other components. Rows are kept encoded
 * exactly as the SQL backends store them and decoded on read, so it behaves like them
 * (natural-key upserts, flag ordering, trade keys, digests).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * const store = new MemoryStore();
 * await store.initialize();
 * console.log(await store.latestSnapshot("kalshi_fed")); // null
 * ```
 * @module
 */

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
  rowObject,
  SIGNAL_CODEC,
  SNAPSHOT_CODEC,
  type TableCodec,
  TICK_CODEC,
  TRADE_CODEC,
  type WireValue,
} from "./codec.ts";
import { STORE_SCHEMA_VERSION, type TableName, TABLES, tableSpec } from "./schema.ts";
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
  TickRecord,
  TickStatus,
  TimeRange,
  TradeRecord,
} from "./types.ts";
import type { Platform } from "../../pipeline/models.ts";
import { countAtMost } from "../../pipeline/context.ts";

type Rows = Map<string, WireValue[]>;

/** A {@linkcode Store} held in process memory. */
export class MemoryStore implements Store {
  readonly backend = "memory" as const;
  readonly #tables = new Map<TableName, Rows>();
  readonly #state = new Map<string, StateEntry>();
  #closed = false;

  /** Create the (empty) tables; records the schema version once. */
  initialize(): Promise<void> {
    for (const name of Object.keys(TABLES) as TableName[]) {
      if (!this.#tables.has(name)) this.#tables.set(name, new Map());
    }
    const versions = this.#rows("schema_version");
    if (!versions.has(JSON.stringify([STORE_SCHEMA_VERSION]))) {
      versions.set(JSON.stringify([STORE_SCHEMA_VERSION]), [STORE_SCHEMA_VERSION, 0]);
    }
    return Promise.resolve();
  }

  #rows(table: TableName): Rows {
    if (this.#closed) throw new Error("store is closed");
    const rows = this.#tables.get(table);
    if (!rows) throw new Error("store is not initialized: call initialize() first");
    return rows;
  }

  #put<R>(codec: TableCodec<R>, records: readonly R[]): Promise<void> {
    const rows = this.#rows(codec.table);
    const keys = tableSpec(codec.table).key.map((k) =>
      TABLES[codec.table].columns.findIndex((col) => col.name === k)
    );
    for (const row of prepareBatch(codec, records)) {
      rows.set(JSON.stringify(keys.map((i) => row[i])), row);
    }
    return Promise.resolve();
  }

  #all<R>(codec: TableCodec<R>): R[] {
    return [...this.#rows(codec.table).values()].map((row) =>
      codec.decode(rowObject(codec.table, row))
    );
  }

  upsertSnapshots(rows: readonly MarketSnapshot[]): Promise<void> {
    return this.#put(SNAPSHOT_CODEC, rows);
  }
  upsertTrades(rows: readonly TradeRecord[]): Promise<void> {
    return this.#put(TRADE_CODEC, rows);
  }
  upsertFeatures(rows: readonly FeatureVector[]): Promise<void> {
    return this.#put(FEATURE_CODEC, rows);
  }
  async upsertSignals(rows: readonly MarketSignal[]): Promise<void> {
    await this.#put(SIGNAL_CODEC, rows);
    const flags = this.#rows("manipulation_flags");
    const ids = new Set(rows.map((s) => s.signal_id));
    for (const [key, row] of flags) if (ids.has(String(row[0]))) flags.delete(key);
    const last = new Map(rows.map((s) => [s.signal_id, s]));
    for (const signal of last.values()) {
      for (const row of flagRows(signal)) flags.set(JSON.stringify([row[0], row[1]]), row);
    }
  }
  upsertContexts(rows: readonly SignalContext[]): Promise<void> {
    return this.#put(CONTEXT_CODEC, rows);
  }
  recordTicks(ticks: readonly TickRecord[]): Promise<void> {
    return this.#put(TICK_CODEC, ticks);
  }

  snapshotsInRange(marketId: string, range: TimeRange): Promise<MarketSnapshot[]> {
    return Promise.resolve(
      this.#all(SNAPSHOT_CODEC)
        .filter((s) =>
          s.market_id === marketId && s.timestamp >= range.start && s.timestamp < range.end
        )
        .sort((a, b) => a.timestamp - b.timestamp || (a.platform < b.platform ? -1 : 1)),
    );
  }
  latestSnapshots(
    marketId: string,
    n: number,
    options: { asOf?: number } = {},
  ): Promise<MarketSnapshot[]> {
    const asOf = options.asOf ?? Infinity;
    const all = this.#all(SNAPSHOT_CODEC)
      .filter((s) => s.market_id === marketId && s.timestamp <= asOf)
      .sort((a, b) => a.timestamp - b.timestamp);
    return Promise.resolve(n > 0 ? all.slice(-n) : []);
  }
  async oldestSnapshotIn(marketId: string, range: TimeRange): Promise<MarketSnapshot | null> {
    return (await this.snapshotsInRange(marketId, range))[0] ?? null;
  }
  async latestSnapshot(marketId: string): Promise<MarketSnapshot | null> {
    return (await this.latestSnapshots(marketId, 1))[0] ?? null;
  }
  latestSnapshotsAt(reads: readonly SnapshotAsOfRead[]): Promise<(MarketSnapshot | null)[]> {
    // Ascending by timestamp, ties in insertion order (as latestSnapshots: last one wins).
    const byMarket = this.#snapshotsOf(reads, (a, b) => a.timestamp - b.timestamp);
    return Promise.resolve(reads.map(({ marketId, asOf }) => {
      const list = byMarket.get(marketId) ?? [];
      const i = countAtMost(list, asOf) - 1;
      return i >= 0 ? list[i] : null;
    }));
  }
  oldestSnapshotsIn(reads: readonly SnapshotRangeRead[]): Promise<(MarketSnapshot | null)[]> {
    // The order of snapshotsInRange: the first one in range wins.
    const byMarket = this.#snapshotsOf(
      reads,
      (a, b) => a.timestamp - b.timestamp || (a.platform < b.platform ? -1 : 1),
    );
    return Promise.resolve(reads.map(({ marketId, start, end }) => {
      const list = byMarket.get(marketId) ?? [];
      const i = countAtMost(list, start - 1);
      return i < list.length && list[i].timestamp < end ? list[i] : null;
    }));
  }
  latestWithPriorAt(
    reads: readonly SnapshotAsOfRead[],
    window: number,
  ): Promise<(LatestWithPrior | null)[]> {
    const byMarket = this.#snapshotsOf(reads, (a, b) => a.timestamp - b.timestamp);
    return Promise.resolve(reads.map(({ marketId, asOf }) => {
      const list = byMarket.get(marketId) ?? [];
      const i = countAtMost(list, asOf) - 1;
      if (i < 0) return null;
      const latest = list[i];
      return { latest, prior: list[countAtMost(list, latest.timestamp - window - 1)] };
    }));
  }
  /** The snapshots of the markets of `reads` (decoded once per call), sorted per market. */
  #snapshotsOf(
    reads: readonly { marketId: string }[],
    order: (a: MarketSnapshot, b: MarketSnapshot) => number,
  ): Map<string, MarketSnapshot[]> {
    const byMarket = new Map<string, MarketSnapshot[]>(reads.map((r) => [r.marketId, []]));
    if (reads.length === 0) return byMarket;
    for (const s of this.#all(SNAPSHOT_CODEC)) byMarket.get(s.market_id)?.push(s);
    for (const list of byMarket.values()) list.sort(order);
    return byMarket;
  }
  latestSnapshotsOfAll(
    n: number,
    options: { asOf?: number } = {},
  ): Promise<Map<string, MarketSnapshot[]>> {
    const asOf = options.asOf ?? Infinity;
    const byMarket = new Map<string, MarketSnapshot[]>();
    if (!(n > 0)) return Promise.resolve(byMarket);
    for (const s of this.#all(SNAPSHOT_CODEC)) {
      if (s.timestamp > asOf) continue;
      const list = byMarket.get(s.market_id);
      if (list) list.push(s);
      else byMarket.set(s.market_id, [s]);
    }
    for (const [market, list] of byMarket) {
      byMarket.set(market, list.sort((a, b) => a.timestamp - b.timestamp).slice(-n));
    }
    return Promise.resolve(byMarket);
  }
  tradesInRange(query: RangeQuery): Promise<TradeRecord[]> {
    const rows = [...this.#rows("trades").values()]
      .filter((r) => inRange(num(r[3]), query) && inMarkets(String(r[0]), query))
      .sort((a, b) =>
        num(a[3]) - num(b[3]) || cmp(String(a[0]), String(b[0])) || cmp(String(a[2]), String(b[2]))
      );
    return Promise.resolve(rows.map((r) => TRADE_CODEC.decode(rowObject("trades", r))));
  }
  featuresInRange(query: RangeQuery): Promise<FeatureVector[]> {
    return Promise.resolve(
      this.#all(FEATURE_CODEC)
        .filter((f) => inRange(f.computed_at, query) && inMarkets(f.market_id, query))
        .sort((a, b) => a.computed_at - b.computed_at || cmp(a.market_id, b.market_id)),
    );
  }
  signalsInRange(query: RangeQuery): Promise<MarketSignal[]> {
    const flags = new Map<string, string[]>();
    for (const row of this.#rows("manipulation_flags").values()) {
      const list = flags.get(String(row[0])) ?? [];
      list.push(String(row[1]));
      flags.set(String(row[0]), list);
    }
    return Promise.resolve(
      this.#all(SIGNAL_CODEC)
        .filter((s) => inRange(s.detected_at, query) && inMarkets(s.market_id, query))
        .map((s) => ({ ...s, manipulation_flags: orderFlags(flags.get(s.signal_id) ?? []) }))
        .sort(compareSignals),
    );
  }
  contextsInRange(query: RangeQuery): Promise<SignalContext[]> {
    return Promise.resolve(
      this.#all(CONTEXT_CODEC)
        .filter((c) => inRange(c.signal.detected_at, query) && inMarkets(c.signal.market_id, query))
        .sort((a, b) => compareSignals(a.signal, b.signal)),
    );
  }
  ticksInRange(platform: Platform, range: TimeRange): Promise<TickStatus[]> {
    const snaps = [...this.#rows("snapshots").values()];
    return Promise.resolve(
      this.#all(TICK_CODEC)
        .filter((t) => t.platform === platform && inRange(t.t, range))
        .sort((a, b) => a.t - b.t)
        .map((t) => ({
          ...t,
          stored: snaps.filter((s) => s[1] === platform && num(s[2]) === t.t).length,
        })),
    );
  }

  async groupDigests(query: DigestQuery): Promise<GroupDigest[]> {
    tableSpec(query.table);
    const acc = new DigestAccumulator(query.table);
    const access = DIGEST_ACCESS[query.table];
    const range = { start: query.start, end: query.end };
    const records: unknown[] = query.table === "snapshots"
      ? this.#all(SNAPSHOT_CODEC).filter((s) => inRange(s.timestamp, range))
      : query.table === "trades"
      ? await this.tradesInRange(range)
      : query.table === "features"
      ? await this.featuresInRange(range)
      : query.table === "signals"
      ? await this.signalsInRange(range)
      : await this.contextsInRange(range);
    for (const r of records) acc.add(access.market(r as never), access.time(r as never), r);
    return acc.result();
  }

  saveState(entry: StateEntry): Promise<boolean> {
    this.#rows("worker_state");
    const id = stateId(entry.kind, entry.partition, entry.key);
    const stored = this.#state.get(id);
    if (stored && stored.token > entry.token) return Promise.resolve(false);
    this.#state.set(id, { ...entry, state: entry.state.slice() });
    return Promise.resolve(true);
  }
  loadState(
    kind: string,
    partition: number,
    options: { key?: string } = {},
  ): Promise<StateEntry | null> {
    this.#rows("worker_state");
    const found = this.#state.get(stateId(kind, partition, options.key ?? ""));
    return Promise.resolve(found ? { ...found, state: found.state.slice() } : null);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

function stateId(kind: string, partition: number, key: string): string {
  return JSON.stringify([kind, partition, key]);
}

function inRange(t: number, range: TimeRange): boolean {
  return t >= range.start && t < range.end;
}

function inMarkets(marketId: string, query: RangeQuery): boolean {
  return query.marketIds === undefined || query.marketIds.includes(marketId);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
