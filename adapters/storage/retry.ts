/**
 * Retry an idempotent store operation on {@linkcode StoreUnavailableError} with backoff.
 * Every retry is counted in `augur_db_retries_total{operation}` and logged; the last error
 * is rethrown when attempts run out. Batches are upserts on natural keys, so re-applying one
 * after an ambiguous failure (commit sent, connection lost) never duplicates rows.
 *
 * @example
 * ```ts
 * import { withRetry } from "./retry.ts";
 * import { MemoryStore } from "./memory_store.ts";
 * const store = new MemoryStore();
 * await store.initialize();
 * await withRetry(() => store.recordTicks([{ platform: "kalshi", t: 1, announced: 0 }]), {
 *   operation: "ticks",
 * });
 * ```
 * @module
 */

import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { StoreUnavailableError } from "./types.ts";

/** Options of {@linkcode withRetry}. */
export interface RetryOptions {
  /** Label for metrics and logs (e.g. "upsert_snapshots"). */
  operation: string;
  /** Total attempts including the first (default 6). */
  attempts?: number;
  /** Backoff per retry in ms; the last value repeats (default [100, 250, 500, 1000, 2000]). */
  backoffMs?: readonly number[];
  /** Metrics registry (default: the process registry). */
  registry?: MetricsRegistry;
  /** Logger (default: component "storage"). */
  logger?: Logger;
  /** Whether an error is retryable (default: it is a StoreUnavailableError). */
  retryable?: (error: unknown) => boolean;
  /** Abort waiting between attempts. */
  signal?: AbortSignal;
}

/** Run `fn`, retrying retryable failures with backoff. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 6);
  const backoff = options.backoffMs ?? [100, 250, 500, 1000, 2000];
  const retryable = options.retryable ?? ((e) => e instanceof StoreUnavailableError);
  const counter = (options.registry ?? defaultRegistry).counter(
    "augur_db_retries_total",
    "Store operations retried after a retryable failure.",
    ["operation"],
  );
  const logger = options.logger ?? createLogger({ component: "storage" });
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !retryable(error) || options.signal?.aborted) throw error;
      const delay = backoff.length ? backoff[Math.min(attempt - 1, backoff.length - 1)] : 0;
      counter.inc({ operation: options.operation });
      logger.warn("store operation failed; retrying", {
        operation: options.operation,
        attempt,
        delay_ms: delay,
        error,
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
