/**
 * The worker-level metrics every runtime loop shares (DESIGN §7 names).
 *
 * @example
 * ```ts
 * import { workerMetrics } from "./worker_metrics.ts";
 * import { MetricsRegistry } from "../adapters/observability/metrics.ts";
 * const m = workerMetrics(new MetricsRegistry());
 * m.processed.inc({ kind: "feature" });
 * ```
 * @module
 */
import type { Counter, Histogram, MetricsRegistry } from "../adapters/observability/metrics.ts";

/** Worker metrics bound to one registry. */
export interface WorkerMetrics {
  /** `augur_worker_processed_total{kind}`: inputs fully handled (outputs persisted, acked). */
  readonly processed: Counter;
  /** `augur_transform_seconds{kind}`: transform duration. */
  readonly transformSeconds: Histogram;
  /** `augur_worker_retries_total{kind,stage}`: transform or publish retries. */
  readonly retries: Counter;
  /** `augur_worker_skipped_total{kind,reason}`: inputs skipped on purpose (duplicates…). */
  readonly skipped: Counter;
}

/** Get (or create) the worker metrics in `registry`. */
export function workerMetrics(registry: MetricsRegistry): WorkerMetrics {
  return {
    processed: registry.counter(
      "augur_worker_processed_total",
      "Input messages fully processed (outputs persisted, input acknowledged).",
      ["kind"],
    ),
    transformSeconds: registry.histogram(
      "augur_transform_seconds",
      "Duration of one transform.",
      ["kind"],
    ),
    retries: registry.counter(
      "augur_worker_retries_total",
      "Transform or publish attempts that failed and were retried.",
      ["kind", "stage"],
    ),
    skipped: registry.counter(
      "augur_worker_skipped_total",
      "Inputs skipped on purpose (at or below the per-key high-water mark, fenced).",
      ["kind", "reason"],
    ),
  };
}
