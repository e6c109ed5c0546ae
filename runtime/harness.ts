/**
 * The worker harness: every long-running `augur run <kind>` process goes through it. It
 * serves the observability endpoint, runs the worker's main loop, fires an optional
 * heartbeat, and on SIGINT/SIGTERM (or a heartbeat that says stop) drains the worker within
 * the drain timeout, then closes its resources.
 *
 * Exit codes: 0 after a clean drain; the error's exit code (1 by default) after a fatal
 * error; 1 when the drain timed out.
 *
 * @example
 * ```ts
 * import { runWorker } from "./harness.ts";
 * const code = await runWorker({
 *   kind: "demo",
 *   run: async ({ signal }) => {
 *     await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *   },
 * }, { replicaId: "r0", metrics: { enabled: false }, drainTimeoutMs: 5000 });
 * ```
 * @module
 */
import { AugurError } from "../config/errors.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import {
  type ObservabilityServer,
  Readiness,
  startObservabilityServer,
} from "../adapters/observability/http_server.ts";

/** What a worker gets while it runs. */
export interface WorkerContext {
  /** Aborted when the process must drain. Stop pulling, finish in-flight work, return. */
  readonly signal: AbortSignal;
  readonly readiness: Readiness;
  readonly registry: MetricsRegistry;
  readonly logger: Logger;
  readonly replicaId: string;
}

/** A long-running worker. `run` resolves once drained (after `signal` aborts). */
export interface Worker {
  readonly kind: string;
  run(context: WorkerContext): Promise<void>;
}

/** Options of {@linkcode runWorker}. */
export interface HarnessOptions {
  readonly replicaId: string;
  /** Observability endpoint: disabled, or bound to hostname:port (0 = free port). */
  readonly metrics: { enabled: false } | { enabled: true; hostname: string; port: number };
  /** How long a drain may take before the process gives up (exit 1). */
  readonly drainTimeoutMs: number;
  /** Closed in order after the worker returns (bus, store, lock…). */
  readonly closeables?: ReadonlyArray<{ name: string; close: () => Promise<void> }>;
  /** Optional heartbeat every `intervalMs`; resolving false stops the worker. */
  readonly heartbeat?: { intervalMs: number; beat: () => Promise<boolean> };
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  /** Signals that start a drain (default SIGINT and SIGTERM). */
  readonly signals?: readonly Deno.Signal[];
  /** External abort (tests, the engine's AUGUR_DRAIN). */
  readonly abort?: AbortSignal;
  /** Called with the bound observability server once it listens. */
  readonly onListening?: (server: ObservabilityServer) => void;
}

/** Run `worker` under the harness; resolves to the process exit code. */
export async function runWorker(worker: Worker, options: HarnessOptions): Promise<number> {
  const registry = options.registry ?? defaultRegistry;
  const logger = (options.logger ?? createLogger()).child({
    kind: worker.kind,
    replica_id: options.replicaId,
  });
  const alive = registry.gauge("augur_worker_alive", "1 while the worker process runs.", [
    "kind",
    "replica_id",
  ]);
  const readiness = new Readiness();
  const controller = new AbortController();
  const stop = (reason: string) => {
    if (!controller.signal.aborted) {
      logger.info("draining", { reason });
      controller.abort(reason);
    }
  };
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const handler = () => stop(sig);
    Deno.addSignalListener(sig, handler);
    return () => Deno.removeSignalListener(sig, handler);
  });
  options.abort?.addEventListener("abort", () => stop("external"), { once: true });
  if (options.abort?.aborted) stop("external");

  let server: ObservabilityServer | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let exitCode = 0;
  try {
    if (options.metrics.enabled) {
      server = startObservabilityServer({
        hostname: options.metrics.hostname,
        port: options.metrics.port,
        registry,
        readiness,
        logger,
      });
      options.onListening?.(server);
    }
    if (options.heartbeat) {
      const { intervalMs, beat } = options.heartbeat;
      heartbeat = setInterval(() => {
        beat().then((keep) => keep || stop("heartbeat"), (error) => {
          logger.error("heartbeat failed", { error });
          stop("heartbeat error");
        });
      }, intervalMs);
    }
    alive.set({ kind: worker.kind, replica_id: options.replicaId }, 1);
    logger.info("worker started");
    const running = worker.run({
      signal: controller.signal,
      readiness,
      registry,
      logger,
      replicaId: options.replicaId,
    });
    exitCode = await settleWithin(running, controller.signal, options.drainTimeoutMs, logger);
  } catch (error) {
    exitCode = error instanceof AugurError ? error.exitCode : 1;
    logger.error("worker failed", { error: error instanceof Error ? error.message : error });
  } finally {
    if (heartbeat !== undefined) clearInterval(heartbeat);
    alive.set({ kind: worker.kind, replica_id: options.replicaId }, 0);
    for (const { name, close } of options.closeables ?? []) {
      await close().catch((error) => logger.warn("close failed", { resource: name, error }));
    }
    await server?.close();
    handlers.forEach((remove) => remove());
  }
  logger.info("worker stopped", { exit_code: exitCode });
  return exitCode;
}

/**
 * Wait for the worker; once a drain starts it gets `drainTimeoutMs` to finish. A worker that
 * returns on its own without a drain request is a clean exit too (e.g. a finished replay).
 */
async function settleWithin(
  running: Promise<void>,
  signal: AbortSignal,
  drainTimeoutMs: number,
  logger: Logger,
): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    const arm = () => timer = setTimeout(() => resolve("timeout"), drainTimeoutMs);
    if (signal.aborted) arm();
    else signal.addEventListener("abort", arm, { once: true });
  });
  try {
    const outcome = await Promise.race([running.then(() => "done" as const), timedOut]);
    if (outcome === "timeout") {
      logger.error("drain timed out", { drain_timeout_ms: drainTimeoutMs });
      return 1;
    }
    return 0;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
