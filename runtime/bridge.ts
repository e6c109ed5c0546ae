/**
 * The bridge: the spine of competing-consumer workers (context, store, websocket,
 * dual-write). subscribe → decode/validate → transform (zero or more outputs) → publish →
 * ack the input only after every output is persisted.
 *
 * - Bounded in-flight (`maxInFlight`), ordered per key (`Augur-Key` header, else subject):
 *   at most one message per key in flight.
 * - Decode errors → dead letter `reason="decode"` (acked; the stream keeps flowing).
 * - Transform errors → retried in place with backoff up to `maxRetries`, then dead letter
 *   `reason="transform"` — never nak'd, which would reorder.
 * - Publish errors (bus down) → retried with backoff until it works or the drain starts;
 *   the input stays unacked, so the bus redelivers it later. Nothing is lost or skipped.
 *
 * @example
 * ```ts
 * import { runBridge } from "./bridge.ts";
 * import type { EventBus } from "../adapters/bus/types.ts";
 * declare const bus: EventBus;
 * const controller = new AbortController();
 * await runBridge(bus, {
 *   decode: (d) => JSON.parse(new TextDecoder().decode(d.payload)),
 *   transform: () => [],
 * }, { pattern: "augur.signals", group: "context", worker: "context", signal: controller.signal });
 * ```
 * @module
 */
import { type Delivery, HEADER, type OutgoingMessage } from "../adapters/bus/types.ts";
import type { EventBus } from "../adapters/bus/types.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import type { Tracing } from "../adapters/observability/tracing.ts";
import { workerMetrics } from "./worker_metrics.ts";
import { abortableSleep } from "./sleep.ts";
import { ConnectionError } from "../config/errors.ts";

/** What the bridge runs per message. */
export interface BridgeStage<I> {
  /** Parse and validate; throw to dead-letter the message as undecodable. */
  decode(delivery: Delivery): I;
  /** Produce the outputs (may be async, may write to a store). Throw to retry. */
  transform(input: I, delivery: Delivery): OutgoingMessage[] | Promise<OutgoingMessage[]>;
}

/** Options of {@linkcode runBridge}. */
export interface BridgeOptions {
  /** Input subject pattern. */
  readonly pattern: string;
  /** Durable / consumer group name. */
  readonly group: string;
  /** Worker kind (metrics, spans, dead-letter headers). */
  readonly worker: string;
  /** Stops pulling when aborted; in-flight messages finish, then the promise resolves. */
  readonly signal: AbortSignal;
  readonly replicaId?: string;
  /** Messages processed concurrently (distinct keys). Default 64. */
  readonly maxInFlight?: number;
  /** Transform attempts before dead-lettering. Default 5. */
  readonly maxRetries?: number;
  /** Backoff between attempts, last value repeats. Default [100, 1000, 5000] ms. */
  readonly retryBackoffMs?: readonly number[];
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  readonly tracing?: Tracing;
  /**
   * The ordering key of a delivery (default: the `Augur-Key` header, else the subject). At
   * most one message per key is in flight. Stages whose outputs are independent per message
   * (context) key by message id for full concurrency.
   */
  readonly keyOf?: (delivery: Delivery) => string;
}

/** Run the bridge until `options.signal` aborts and every in-flight message settled. */
export async function runBridge<I>(
  bus: EventBus,
  stage: BridgeStage<I>,
  options: BridgeOptions,
): Promise<void> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger({ component: "bridge" });
  const metrics = workerMetrics(registry);
  const labels = { kind: options.worker };
  // Bound handles: no per-message label hashing on the hot path.
  const transformSeconds = metrics.transformSeconds.bind(labels);
  const processed = metrics.processed.bind(labels);
  const maxInFlight = options.maxInFlight ?? 64;
  const backoff = options.retryBackoffMs ?? [100, 1000, 5000];
  const maxRetries = options.maxRetries ?? 5;
  const subscription = bus.subscribe(options.pattern, options.group, { worker: options.worker });
  const stopOnAbort = () => void subscription.stop();
  options.signal.addEventListener("abort", stopOnAbort, { once: true });
  if (options.signal.aborted) stopOnAbort();

  const tails = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;

  const sleep = (ms: number) => abortableSleep(ms, options.signal);

  const handle = async (delivery: Delivery): Promise<void> => {
    let input: I;
    try {
      input = stage.decode(delivery);
    } catch (error) {
      logger.warn("undecodable message dead-lettered", {
        subject: delivery.subject,
        position: delivery.position,
        error: (error as Error).message,
      });
      await delivery.deadLetter("decode");
      return;
    }
    let outputs: OutgoingMessage[] | undefined;
    let outageWaits = 0;
    for (let attempt = 1; outputs === undefined; attempt++) {
      const started = performance.now();
      try {
        if (options.tracing) {
          outputs = await options.tracing.span(
            "transform",
            {
              "augur.worker": options.worker,
              "augur.replica": options.replicaId ?? "",
              "messaging.destination": delivery.subject,
            },
            () => Promise.resolve(stage.transform(input, delivery)),
            delivery.headers,
          );
        } else {
          const result = stage.transform(input, delivery);
          // A synchronous transform costs no extra promise (hot path).
          outputs = Array.isArray(result) ? result : await result;
        }
        transformSeconds.observe((performance.now() - started) / 1000);
      } catch (error) {
        transformSeconds.observe((performance.now() - started) / 1000);
        // A store or bus outage is not the message's fault: retry until it is back (keeping
        // the delivery alive) instead of spending the attempts that lead to a dead letter.
        if (error instanceof ConnectionError) {
          if (options.signal.aborted) return; // unacked: redelivered later
          metrics.retries.inc({ kind: options.worker, stage: "outage" });
          attempt--; // outages do not count against maxRetries
          outageWaits++;
          if (outageWaits === 1 || outageWaits % 10 === 0) {
            logger.warn("transform hit an outage; retrying", {
              waits: outageWaits,
              error: (error as Error).message,
            });
          }
          void delivery.working();
          await sleep(backoff[Math.min(outageWaits - 1, backoff.length - 1)]);
          continue;
        }
        if (attempt >= maxRetries || options.signal.aborted) {
          if (options.signal.aborted && attempt < maxRetries) return; // redelivered later
          logger.error("transform failed; dead-lettered", {
            subject: delivery.subject,
            attempts: attempt,
            error: (error as Error).message,
          });
          await delivery.deadLetter("transform");
          return;
        }
        metrics.retries.inc({ kind: options.worker, stage: "transform" });
        logger.warn("transform failed; retrying", { attempt, error: (error as Error).message });
        await sleep(backoff[Math.min(attempt - 1, backoff.length - 1)]);
      }
    }
    for (let attempt = 1;; attempt++) {
      try {
        if (outputs.length) await bus.publishBatch(outputs);
        break;
      } catch (error) {
        if (options.signal.aborted) return; // unacked: the bus redelivers it
        metrics.retries.inc({ kind: options.worker, stage: "publish" });
        logger.warn("publish failed; retrying", { attempt, error: (error as Error).message });
        await sleep(backoff[Math.min(attempt - 1, backoff.length - 1)]);
      }
    }
    await delivery.ack();
    processed.inc();
  };

  // One promise per message: wait for the key's previous message, handle, then free the slot.
  const start = (delivery: Delivery, key: string, previous: Promise<void> | undefined) => {
    // `task` is assigned before the body resumes: `await handle(…)` always yields first.
    const body = async (): Promise<void> => {
      if (previous) await previous;
      try {
        await handle(delivery);
      } catch (error) {
        logger.error("message handling failed", { error: (error as Error).message });
      } finally {
        inFlight.delete(task);
        if (tails.get(key) === task) tails.delete(key);
        slotFreed?.();
        slotFreed = undefined;
      }
    };
    const task = body();
    return task;
  };

  for await (const delivery of subscription) {
    while (inFlight.size >= maxInFlight) {
      await new Promise<void>((resolve) => slotFreed = resolve);
    }
    const key = options.keyOf?.(delivery) ?? delivery.headers[HEADER.key] ?? delivery.subject;
    const task = start(delivery, key, tails.get(key));
    tails.set(key, task);
    inFlight.add(task);
    if (options.signal.aborted) break;
  }
  await Promise.all(inFlight);
  options.signal.removeEventListener("abort", stopOnAbort);
}
