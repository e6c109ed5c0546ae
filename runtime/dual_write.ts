/**
 * Dual-write (DESIGN §3, §6): while a deployment moves from DuckDB to TimescaleDB, the store
 * sink tees every committed batch to `augur.writes.<table>` ({@linkcode dualWriteTee}), and
 * the `augur dual-write` sidecar ({@linkcode dualWriteWorker}) mirrors those rows into
 * PostgreSQL with the store's idempotent upserts. The sidecar never touches the primary
 * store; it consumes a shared durable (`dual-write`), so a restart resumes where it stopped
 * and a redelivered message is re-applied harmlessly.
 *
 * Wire format: one message per (table, commit chunk) whose payload is the lossless canonical
 * JSON array of the rows (pipeline/canonical_json.ts `encode` with the table's kind), with
 * `Augur-Id: write:<table>:<content hash>` and `Augur-Committed-At: <epoch ms>`.
 *
 * Metrics: `augur_dual_write_lag_seconds{table}` (commit → applied, of the last applied
 * message), `augur_dual_write_lag_alerts_total{table}` (each time the lag rises above
 * `storage.dual_write.lag_alert_seconds`), `augur_dual_write_rows_total{table}`,
 * `augur_dual_write_published_total{table}` and `augur_dual_write_retries_total{stage}`.
 *
 * @example
 * ```ts
 * import { dualWriteTee } from "./dual_write.ts";
 * import { MemoryBus } from "../adapters/bus/memory_bus.ts";
 * import { Subjects } from "./subjects.ts";
 * const bus = new MemoryBus();
 * await bus.connect();
 * const onCommit = dualWriteTee(bus, new Subjects());
 * await onCommit({ snapshots: [], trades: [], features: [], signals: [], contexts: [], ticks: [] });
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { type EventBus, HEADER, type OutgoingMessage } from "../adapters/bus/types.ts";
import type { Store, TradeRecord } from "../adapters/storage/types.ts";
import { StoreUnavailableError } from "../adapters/storage/types.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import {
  decode,
  defineKind,
  encode,
  type Kind,
  KINDS,
  type Layout,
} from "../pipeline/canonical_json.ts";
import { PlatformSchema, RawTradeSchema } from "../pipeline/models.ts";
import type { Subjects } from "./subjects.ts";
import type { SinkBatch } from "./stages/store_sink.ts";
import type { Worker } from "./harness.ts";
import { runBridge } from "./bridge.ts";
import { abortableSleep } from "./sleep.ts";

/** Tables mirrored by dual-write, in the order a batch is published (parents first). */
export const DUAL_WRITE_TABLES = [
  "snapshots",
  "trades",
  "features",
  "signals",
  "contexts",
  "ticks",
] as const;

/** A mirrored table. */
export type DualWriteTable = typeof DUAL_WRITE_TABLES[number];

/** Header with the primary-store commit time (epoch ms). */
export const COMMITTED_AT_HEADER = "Augur-Committed-At";

const tradeLayout = KINDS.trade.layout as { object: Record<string, Layout> };

/** Kinds of the `writes.<table>` payloads (arrays of the table's records). */
export const WRITE_KINDS = {
  snapshots: defineKind(
    "writes.snapshots",
    { array: KINDS.snapshot.layout },
    z.array(KINDS.snapshot.schema),
  ),
  trades: defineKind(
    "writes.trades",
    { array: { object: { ...tradeLayout.object, trade_id: { nullable: "string" } } } },
    z.array(RawTradeSchema.extend({ trade_id: z.string().nullable() })),
  ),
  features: defineKind(
    "writes.features",
    { array: KINDS.features.layout },
    z.array(KINDS.features.schema),
  ),
  signals: defineKind(
    "writes.signals",
    { array: KINDS.signal.layout },
    z.array(KINDS.signal.schema),
  ),
  contexts: defineKind(
    "writes.contexts",
    { array: KINDS.context.layout },
    z.array(KINDS.context.schema),
  ),
  ticks: defineKind(
    "writes.ticks",
    { array: { object: { platform: "string", t: "time", announced: "int" } } },
    z.array(
      z.strictObject({ platform: PlatformSchema, t: z.int(), announced: z.int().nonnegative() }),
    ),
  ),
} as const;

/** A decoded `writes.<table>` message. */
export type WriteMessage =
  | { table: "snapshots"; rows: SinkBatch["snapshots"] }
  | { table: "trades"; rows: TradeRecord[] }
  | { table: "features"; rows: SinkBatch["features"] }
  | { table: "signals"; rows: SinkBatch["signals"] }
  | { table: "contexts"; rows: SinkBatch["contexts"] }
  | { table: "ticks"; rows: SinkBatch["ticks"] };

/** Options of {@linkcode dualWriteTee}. */
export interface DualWriteTeeOptions {
  /** Rows per message (default 500). */
  chunkRows?: number;
  /** Stop retrying a failed publish when aborted (the error is then thrown). */
  signal?: AbortSignal;
  /** Wall clock in ms (default Date.now). */
  clock?: () => number;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/**
 * Build the store sink's `onCommit` hook: publish every committed row to
 * `writes.<table>`. Resolves once the bus persisted every message; a failed publish is
 * retried with backoff (counted and logged) until it works or `signal` aborts, so the
 * mirror never silently misses a committed write.
 */
export function dualWriteTee(
  bus: EventBus,
  subjects: Subjects,
  options: DualWriteTeeOptions = {},
): (batch: SinkBatch) => Promise<void> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger({ component: "dual-write-tee" });
  const chunkRows = Math.max(1, options.chunkRows ?? 500);
  const clock = options.clock ?? Date.now;
  const published = registry.counter(
    "augur_dual_write_published_total",
    "Rows the store sink teed to writes.<table> for the dual-write sidecar.",
    ["table"],
  );
  const retries = retryCounter(registry);
  return async (batch: SinkBatch): Promise<void> => {
    const committedAt = String(clock());
    const messages: OutgoingMessage[] = [];
    const counts: [DualWriteTable, number][] = [];
    for (const table of DUAL_WRITE_TABLES) {
      const rows = batch[table] as unknown[];
      for (let i = 0; i < rows.length; i += chunkRows) {
        const part = rows.slice(i, i + chunkRows);
        const payload = encode(part as never, WRITE_KINDS[table] as Kind<unknown[]>);
        const hash = createHash("sha256").update(payload).digest("hex").slice(0, 32);
        messages.push({
          subject: subjects.writes(table),
          payload,
          headers: { [HEADER.id]: `write:${table}:${hash}`, [COMMITTED_AT_HEADER]: committedAt },
        });
        counts.push([table, part.length]);
      }
    }
    if (messages.length === 0) return;
    for (let attempt = 1;; attempt++) {
      try {
        await bus.publishBatch(messages);
        break;
      } catch (error) {
        if (options.signal?.aborted) throw error;
        retries.inc({ stage: "publish" });
        logger.warn("dual-write tee publish failed; retrying", {
          attempt,
          error: (error as Error).message,
        });
        await abortableSleep(
          Math.min(100 * 2 ** (attempt - 1), 5000),
          options.signal ?? new AbortController().signal,
        );
      }
    }
    for (const [table, n] of counts) published.inc({ table }, n);
  };
}

function retryCounter(registry: MetricsRegistry) {
  return registry.counter(
    "augur_dual_write_retries_total",
    "Dual-write operations retried after a failure (publish by the tee, apply by the sidecar).",
    ["stage"],
  );
}

/**
 * Decode a `writes.<table>` message (table from the subject; payload validated).
 *
 * @example
 * ```ts
 * import { decodeWrite } from "./dual_write.ts";
 * import { Subjects } from "./subjects.ts";
 * decodeWrite(new Subjects(), "augur.writes.snapshots", new TextEncoder().encode("[]"));
 * // { table: "snapshots", rows: [] }
 * ```
 */
export function decodeWrite(
  subjects: Subjects,
  subject: string,
  payload: Uint8Array,
): WriteMessage {
  const prefix = `${subjects.prefix}.writes.`;
  const table = subject.startsWith(prefix) ? subject.slice(prefix.length) : "";
  if (!(DUAL_WRITE_TABLES as readonly string[]).includes(table)) {
    throw new TypeError(
      `writes subject: expected ${prefix}<${DUAL_WRITE_TABLES.join("|")}>, received ${
        JSON.stringify(subject)
      }`,
    );
  }
  const kind = WRITE_KINDS[table as DualWriteTable] as Kind<unknown[]>;
  return { table, rows: decode(payload, kind) } as WriteMessage;
}

/** Apply one decoded message to the target with the store's idempotent upserts. */
export async function applyWrite(target: Store, message: WriteMessage): Promise<void> {
  switch (message.table) {
    case "snapshots":
      return await target.upsertSnapshots(message.rows);
    case "trades":
      return await target.upsertTrades(message.rows);
    case "features":
      return await target.upsertFeatures(message.rows);
    case "signals":
      return await target.upsertSignals(message.rows);
    case "contexts":
      return await target.upsertContexts(message.rows);
    case "ticks":
      return await target.recordTicks(message.rows);
  }
}

/** Options of {@linkcode dualWriteWorker}. */
export interface DualWriteWorkerOptions {
  subjects: Subjects;
  /** `storage.dual_write.lag_alert_seconds`. */
  lagAlertSeconds: number;
  /** Durable / consumer group (default `dual-write`). */
  group?: string;
  /** Messages applied concurrently (distinct tables; default 8). */
  maxInFlight?: number;
  /** Wall clock in ms (default Date.now). */
  clock?: () => number;
}

/**
 * The `augur dual-write` worker: consume `augur.writes.>` on a shared durable and apply each
 * message to `target` (PostgreSQL). Lost connections are retried in place until the drain
 * starts (the message then stays unacked and is redelivered); other failures go through the
 * bridge's retries and dead-letter. Idle (blocked on the bus) when nothing arrives.
 */
export function dualWriteWorker(
  bus: EventBus,
  target: Store,
  options: DualWriteWorkerOptions,
): Worker {
  return {
    kind: "dual-write",
    run: async (context) => {
      const { registry, logger, signal } = context;
      const clock = options.clock ?? Date.now;
      const lag = registry.gauge(
        "augur_dual_write_lag_seconds",
        "Seconds between a write's commit to the primary store and its application to TimescaleDB (last applied message).",
        ["table"],
      );
      const alerts = registry.counter(
        "augur_dual_write_lag_alerts_total",
        "Times the dual-write lag rose above storage.dual_write.lag_alert_seconds.",
        ["table"],
      );
      const rows = registry.counter(
        "augur_dual_write_rows_total",
        "Rows the dual-write sidecar applied to TimescaleDB.",
        ["table"],
      );
      const retries = retryCounter(registry);
      const alerting = new Set<string>();
      for (const table of DUAL_WRITE_TABLES) {
        lag.set({ table }, 0);
        alerts.inc({ table }, 0);
        rows.inc({ table }, 0);
      }
      context.readiness.register("bus", () => true);
      await runBridge<WriteMessage>(bus, {
        decode: (delivery) => decodeWrite(options.subjects, delivery.subject, delivery.payload),
        transform: async (message, delivery) => {
          for (let attempt = 1;; attempt++) {
            try {
              await applyWrite(target, message);
              break;
            } catch (error) {
              if (!(error instanceof StoreUnavailableError) || signal.aborted) throw error;
              retries.inc({ stage: "apply" });
              logger.warn("dual-write apply failed (PostgreSQL unavailable); retrying", {
                table: message.table,
                attempt,
                error: error.message,
              });
              await abortableSleep(Math.min(100 * 2 ** (attempt - 1), 5000), signal);
            }
          }
          const committed = Number(delivery.headers[COMMITTED_AT_HEADER]);
          const at = Number.isFinite(committed) && committed > 0
            ? committed
            : delivery.publishedAtMs;
          const seconds = Math.max(0, (clock() - at) / 1000);
          lag.set({ table: message.table }, seconds);
          rows.inc({ table: message.table }, message.rows.length);
          if (seconds > options.lagAlertSeconds) {
            if (!alerting.has(message.table)) {
              alerting.add(message.table);
              alerts.inc({ table: message.table });
              logger.warn("dual-write lag above the alert threshold", {
                table: message.table,
                lag_seconds: Number(seconds.toFixed(3)),
                lag_alert_seconds: options.lagAlertSeconds,
              });
            }
          } else alerting.delete(message.table);
          return [];
        },
      }, {
        pattern: options.subjects.familyPattern("writes"),
        group: options.group ?? "dual-write",
        worker: "dual-write",
        signal,
        replicaId: context.replicaId,
        maxInFlight: options.maxInFlight ?? 8,
        registry,
        logger,
      });
    },
  };
}
