/**
 * A {@linkcode SnapshotLookup} over the Store that answers many point reads with one query
 * (a "dataloader"): the reads issued during one turn of the event loop, plus those issued
 * while earlier batches are in flight, go to the Store together as one
 * {@linkcode Store.latestSnapshotsAt} or {@linkcode Store.oldestSnapshotsIn} call. The
 * answers are exactly those of one indexed query per read (`storeSnapshotLookup`), so
 * contexts do not change; only the number of round trips does.
 *
 * - A batch leaves at the end of the turn in which its first read arrived (`setImmediate`:
 *   after every pending promise continuation), or at once when it holds `maxBatch` reads.
 * - At most `maxInFlight` store calls per read kind run at a time; reads arriving
 *   meanwhile wait and leave together when a call returns.
 * - A failed store call rejects exactly the reads of that batch.
 * - With `priorWindow` W (the context stage: 24 h), each latest read also fetches, in the
 *   same query ({@linkcode Store.latestWithPriorAt}), the read a context makes next for a
 *   neighbour: the oldest snapshot in `[L.timestamp − W, L.timestamp]` of the latest L
 *   found. An `oldestSnapshotIn(market, L.timestamp − W, L.timestamp)` issued before the
 *   end of the turn in which L was answered takes that prefetched snapshot (the same
 *   answer the read would get); any other read goes to the Store. One round trip per step
 *   of the signals in flight instead of two.
 *
 * @example
 * ```ts
 * import { batchedSnapshotLookup } from "./batched_snapshot_lookup.ts";
 * import { MemoryStore } from "../adapters/storage/memory_store.ts";
 * const store = new MemoryStore();
 * await store.initialize();
 * const lookup = batchedSnapshotLookup(store);
 * const [a, b] = await Promise.all([
 *   lookup.latestSnapshot("m1", 0),
 *   lookup.latestSnapshot("m2", 0),
 * ]); // one store call answered both: a === null, b === null
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import { AugurError } from "../config/errors.ts";
import type {
  LatestWithPrior,
  MarketSnapshot,
  SnapshotAsOfRead,
  SnapshotRangeRead,
  Store,
} from "../adapters/storage/types.ts";
import type { SnapshotLookup } from "../pipeline/context.ts";

/** Options of {@linkcode batchedSnapshotLookup}. */
export interface BatchedLookupOptions {
  /** Most reads per store call (default 2,000). */
  readonly maxBatch?: number;
  /** Most store calls in flight per read kind (latest, oldest) (default 2). */
  readonly maxInFlight?: number;
  /** Prefetch each latest snapshot's prior over this window (µs; see the module doc). */
  readonly priorWindow?: number;
}

/** A {@linkcode SnapshotLookup} whose reads always answer through a batch (a promise). */
export interface BatchedSnapshotLookup extends SnapshotLookup {
  latestSnapshot(marketId: string, asOf: number): Promise<MarketSnapshot | null>;
  oldestSnapshotIn(marketId: string, start: number, end: number): Promise<MarketSnapshot | null>;
}

/** The Store reads a {@linkcode batchedSnapshotLookup} uses. */
export type BatchReads = Pick<
  Store,
  "latestSnapshotsAt" | "oldestSnapshotsIn" | "latestWithPriorAt"
>;

/** A store call answered a batch with the wrong number of results. */
export class BatchedLookupError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BatchedLookupError";
  }
}

interface Pending<Q> {
  read: Q;
  resolve: (snapshot: MarketSnapshot | null) => void;
  reject: (error: unknown) => void;
}

/** Collects reads of one kind and answers them batch by batch. */
class Batcher<Q> {
  readonly #queue: Pending<Q>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    readonly answer: (reads: Q[]) => Promise<(MarketSnapshot | null)[]>,
    readonly maxBatch: number,
    readonly maxInFlight: number,
  ) {}

  load(read: Q): Promise<MarketSnapshot | null> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ read, resolve, reject });
      if (this.#queue.length >= this.maxBatch) this.#dispatch();
      else this.#schedule();
    });
  }

  /** Dispatch at the end of this turn (after the promise continuations already queued). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.maxInFlight) {
      const batch = this.#queue.splice(0, this.maxBatch);
      this.#inFlight++;
      void this.#run(batch).finally(() => {
        this.#inFlight--;
        // The callers just answered may issue their next reads in this turn: let them join.
        if (this.#queue.length > 0) this.#schedule();
      });
    }
  }

  async #run(batch: Pending<Q>[]): Promise<void> {
    let results: (MarketSnapshot | null)[];
    try {
      results = await this.answer(batch.map((p) => p.read));
      if (results.length !== batch.length) {
        throw new BatchedLookupError(
          `batched snapshot reads: expected ${batch.length} results, received ${results.length}`,
        );
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}

/**
 * A {@linkcode SnapshotLookup} batching its reads into {@linkcode Store.latestSnapshotsAt}
 * and {@linkcode Store.oldestSnapshotsIn} calls (see the module doc). `oldestSnapshotIn`'s
 * inclusive `end` becomes the Store's half-open `end + 1`.
 *
 * @example
 * ```ts
 * import { batchedSnapshotLookup } from "./batched_snapshot_lookup.ts";
 * import { MemoryStore } from "../adapters/storage/memory_store.ts";
 * const day = 86_400 * 1_000_000;
 * const lookup = batchedSnapshotLookup(new MemoryStore(), { maxBatch: 500, priorWindow: day });
 * ```
 */
export function batchedSnapshotLookup(
  store: BatchReads,
  options: BatchedLookupOptions = {},
): BatchedSnapshotLookup {
  const maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 2_000));
  const maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 2));
  const window = options.priorWindow;
  // Priors prefetched with the latest reads answered in this turn: market → L.timestamp →
  // prior. Cleared at the end of the turn: a prefetched answer stands only for the reads
  // its callers issue right after receiving L.
  const priors = new Map<string, Map<number, MarketSnapshot>>();
  let clearing = false;
  const keepPriors = (answers: readonly (LatestWithPrior | null)[]) => {
    for (const answer of answers) {
      if (answer === null) continue;
      const { latest, prior } = answer;
      let byTime = priors.get(latest.market_id);
      if (byTime === undefined) priors.set(latest.market_id, byTime = new Map());
      byTime.set(latest.timestamp, prior);
    }
    if (!clearing) {
      clearing = true;
      setImmediate(() => {
        clearing = false;
        priors.clear();
      });
    }
  };
  const latest = new Batcher<SnapshotAsOfRead>(
    window === undefined ? (reads) => store.latestSnapshotsAt(reads) : async (reads) => {
      const answers = await store.latestWithPriorAt(reads, window);
      keepPriors(answers);
      return answers.map((answer) => answer?.latest ?? null);
    },
    maxBatch,
    maxInFlight,
  );
  const oldest = new Batcher<SnapshotRangeRead>(
    (reads) => store.oldestSnapshotsIn(reads),
    maxBatch,
    maxInFlight,
  );
  return {
    latestSnapshot: (marketId, asOf) => latest.load({ marketId, asOf }),
    oldestSnapshotIn: (marketId, start, end) => {
      if (end - start === window) {
        const prior = priors.get(marketId)?.get(end);
        if (prior !== undefined) return Promise.resolve(prior);
      }
      return oldest.load({ marketId, start, end: end + 1 });
    },
  };
}
