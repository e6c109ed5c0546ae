/**
 * The store sink (`augur run store`): a batching competing consumer that writes snapshots
 * (with their trades), features, signals, contexts and tick announcements to the Store and acks each message only
 * after the batch holding it committed. Tick markers are acked without a write; undecodable
 * payloads are dead-lettered; a failed commit is retried with backoff (writes are idempotent
 * upserts, so a retried or redelivered batch changes nothing twice).
 *
 * @example
 * ```ts
 * import { runStoreSink } from "./store_sink.ts";
 * // await runStoreSink(bus, store, { subjects, signal, batchSize: 500, maxDelayMs: 200 });
 * ```
 * @module
 */
import type { Delivery, EventBus, Subscription } from "../../adapters/bus/types.ts";
import type { Store, TickRecord, TradeRecord } from "../../adapters/storage/types.ts";
import { TICK_MESSAGES } from "./poller_stage.ts";
import { createLogger, type Logger } from "../../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { KINDS } from "../../pipeline/canonical_json.ts";
import { decodeDelivery } from "../message_codec.ts";
import type {
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  SignalContext,
} from "../../pipeline/models.ts";
import type { Subjects } from "../subjects.ts";
import { abortableSleep } from "../sleep.ts";
import { workerMetrics } from "../worker_metrics.ts";
import { isTickMarker } from "./tick_marker.ts";
import type { FenceGate } from "../fencing.ts";

/** Options of {@linkcode runStoreSink}. */
export interface StoreSinkOptions {
  readonly subjects: Subjects;
  readonly signal: AbortSignal;
  /** Rows per commit (storage.toml `[sink] batch_size`). */
  readonly batchSize: number;
  /** Longest a message waits for its commit (`[sink] max_delay_ms`). */
  readonly maxDelayMs: number;
  /** Consumer group (default `store`). */
  readonly group?: string;
  /** Drops signals from a fenced-off former dedup active. */
  readonly fences?: FenceGate;
  /**
   * Uncommitted messages (held or queued for a commit) above which the sink stops pulling
   * until commits catch up (default 4 × batchSize): a slow or unreachable database must not
   * let deliveries pile up past their ack wait and be redelivered.
   */
  readonly maxUncommitted?: number;
  /**
   * While a commit waits or retries, extend the ack deadline of its messages this often
   * (`working()`; default 1000 ms), so a database outage does not turn into redeliveries and
   * `max_deliver` dead letters.
   */
  readonly keepAliveMs?: number;
  /** Called after each commit with the rows it wrote (the dual-write tee). */
  readonly onCommit?: (batch: SinkBatch) => Promise<void>;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
}

/** The rows of one commit. */
export interface SinkBatch {
  snapshots: MarketSnapshot[];
  trades: TradeRecord[];
  features: FeatureVector[];
  signals: MarketSignal[];
  contexts: SignalContext[];
  ticks: TickRecord[];
}

type Family = "snapshots" | "features" | "signals" | "contexts" | "ticks";

function emptyBatch(): SinkBatch {
  return { snapshots: [], trades: [], features: [], signals: [], contexts: [], ticks: [] };
}

/** Run the sink until the signal aborts; pending rows are committed before it resolves. */
export async function runStoreSink(
  bus: EventBus,
  store: Store,
  options: StoreSinkOptions,
): Promise<void> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger({ component: "store-sink" });
  const metrics = workerMetrics(registry);
  const group = options.group ?? "store";
  const { subjects } = options;
  const families: Family[] = ["snapshots", "features", "signals", "contexts", "ticks"];
  const subscriptions: Subscription[] = families.map((family) =>
    bus.subscribe(subjects.familyPattern(family), group, { worker: "store" })
  );
  const stopAll = () => subscriptions.forEach((s) => void s.stop());
  options.signal.addEventListener("abort", stopAll, { once: true });

  let batch = emptyBatch();
  let held: Delivery[] = [];
  let rows = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<void> = Promise.resolve();
  // Batches handed to the commit chain and not yet acked: kept alive while they wait.
  const uncommitted = new Set<Delivery[]>();
  let uncommittedCount = 0;
  const maxUncommitted = options.maxUncommitted ?? options.batchSize * 4;
  const keepAlive = setInterval(() => {
    for (const deliveries of uncommitted) for (const d of deliveries) void d.working();
  }, options.keepAliveMs ?? 1000);

  const commit = (): Promise<void> => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (held.length === 0) return chain;
    const current = batch;
    const deliveries = held;
    batch = emptyBatch();
    held = [];
    rows = 0;
    uncommitted.add(deliveries);
    uncommittedCount += deliveries.length;
    chain = chain.then(async () => {
      for (let attempt = 1;; attempt++) {
        try {
          const started = performance.now();
          // Independent tables are written concurrently (a pool answers them in parallel;
          // DuckDB queues them). Parents first: a context is only useful once its signal is
          // stored. Settled together so a retry never overlaps a write still running.
          await settledAll([
            store.upsertSnapshots(current.snapshots),
            store.upsertTrades(current.trades),
            store.upsertFeatures(current.features),
            store.upsertSignals(current.signals),
          ]);
          await store.upsertContexts(current.contexts);
          // Ticks last: a recorded tick tells context its snapshots are all announced.
          await store.recordTicks(current.ticks);
          metrics.transformSeconds.observe({ kind: "store" }, (performance.now() - started) / 1000);
          break;
        } catch (error) {
          metrics.retries.inc({ kind: "store", stage: "commit" });
          logger.warn("store commit failed; retrying", {
            attempt,
            error: (error as Error).message,
          });
          // On drain, stop retrying: the unacked messages are redelivered to the next sink.
          if (options.signal.aborted && attempt >= 3) return;
          await abortableSleep(Math.min(100 * 2 ** (attempt - 1), 5000), options.signal);
        }
      }
      await options.onCommit?.(current);
      // Acked together: a durable Redis waits for its disk per ack call; the bus batches
      // concurrent acks into one round trip.
      await Promise.all(deliveries.map((d) => d.ack()));
      metrics.processed.inc({ kind: "store" }, deliveries.length);
    }).finally(() => {
      uncommitted.delete(deliveries);
      uncommittedCount -= deliveries.length;
    });
    return chain;
  };

  const accept = async (family: Family, delivery: Delivery): Promise<void> => {
    if (isTickMarker(delivery.headers) || (!delivery.decoded && delivery.payload.length === 0)) {
      await delivery.ack();
      return;
    }
    if (family === "signals" && options.fences) {
      let verdict;
      try {
        verdict = await fenceVerdict(delivery);
      } catch {
        return; // draining: left unacked, redelivered to the next sink
      }
      if (verdict !== "accept") {
        metrics.skipped.inc({ kind: "store", reason: verdict === "fence" ? "fence" : "fenced" });
        await delivery.ack();
        return;
      }
    }
    try {
      switch (family) {
        case "snapshots": {
          const message = decodeDelivery(delivery, KINDS.snapshotMessage);
          batch.snapshots.push(message.snapshot);
          for (const trade of message.trades) batch.trades.push({ ...trade, trade_id: null });
          break;
        }
        case "features":
          batch.features.push(decodeDelivery(delivery, KINDS.featuresMessage).features);
          break;
        case "signals":
          batch.signals.push(decodeDelivery(delivery, KINDS.signal));
          break;
        case "contexts":
          batch.contexts.push(decodeDelivery(delivery, KINDS.context));
          break;
        case "ticks": {
          const tick = decodeDelivery(delivery, TICK_MESSAGES);
          batch.ticks.push({ platform: tick.platform, t: tick.t, announced: tick.announced });
          break;
        }
      }
    } catch (error) {
      logger.warn("undecodable message dead-lettered", {
        subject: delivery.subject,
        error: (error as Error).message,
      });
      await delivery.deadLetter("decode");
      return;
    }
    held.push(delivery);
    rows++;
    if (rows >= options.batchSize) await commit();
    else if (timer === undefined) {
      timer = setTimeout(() => void commit().catch(() => {}), options.maxDelayMs);
    }
    // Backpressure: stop pulling while commits lag (their messages are kept alive).
    if (uncommittedCount >= maxUncommitted) await chain.catch(() => {});
  };

  /** The fence check reads the store: retry it through an outage instead of failing. */
  const fenceVerdict = async (delivery: Delivery) => {
    for (let attempt = 1;; attempt++) {
      try {
        return await options.fences!.check(delivery);
      } catch (error) {
        if (options.signal.aborted) throw error;
        metrics.retries.inc({ kind: "store", stage: "fence" });
        logger.warn("fence check failed; retrying", {
          attempt,
          error: (error as Error).message,
        });
        void delivery.working();
        await abortableSleep(Math.min(100 * 2 ** (attempt - 1), 5000), options.signal);
      }
    }
  };

  await Promise.all(subscriptions.map(async (subscription, i) => {
    for await (const delivery of subscription) await accept(families[i], delivery);
  }));
  try {
    await commit();
    await chain;
  } finally {
    clearInterval(keepAlive);
    options.signal.removeEventListener("abort", stopAll);
  }
}

/** Wait for every promise; then reject with the first failure, if any. */
async function settledAll(promises: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
