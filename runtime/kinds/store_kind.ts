/**
 * The `store` worker kind (`augur run store`): the sink that batches bus traffic into the
 * store, fenced against stale singleton output, teeing commits to dual-write when enabled.
 *
 * @example
 * ```ts
 * import { storeWorker } from "./store_kind.ts";
 * import type { Components } from "../components.ts";
 * declare const components: Components;
 * const worker = storeWorker(components);
 * ```
 * @module
 */
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import { runStoreSink } from "../stages/store_sink.ts";
import { FenceGate, StoreFenceRegistry } from "../fencing.ts";
import { dualWriteTee } from "../dual_write.ts";

/**
 * The `store` worker: runs the store sink with `storage.toml [sink]` batching.
 *
 * @example
 * ```ts
 * import { storeWorker } from "./store_kind.ts";
 * import type { Components } from "../components.ts";
 * declare const components: Components;
 * storeWorker(components).kind; // "store"
 * ```
 */
export function storeWorker(components: Components): Worker {
  const { config } = components;
  return {
    kind: "store",
    run: async (context) => {
      context.readiness.register("bus", () => true);
      await runStoreSink(components.bus!, components.store!, {
        subjects: components.subjects,
        signal: context.signal,
        batchSize: config.storage.sink.batch_size,
        maxDelayMs: config.storage.sink.max_delay_ms,
        fences: new FenceGate(new StoreFenceRegistry(components.store!), {
          metrics: context.registry,
        }),
        onCommit: config.storage.dual_write.enabled
          ? dualWriteTee(components.bus!, components.subjects, {
            registry: context.registry,
            logger: context.logger,
            signal: context.signal,
          })
          : undefined,
        registry: context.registry,
        logger: context.logger,
      });
    },
  };
}
