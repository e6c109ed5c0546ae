/**
 * The store sink (`augur run store`): a batching competing consumer that writes snapshots
 * (with their trades), features, signals, contexts and tick announcements to the Store and acks each message only
 * after the batch holding it committed. Tick markers are acked without a write; undecodable
 * payloads are dead-lettered; a failed commit is retried with backoff (writes are idempotent
 * upserts, so a retried or redelivered batch changes nothing twice).
 *
 * Group commit: one commit runs at a time and the next batch fills meanwhile, so a slow store
 * gets fewer, bigger commits (up to `batchSize`) rather than a queue of small ones. A commit
 * never stalls the ones after it: a failed ack, tee or keep-alive is counted in
 * `augur_worker_retries_total{kind="store",stage}` and logged, and its messages are
 * redelivered by the bus. Messages that need no write (tick markers) are acked without
 * waiting for the bus's answer.
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
   * Uncommitted messages (held, or in the running commit) above which the sink stops pulling
   * until the running commit ends (default 4 × batchSize; the sink also stops once the next
   * batch is full): a slow or unreachable database must not let deliveries pile up past their
   * ack wait and be redelivered.
   */
  readonly maxUncommitted?: number;
  /**
   * While messages are held or their commit runs or retries, extend their ack deadline this
   * often (`working()`; default 1000 ms), so a slow database or an outage does not turn into
   * redeliveries and `max_deliver` dead letters.
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Group commit: one commit runs at a time; meanwhile the next batch keeps filling and is
  // committed whole as soon as it ends. A commit slower than max_delay_ms (a starved process,
  // a loaded database) then gets fewer, bigger commits instead of a queue of small ones whose
  // fixed cost (statements, acks) caps the throughput far below the input rate.
  let running: Promise<void> | undefined;
  /** The running commit's deliveries (kept alive until acked). */
  let committing: readonly Delivery[] = [];
  /** The held batch is due (full, or its delay passed) and starts when the running one ends. */
  let due = false;
  /** Subscription loops paused by backpressure, resumed when the running commit ends. */
  let paused: (() => void)[] = [];
  const maxUncommitted = options.maxUncommitted ?? options.batchSize * 4;
  // A failed ack leaves its message pending: the bus redelivers it and it is rewritten
  // (idempotent). Every failure is counted; the log says how many since its last line.
  let unloggedAckFailures = 0;
  let ackFailureLoggedAt = 0;
  const ackFailed = (messages: number, error: unknown): void => {
    metrics.retries.inc({ kind: "store", stage: "ack" }, messages);
    unloggedAckFailures += messages;
    const now = Date.now();
    if (now - ackFailureLoggedAt < 1000) return;
    ackFailureLoggedAt = now;
    logger.warn("ack failed; those messages will be redelivered", {
      messages: unloggedAckFailures,
      error: (error as Error)?.message ?? String(error),
    });
    unloggedAckFailures = 0;
  };
  /**
   * Ack a message that needs no commit (a tick marker, an empty or fenced-off message) without
   * waiting for it: the loop takes the next delivery at once. A durable Redis answers an ack
   * only after its disk write; waiting for each of the markers (one per partition per tick,
   * most of a snapshot stream) made the sink crawl whenever the disk or CPU was slow.
   */
  const ackAside = (delivery: Delivery): undefined => {
    delivery.ack().catch((error) => ackFailed(1, error));
    return undefined;
  };
  // Held and committing messages are kept alive (their ack deadline extended) until acked.
  const keepAlive = setInterval(() => {
    let failures = 0;
    let lastError = "";
    const outcomes: Promise<void>[] = [];
    for (const list of [committing, held]) {
      for (const d of list) {
        outcomes.push(
          d.working().catch((error) => {
            failures++;
            lastError = (error as Error).message;
          }),
        );
      }
    }
    if (outcomes.length === 0) return;
    void Promise.all(outcomes).then(() => {
      if (failures === 0) return;
      // Retried on the next tick; a message whose deadline passes meanwhile is redelivered
      // (the rewrite is idempotent), never lost.
      metrics.retries.inc({ kind: "store", stage: "keepalive" }, failures);
      logger.warn("keep-alive failed; retrying", { messages: failures, error: lastError });
    });
  }, options.keepAliveMs ?? 1000);

  // Stalled input: every subscription loop waits and nothing arrives. A bus caps the unacked
  // deliveries of a group (the memory bus at its capacity, 1,024 in the engine), so a batch
  // holding that many gets no more until it commits: waiting out `maxDelayMs` would stall
  // the whole pipeline behind it (measured: ~10 % of an engine run idle). A batch at least
  // half full is then committed at once, when no commit is running (else the running
  // commit's end looks again); smaller ones keep waiting for rows or the delay as before.
  const stallRows = Math.max(1, Math.ceil(options.batchSize / 2));
  let idleLoops = families.length; // loops waiting for their next delivery
  let stallCheck: ReturnType<typeof setTimeout> | undefined;
  const stalled = () =>
    idleLoops === families.length && held.length >= stallRows && running === undefined;
  const watchStall = () => {
    if (stallCheck !== undefined || !stalled()) return;
    // A macrotask runs once every delivery already available has been taken (no microtask
    // left), so "still stalled" then means the input really stopped.
    stallCheck = setTimeout(() => {
      stallCheck = undefined;
      if (stalled()) flush();
    }, 0);
  };

  /** Write one batch (retried until it succeeds, or on drain gives up), then ack it. */
  const writeAndAck = async (current: SinkBatch, deliveries: readonly Delivery[]) => {
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
        if (options.signal.aborted && attempt >= 3) {
          logger.warn("store commit abandoned on drain; its messages are redelivered", {
            messages: deliveries.length,
          });
          return;
        }
        await abortableSleep(Math.min(100 * 2 ** (attempt - 1), 5000), options.signal);
      }
    }
    try {
      await options.onCommit?.(current);
    } catch (error) {
      metrics.retries.inc({ kind: "store", stage: "tee" });
      logger.warn("commit tee failed; its messages are left unacked for redelivery", {
        messages: deliveries.length,
        error: (error as Error).message,
      });
      return;
    }
    // Acked together: a durable Redis waits for its disk per ack call; the bus batches
    // concurrent acks into one round trip. A failed ack leaves its message pending: it is
    // redelivered and rewritten (idempotent), and the next commits go on regardless.
    const acks = await Promise.allSettled(deliveries.map((d) => d.ack()));
    const failed = acks.filter((a): a is PromiseRejectedResult => a.status === "rejected");
    if (failed.length > 0) ackFailed(failed.length, failed[0].reason);
    metrics.processed.inc({ kind: "store" }, deliveries.length - failed.length);
  };

  /** Commit the held batch now (never rejects; at most one commit runs). */
  const startCommit = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    due = false;
    const current = batch;
    const deliveries = held;
    batch = emptyBatch();
    held = [];
    committing = deliveries;
    running = writeAndAck(current, deliveries).catch((error) => {
      logger.error("store commit failed unexpectedly", { error: (error as Error).message });
    }).finally(() => {
      running = undefined;
      committing = [];
      if (held.length > 0 && (due || held.length >= options.batchSize)) startCommit();
      const resume = paused;
      paused = [];
      for (const r of resume) r();
      watchStall();
    });
  };

  /** The held batch is due: commit it now, or as soon as the running commit ends. */
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (held.length === 0) return;
    if (running) due = true;
    else startCommit();
  };

  const onDelay = () => {
    timer = undefined;
    flush();
  };

  /**
   * Take one delivery into the batch. Synchronous on the hot path (a row added, no commit or
   * backpressure due): returns a promise only when something must be waited for.
   */
  const accept = (family: Family, delivery: Delivery): Promise<void> | undefined => {
    if (isTickMarker(delivery.headers) || (!delivery.decoded && delivery.payload.length === 0)) {
      return ackAside(delivery);
    }
    if (family === "signals" && options.fences) return acceptFenced(delivery);
    return add(family, delivery);
  };

  /** A signal passes its fence check first (reads the store). */
  const acceptFenced = async (delivery: Delivery): Promise<void> => {
    let verdict;
    try {
      verdict = await fenceVerdict(delivery);
    } catch {
      return; // draining: left unacked, redelivered to the next sink
    }
    if (verdict !== "accept") {
      metrics.skipped.inc({ kind: "store", reason: verdict === "fence" ? "fence" : "fenced" });
      ackAside(delivery);
      return;
    }
    await add("signals", delivery);
  };

  const add = (family: Family, delivery: Delivery): Promise<void> | undefined => {
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
      return delivery.deadLetter("decode");
    }
    held.push(delivery);
    if (held.length >= options.batchSize) flush();
    else if (timer === undefined && !due) timer = setTimeout(onDelay, options.maxDelayMs);
    // Backpressure: while a commit runs, stop pulling once the next batch is full (or too
    // much is uncommitted); the loops resume when it ends and the next batch starts.
    if (
      running &&
      (held.length >= options.batchSize || held.length + committing.length >= maxUncommitted)
    ) {
      return new Promise<void>((resume) => paused.push(resume));
    }
    return undefined;
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
        delivery.working().catch(() => {}); // best effort: the retry loop goes on regardless
        await abortableSleep(Math.min(100 * 2 ** (attempt - 1), 5000), options.signal);
      }
    }
  };

  await Promise.all(subscriptions.map(async (subscription, i) => {
    const family = families[i];
    for await (const delivery of subscription) {
      idleLoops--;
      const waiting = accept(family, delivery);
      if (waiting) await waiting;
      idleLoops++;
      watchStall();
    }
  }));
  try {
    flush();
    while (running) await running;
  } finally {
    clearInterval(keepAlive);
    if (stallCheck !== undefined) clearTimeout(stallCheck);
    options.signal.removeEventListener("abort", stopAll);
  }
}

/** Wait for every promise; then reject with the first failure, if any. */
async function settledAll(promises: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
