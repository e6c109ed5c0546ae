/**
 * The `context` worker kind (`augur run context`): a bridge from signals to signal contexts,
 * keyed per signal id since contexts need no per-market ordering.
 *
 * @example
 * ```ts
 * import { contextWorker } from "./context_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = contextWorker(request, components);
 * ```
 * @module
 */
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import type { KindRequest } from "../worker_kinds.ts";
import { runBridge } from "../bridge.ts";
import { FenceGate, StoreFenceRegistry } from "../fencing.ts";
import { contextStage } from "../stages/context_stage.ts";
import { signalContextOf } from "./signal_kinds.ts";
import { HEADER } from "../../adapters/bus/types.ts";
import { PromptLibrary } from "../../pipeline/prompts.ts";

/**
 * The `context` worker: reads signals, builds contexts from the store (fenced against stale
 * singleton output) and publishes them, with the bus DLQ retry settings.
 *
 * @example
 * ```ts
 * import { contextWorker } from "./context_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * contextWorker(request, components).kind; // "context"
 * ```
 */
export function contextWorker(request: KindRequest, components: Components): Worker {
  const { config } = components;
  const shared = signalContextOf(request, components);
  return {
    kind: "context",
    run: async (context) => {
      context.readiness.register("bus", () => true);
      await runBridge(
        components.bus!,
        contextStage({
          subjects: components.subjects,
          store: components.store!,
          taxonomy: shared.taxonomy,
          prompts: PromptLibrary.fromEntries(config.prompts),
          watchlist: shared.watchlist,
          waitTimeoutMs: config.engine.runtime.context_wait_timeout_seconds * 1000,
          fences: new FenceGate(new StoreFenceRegistry(components.store!), {
            metrics: context.registry,
          }),
          registry: context.registry,
          logger: context.logger,
        }),
        {
          pattern: components.subjects.signals(),
          group: "context",
          worker: "context",
          // Contexts are independent of each other: no per-market ordering needed.
          keyOf: (delivery) => delivery.headers[HEADER.id] ?? delivery.position,
          signal: context.signal,
          replicaId: request.replicaId,
          maxInFlight: config.bus.backend.max_in_flight,
          maxRetries: config.bus.dlq.max_retries,
          retryBackoffMs: config.bus.dlq.retry_backoff_ms,
          registry: context.registry,
          logger: context.logger,
        },
      );
    },
  };
}
