/**
 * Kind → worker wiring for `augur run <kind>`: which components a kind opens and the loop it
 * runs (partition-ordered runner, bridge, singleton, sink). Kinds whose stage has not landed
 * yet fail with one clear line instead of pretending to run.
 *
 * @example
 * ```ts
 * import { KIND_NEEDS } from "./worker_kinds.ts";
 * KIND_NEEDS.feature; // { bus: true, lock: true, store: true }
 * ```
 * @module
 */
import { AugurError } from "../config/errors.ts";
import type { Components } from "./components.ts";
import type { Worker } from "./harness.ts";
import { type WorkerKindName } from "./catalog.ts";
import { ownedPartitions, type ReplicaSpec } from "./replica.ts";
import { runPartitions, storeCheckpoints } from "./partition_runner.ts";
import { featureStage } from "./stages/feature_stage.ts";
import { runStoreSink } from "./stages/store_sink.ts";
import { detectorStage } from "./stages/detector_stage.ts";
import { calibrationStage, manipulationStage } from "./stages/signal_stages.ts";
import { lockTimings } from "../adapters/lock/factory.ts";
import type { LockBusConfig } from "../adapters/lock/factory.ts";
import type { PartitionStage } from "./partition_runner.ts";
import { runSingleton } from "./singleton.ts";
import { pollIntoBus } from "./stages/poller_stage.ts";
import { relatedMarkets, watchlistFor } from "./watchlist.ts";
import { createMarketSource } from "../adapters/markets/source_factory.ts";
import { runSingletonStage } from "./singleton_stage.ts";
import { dedupStage } from "./stages/dedup_stage.ts";
import { divergenceStage, hasDivergencePairs } from "./stages/divergence_stage.ts";
import { contextStage } from "./stages/context_stage.ts";
import { runBridge } from "./bridge.ts";
import { HEADER } from "../adapters/bus/types.ts";
import { websocketWorker } from "./stages/websocket_stage.ts";
import { FenceGate, fenceHeader, StoreFenceRegistry } from "./fencing.ts";
import { dualWriteTee } from "./dual_write.ts";
import type { CurveSet } from "../pipeline/calibration/curve.ts";
import { LlmBriefFormatter } from "../adapters/llm/brief_formatter.ts";
import { createLlmBackend } from "../adapters/llm/factory.ts";
import { secretAccessors } from "../config/loader.ts";
import { decode, encode, KINDS } from "../pipeline/canonical_json.ts";
import { Taxonomy } from "../pipeline/taxonomy.ts";
import { PromptLibrary } from "../pipeline/prompts.ts";
import type { Platform } from "../pipeline/models.ts";

/** What `augur run` asked for. */
export interface KindRequest {
  readonly kind: WorkerKindName;
  readonly replica: ReplicaSpec;
  readonly replicaId: string;
  readonly platform?: string;
  readonly source?: string;
  /** Reliability curves (data/calibration/curves.json), for calibration and divergence. */
  readonly curves?: CurveSet;
}

/** The components each kind opens. */
export const KIND_NEEDS: Readonly<
  Record<WorkerKindName, { bus?: boolean; lock?: boolean; store?: boolean }>
> = {
  engine: {},
  poller: { bus: true, lock: true },
  feature: { bus: true, lock: true, store: true },
  detector: { bus: true, lock: true, store: true },
  manipulation: { bus: true, lock: true, store: true },
  calibration: { bus: true, lock: true, store: true },
  divergence: { bus: true, lock: true, store: true },
  dedup: { bus: true, lock: true, store: true },
  context: { bus: true, store: true },
  llm: { bus: true, lock: true },
  store: { bus: true, store: true },
  websocket: { bus: true, store: true },
  "dual-write": { bus: true },
};

/** Raised for a kind whose stage is not wired yet. */
export class KindUnavailableError extends AugurError {
  constructor(kind: string, reason: string) {
    super(`augur run ${kind}: not available yet — ${reason}`);
    this.name = "KindUnavailableError";
  }
}

/** Build the worker of `request.kind` over opened components. */
export function buildWorker(request: KindRequest, components: Components): Worker {
  const { config } = components;
  switch (request.kind) {
    case "feature":
      return partitionWorker(
        request,
        components,
        featureStage({
          subjects: components.subjects,
          features: config.engine.features,
          seed: async (market, before, n) => {
            const rows = await components.store!.snapshotsInRange(market, {
              start: 0,
              end: before,
            });
            return rows.slice(-n);
          },
        }),
      );
    case "detector":
      return partitionWorker(
        request,
        components,
        detectorStage({
          subjects: components.subjects,
          detectors: config.detectors,
        }),
      );
    case "manipulation":
      return partitionWorker(
        request,
        components,
        manipulationStage({
          subjects: components.subjects,
          options: config.engine.manipulation,
        }),
      );
    case "calibration":
      return partitionWorker(
        request,
        components,
        calibrationStage({
          subjects: components.subjects,
        }),
      );
    case "poller":
      return pollerWorker(request, components);
    case "divergence":
    case "dedup":
      return singletonStageWorker(request, components);
    case "context":
      return contextWorker(request, components);
    case "websocket":
      return websocketWorker(components);
    case "llm":
      return llmWorker(request, components);
    case "store":
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
    default:
      throw new KindUnavailableError(
        request.kind,
        "its pipeline stage is not wired into the runtime in this build",
      );
  }
}

/** The watchlist-derived pieces the signal stages share. */
function signalContextOf(request: KindRequest, components: Components) {
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

/** The signal-side stages (divergence, dedup) for a request. */
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

function singletonStageWorker(request: KindRequest, components: Components): Worker {
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

function llmWorker(request: KindRequest, components: Components): Worker {
  const { config, subjects } = components;
  return {
    kind: "llm",
    run: async (context) => {
      let role: "passive" | "active" | undefined;
      context.readiness.register("singleton_role", () => role !== undefined);
      if (!config.llm.interpreter.enabled) {
        role = "passive";
        context.logger.info("llm.toml interpreter.enabled = false: idle (no briefs)");
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
        return;
      }
      const formatter = new LlmBriefFormatter({
        backend: createLlmBackend(config.llm, {
          apiKey: () => secretAccessors(config).anthropicApiKey(),
          logger: context.logger,
          registry: context.registry,
        }),
        forbiddenPhrases: config.forbidden_tokens.phrases,
        optedIn: config.consumers.llm_assisted.consumers,
        maxTokens: config.llm.interpreter.max_tokens,
        temperature: config.llm.interpreter.temperature,
        suspendDuringStorm: config.llm.interpreter.suspend_during_storm,
        logger: context.logger,
        registry: context.registry,
      });
      const outcome = await runSingleton(components.lock!, async (active) => {
        await runBridge(components.bus!, {
          decode: (delivery) => decode(delivery.payload, KINDS.context),
          transform: async (ctx) => {
            // In-flight briefs at failover are dropped by design (the signal aborts the call).
            const result = await formatter.format(ctx, { signal: active.signal });
            if (!("brief" in result) || !active.isValid()) return [];
            return [{
              subject: subjects.briefs("json"),
              payload: encode(result.brief, KINDS.brief),
              headers: {
                [HEADER.id]: `brief:${result.brief.signal_id}`,
                ...fenceHeader(active.token),
              },
            }];
          },
        }, {
          pattern: subjects.contexts(),
          group: "llm",
          worker: "llm",
          signal: active.signal,
          replicaId: request.replicaId,
          maxInFlight: config.dedup.bus.llm_formatter_concurrency,
          registry: context.registry,
          logger: context.logger,
        });
      }, {
        kind: "llm",
        replicaId: request.replicaId,
        signal: context.signal,
        lease: lockTimings(config.bus as unknown as LockBusConfig),
        registry: context.registry,
        logger: context.logger,
        onRole: (r) => role = r,
      });
      if (outcome === "lost") {
        throw new AugurError("llm: lease lost; exiting so the orchestrator restarts this replica");
      }
    },
  };
}

function contextWorker(request: KindRequest, components: Components): Worker {
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

function pollerWorker(request: KindRequest, components: Components): Worker {
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

function partitionWorker(
  request: KindRequest,
  components: Components,
  stage: PartitionStage,
): Worker {
  const { config } = components;
  const partitions = ownedPartitions(request.replica, config.bus.backend.partitions);
  return {
    kind: stage.kind,
    run: async (context) => {
      const owned = new Set<number>();
      context.readiness.register("bus", () => true);
      await runPartitions(
        components.bus!,
        components.lock!,
        storeCheckpoints(components.store!),
        stage,
        {
          partitions,
          replicaId: request.replicaId,
          signal: context.signal,
          lease: lockTimings(config.bus as unknown as LockBusConfig),
          checkpointIntervalMs: config.engine.runtime.checkpoint_interval_seconds * 1000,
          maxRetries: config.bus.dlq.max_retries,
          retryBackoffMs: config.bus.dlq.retry_backoff_ms,
          registry: context.registry,
          logger: context.logger,
          onOwnership: (p, isOwned) => isOwned ? owned.add(p) : owned.delete(p),
        },
      );
    },
  };
}
