/**
 * A memory store whose every write takes `writeMs` (a starved or distant database), counting
 * what the store sink does with it: commits, the largest commit, the snapshots stored.
 *
 * @example
 * ```ts
 * import { SlowStore } from "./slow_store.ts";
 * const store = new SlowStore(50);
 * await store.initialize();
 * await store.recordTicks([]); // takes ~50 ms, counts one commit
 * store.commits; // 1
 * ```
 * @module
 */
import { MemoryStore } from "../../adapters/storage/memory_store.ts";
import type { TickRecord, TradeRecord } from "../../adapters/storage/types.ts";
import type {
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  SignalContext,
} from "../../pipeline/models.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The slow store (see the module doc).
 *
 * @example
 * ```ts
 * import { SlowStore } from "./slow_store.ts";
 * const store = new SlowStore(20);
 * store.snapshots.size; // 0
 * ```
 */
export class SlowStore extends MemoryStore {
  /** Sink commits seen (`recordTicks` is the last write of each). */
  commits = 0;
  /** Most snapshot rows written by one call. */
  largestCommit = 0;
  /** Keys (`market@timestamp`) of every snapshot written. */
  readonly snapshots = new Set<string>();

  constructor(readonly writeMs: number) {
    super();
  }

  override async upsertSnapshots(rows: readonly MarketSnapshot[]): Promise<void> {
    await delay(this.writeMs);
    this.largestCommit = Math.max(this.largestCommit, rows.length);
    for (const row of rows) this.snapshots.add(`${row.market_id}@${row.timestamp}`);
    return super.upsertSnapshots(rows);
  }

  override async upsertTrades(rows: readonly TradeRecord[]): Promise<void> {
    await delay(this.writeMs);
    return super.upsertTrades(rows);
  }

  override async upsertFeatures(rows: readonly FeatureVector[]): Promise<void> {
    await delay(this.writeMs);
    return super.upsertFeatures(rows);
  }

  override async upsertSignals(rows: readonly MarketSignal[]): Promise<void> {
    await delay(this.writeMs);
    return super.upsertSignals(rows);
  }

  override async upsertContexts(rows: readonly SignalContext[]): Promise<void> {
    await delay(this.writeMs);
    return super.upsertContexts(rows);
  }

  override async recordTicks(ticks: readonly TickRecord[]): Promise<void> {
    await delay(this.writeMs);
    this.commits++;
    return super.recordTicks(ticks);
  }
}
