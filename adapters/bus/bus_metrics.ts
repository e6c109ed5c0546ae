/**
 * The bus metrics every backend records, with label values reduced to subject FAMILIES
 * (never concrete subjects, DESIGN §10) so cardinality stays bounded.
 *
 * Metrics:
 * - `augur_bus_published_total{topic}`
 * - `augur_bus_redelivered_total{topic,consumer_group}`
 * - `augur_bus_dead_letter_total{reason}`
 * - `augur_bus_consume_lag_seconds{topic,consumer_group}` (histogram: message age when handed
 *   to the consumer)
 * - `augur_bus_pending_messages{topic,consumer_group}` (gauge: messages not yet acked)
 * - `augur_bus_reclaimed_total{topic,consumer_group,state}` (pending messages taken over after
 *   idling past the ack wait: `state="idle"` are delivered again, `state="in_hand"` were still
 *   being processed by the reclaiming consumer and are left to it)
 * - `augur_bus_dropped_total{topic,consumer_group,reason}` (messages that can never be
 *   delivered, e.g. `reason="trimmed"`: removed from the stream before they were acked)
 *
 * @example
 * ```ts
 * import { BusMetrics } from "./bus_metrics.ts";
 * import { MetricsRegistry } from "../observability/metrics.ts";
 * const metrics = new BusMetrics({ registry: new MetricsRegistry() });
 * metrics.published("augur.snapshots.07.polymarket.m1"); // topic="snapshots"
 * metrics.consumed("augur.snapshots.07.polymarket.m1", "store", Date.now() - 5);
 * ```
 * @module
 */

import {
  type Counter,
  defaultRegistry,
  type Gauge,
  type Histogram,
  type MetricsRegistry,
} from "../observability/metrics.ts";

/** Buckets of the consume-lag histogram, in seconds (1 ms to 5 min). */
export const LAG_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
];

/**
 * The family of a subject or pattern: its second dotted token (`augur.snapshots.07.x` →
 * `snapshots`). A wildcard family (`augur.>`, `augur.*.x`) yields `"*"`; a subject with a
 * single token yields that token.
 *
 * @example
 * ```ts
 * import { subjectFamily } from "./bus_metrics.ts";
 * subjectFamily("augur.ops.dlq"); // "ops"
 * ```
 */
export function subjectFamily(subject: string): string {
  const tokens = subject.split(".");
  const family = tokens.length > 1 ? tokens[1] : tokens[0];
  return family === ">" || family === "*" || family === "" ? "*" : family;
}

/**
 * The label value of a dead-letter reason: the leading word of the reason (before `:` or a
 * space), lower-cased and capped at 40 characters, so free-text details never become labels.
 * Use reasons like `"decode: Unexpected token"`, `"max_deliver"`, `"trimmed"`.
 *
 * @example
 * ```ts
 * import { reasonLabel } from "./bus_metrics.ts";
 * reasonLabel("decode: Unexpected token } in JSON"); // "decode"
 * ```
 */
export function reasonLabel(reason: string): string {
  const head = reason.trim().split(/[:\s]/, 1)[0]?.toLowerCase() ?? "";
  const cleaned = head.replace(/[^a-z0-9_.-]/g, "_").slice(0, 40);
  return cleaned || "unknown";
}

/** Per-consumer metric handle returned by {@linkcode BusMetrics.consumer}. */
export interface ConsumerMetrics {
  /** Record one delivery: lag from `publishedAtMs` and a redelivery when `deliveryCount > 1`. */
  consumed(publishedAtMs: number, deliveryCount?: number, nowMs?: number): void;
}

/** Options of {@linkcode BusMetrics}. */
export interface BusMetricsOptions {
  /** Registry to record into (default: the process-wide registry). */
  readonly registry?: MetricsRegistry;
}

/**
 * The bus metric collectors, shared by the memory, NATS and Redis backends.
 *
 * @example
 * ```ts
 * import { BusMetrics } from "./bus_metrics.ts";
 * const metrics = new BusMetrics();
 * metrics.deadLettered("decode: bad json");
 * ```
 */
export class BusMetrics {
  readonly publishedTotal: Counter;
  readonly redeliveredTotal: Counter;
  readonly deadLetterTotal: Counter;
  readonly consumeLagSeconds: Histogram;
  readonly pendingMessages: Gauge;
  readonly reclaimedTotal: Counter;
  readonly droppedTotal: Counter;

  constructor(options: BusMetricsOptions = {}) {
    const registry = options.registry ?? defaultRegistry;
    this.publishedTotal = registry.counter(
      "augur_bus_published_total",
      "Messages persisted by the bus, by subject family.",
      ["topic"],
    );
    this.redeliveredTotal = registry.counter(
      "augur_bus_redelivered_total",
      "Deliveries beyond the first (nak, ack-wait expiry or reclaim), by subject family and group.",
      ["topic", "consumer_group"],
    );
    this.deadLetterTotal = registry.counter(
      "augur_bus_dead_letter_total",
      "Messages sent to the dead-letter subject, by reason.",
      ["reason"],
    );
    this.consumeLagSeconds = registry.histogram(
      "augur_bus_consume_lag_seconds",
      "Age of a message when it is handed to its consumer, in seconds.",
      ["topic", "consumer_group"],
      { buckets: LAG_BUCKETS },
    );
    this.pendingMessages = registry.gauge(
      "augur_bus_pending_messages",
      "Messages not yet acknowledged by a consumer group, where the server reports it.",
      ["topic", "consumer_group"],
    );
    this.reclaimedTotal = registry.counter(
      "augur_bus_reclaimed_total",
      "Pending messages taken over after idling past the ack wait, by family, group and state (idle: delivered again; in_hand: still being processed by the reclaiming consumer).",
      ["topic", "consumer_group", "state"],
    );
    this.droppedTotal = registry.counter(
      "augur_bus_dropped_total",
      "Messages that can never be delivered (removed from the stream before they were acked), by family, group and reason.",
      ["topic", "consumer_group", "reason"],
    );
  }

  readonly #publishedByFamily = new Map<string, { inc(amount?: number): void }>();

  /** Count `count` (default 1) persisted publishes on `subject`. */
  published(subject: string, count = 1): void {
    this.publishedFamily(subjectFamily(subject), count);
  }

  /** Count `count` persisted publishes on a family already known (hot path, cached handle). */
  publishedFamily(family: string, count = 1): void {
    let handle = this.#publishedByFamily.get(family);
    if (!handle) {
      handle = this.publishedTotal.bind({ topic: family });
      this.#publishedByFamily.set(family, handle);
    }
    handle.inc(count);
  }

  /**
   * A handle for one consumer of one family (hot path): `consumed(publishedAtMs,
   * deliveryCount, nowMs)` records the lag and, past the first delivery, a redelivery.
   *
   * @example
   * ```ts
   * import { BusMetrics } from "./bus_metrics.ts";
   * const onDelivery = new BusMetrics().consumer("augur.signals", "context");
   * onDelivery.consumed(Date.now() - 3, 1);
   * ```
   */
  consumer(pattern: string, group: string): ConsumerMetrics {
    const labels = { topic: subjectFamily(pattern), consumer_group: group };
    const lag = this.consumeLagSeconds.bind(labels);
    const redelivered = this.redeliveredTotal.bind(labels);
    return {
      consumed(publishedAtMs, deliveryCount = 1, nowMs = Date.now()) {
        lag.observe(nowMs > publishedAtMs ? (nowMs - publishedAtMs) / 1000 : 0);
        if (deliveryCount > 1) redelivered.inc();
      },
    };
  }

  /** Count one redelivery (delivery count > 1) of `subject` to `group`. */
  redelivered(subject: string, group: string): void {
    this.redeliveredTotal.inc({ topic: subjectFamily(subject), consumer_group: group });
  }

  /** Count one dead letter; the label is {@linkcode reasonLabel} of `reason`. */
  deadLettered(reason: string): void {
    this.deadLetterTotal.inc({ reason: reasonLabel(reason) });
  }

  /**
   * Record a delivery handed to `group`: its lag (now − publishedAtMs, clamped at 0) and,
   * when `deliveryCount > 1`, a redelivery.
   */
  consumed(
    subject: string,
    group: string,
    publishedAtMs: number,
    options: { deliveryCount?: number; nowMs?: number } = {},
  ): void {
    const topic = subjectFamily(subject);
    const nowMs = options.nowMs ?? Date.now();
    const lag = Math.max(0, nowMs - publishedAtMs) / 1000;
    this.consumeLagSeconds.observe({ topic, consumer_group: group }, lag);
    if ((options.deliveryCount ?? 1) > 1) {
      this.redeliveredTotal.inc({ topic, consumer_group: group });
    }
  }

  /**
   * Count `count` messages of `pattern`'s family reclaimed by `group` after idling past the
   * ack wait; `state` says whether they are delivered again (`idle`) or were still in the
   * reclaiming consumer's hands (`in_hand`).
   */
  reclaimed(pattern: string, group: string, state: "idle" | "in_hand", count = 1): void {
    this.reclaimedTotal.inc({ topic: subjectFamily(pattern), consumer_group: group, state }, count);
  }

  /** Count `count` messages of `pattern`'s family that `group` can never get (`reason`). */
  dropped(pattern: string, group: string, reason: string, count = 1): void {
    this.droppedTotal.inc(
      { topic: subjectFamily(pattern), consumer_group: group, reason: reasonLabel(reason) },
      count,
    );
  }

  /** Set the pending gauge of (`pattern`'s family, `group`). */
  pending(pattern: string, group: string, count: number): void {
    this.pendingMessages.set({ topic: subjectFamily(pattern), consumer_group: group }, count);
  }
}
