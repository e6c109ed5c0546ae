/**
 * The signal-side singleton kinds (`divergence`, `dedup`) and the watchlist-derived pieces
 * they (and `context`, and the in-process engine) share.
 *
 * @example
 * ```ts
 * import { signalStages } from "./signal_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const { dedup, divergence, platforms } = signalStages(request, components);
 * ```
 * @module
 */
import { AugurError } from "../../config/errors.ts";
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import type { KindRequest } from "../worker_kinds.ts";
import { runSingletonStage } from "../singleton_stage.ts";
import { watchlistFor } from "../watchlist.ts";
import { dedupStage } from "../stages/dedup_stage.ts";
import { divergenceStage, hasDivergencePairs } from "../stages/divergence_stage.ts";
import { type LockBusConfig, lockTimings } from "../../adapters/lock/factory.ts";
import { Taxonomy } from "../../pipeline/taxonomy.ts";

/**
 * The watchlist-derived pieces the signal stages share: the watchlist, its sorted platforms,
 * its taxonomy, and whether any relationship yields divergence pairs.
 *
 * @example
 * ```ts
 * import { signalContextOf } from "./signal_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const { watchlist, taxonomy } = signalContextOf(request, components);
 * ```
 */
export function signalContextOf(request: KindRequest, components: Components) {
  const { config } = components;
  const watchlist = watchlistFor(config, request.source);
  const platforms = [...new Set(watchlist.markets.map((m) => m.platform))].sort();
  return {
    watchlist,
    platforms,
    taxonomy: new Taxonomy(watchlist.relationships),
    divergence: hasDivergencePairs(watchlist.relationships, config.detectors.cross_market),
  };
}

/**
 * The signal-side stages (divergence, dedup) for a request, plus the shared watchlist pieces.
 *
 * @example
 * ```ts
 * import { signalStages } from "./signal_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const stages = signalStages(request, components);
 * stages.dedup; // the dedup singleton stage
 * ```
 */
export function signalStages(request: KindRequest, components: Components) {
  const { config, subjects } = components;
  const shared = signalContextOf(request, components);
  return {
    ...shared,
    divergence: divergenceStage({
      subjects,
      crossMarket: config.detectors.cross_market,
      relationships: shared.watchlist.relationships,
      platforms: shared.platforms,
      manipulation: config.engine.manipulation,
      curves: request.curves,
    }),
    dedup: dedupStage({
      subjects,
      taxonomy: shared.taxonomy,
      dedup: config.dedup,
      windowSeconds: config.engine.runtime.dedup_window_seconds,
      platforms: shared.platforms,
      divergence: shared.divergence,
    }),
  };
}

/**
 * The `dedup` or `divergence` worker (by `request.kind`): runs its stage as a leased
 * singleton; a lost lease ends the worker with an error so the orchestrator restarts it.
 *
 * @example
 * ```ts
 * import { singletonStageWorker } from "./signal_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * singletonStageWorker({ ...request, kind: "dedup" }, components).kind; // "dedup"
 * ```
 */
export function singletonStageWorker(request: KindRequest, components: Components): Worker {
  const { config } = components;
  const stages = signalStages(request, components);
  const stage = request.kind === "dedup" ? stages.dedup : stages.divergence;
  return {
    kind: request.kind,
    run: async (context) => {
      let role: "passive" | "active" | undefined;
      context.readiness.register("singleton_role", () => role !== undefined);
      const outcome = await runSingletonStage(
        components.bus!,
        components.lock!,
        components.store!,
        stage,
        {
          replicaId: request.replicaId,
          signal: context.signal,
          lease: lockTimings(config.bus as unknown as LockBusConfig),
          checkpointIntervalMs: config.engine.runtime.checkpoint_interval_seconds * 1000,
          registry: context.registry,
          logger: context.logger,
          onRole: (r) => role = r,
        },
      );
      if (outcome === "lost") {
        throw new AugurError(
          `${request.kind}: lease lost; exiting so the orchestrator restarts this replica`,
        );
      }
    },
  };
}
