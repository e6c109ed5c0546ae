/**
 * The `poller` worker kind (`augur run poller --platform X`): a singleton per platform that
 * polls a market source into the bus while it holds the lease.
 *
 * @example
 * ```ts
 * import { pollerWorker } from "./poller_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = pollerWorker(request, components);
 * ```
 * @module
 */
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import type { KindRequest } from "../worker_kinds.ts";
import { runSingleton } from "../singleton.ts";
import { pollIntoBus } from "../stages/poller_stage.ts";
import { relatedMarkets, watchlistFor } from "../watchlist.ts";
import { createMarketSource } from "../../adapters/markets/source_factory.ts";
import { type LockBusConfig, lockTimings } from "../../adapters/lock/factory.ts";
import type { Platform } from "../../pipeline/models.ts";

/**
 * The `poller` worker: under the `poller.<platform>` lease, polls `request.source` (default
 * `live`) for the watchlist's markets and publishes snapshots to the bus.
 *
 * @example
 * ```ts
 * import { pollerWorker } from "./poller_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * pollerWorker({ ...request, platform: "kalshi" }, components).kind; // "poller"
 * ```
 */
export function pollerWorker(request: KindRequest, components: Components): Worker {
  const { config } = components;
  const platform = request.platform as Platform;
  const watchlist = watchlistFor(config, request.source);
  return {
    kind: "poller",
    run: async (context) => {
      let role: "passive" | "active" | undefined;
      context.readiness.register("singleton_role", () => role !== undefined);
      await runSingleton(components.lock!, async (active) => {
        const source = createMarketSource(request.source ?? "live", {
          platform,
          markets: watchlist.markets,
          polling: config.polling,
          registry: context.registry,
        });
        const result = await pollIntoBus(components.bus!, source, {
          platform,
          subjects: components.subjects,
          signal: active.signal,
          related: relatedMarkets(watchlist),
          isValid: active.isValid,
        });
        context.logger.info("source finished", { ...result, source: source.description });
      }, {
        kind: `poller.${platform}`,
        replicaId: request.replicaId,
        signal: context.signal,
        lease: lockTimings(config.bus as unknown as LockBusConfig),
        registry: context.registry,
        logger: context.logger,
        onRole: (r) => role = r,
      });
    },
  };
}
