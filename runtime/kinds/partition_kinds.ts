/**
 * Partition-ordered worker kinds (`feature`, `detector`, `manipulation`, `calibration`): each
 * wraps its pipeline stage in the partition runner over the replica's owned partitions.
 *
 * @example
 * ```ts
 * import { featureWorker } from "./partition_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = featureWorker(request, components);
 * // runWorker(worker, harnessOptions)
 * ```
 * @module
 */
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import type { KindRequest } from "../worker_kinds.ts";
import { ownedPartitions } from "../replica.ts";
import { type PartitionStage, runPartitions, storeCheckpoints } from "../partition_runner.ts";
import { featureStage } from "../stages/feature_stage.ts";
import { detectorStage } from "../stages/detector_stage.ts";
import { calibrationStage, manipulationStage } from "../stages/signal_stages.ts";
import { type LockBusConfig, lockTimings } from "../../adapters/lock/factory.ts";

/**
 * The `feature` worker: snapshots → feature vectors, seeded from stored snapshots.
 *
 * @example
 * ```ts
 * import { featureWorker } from "./partition_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * featureWorker(request, components).kind; // the feature stage's kind
 * ```
 */
export function featureWorker(request: KindRequest, components: Components): Worker {
  return partitionWorker(
    request,
    components,
    featureStage({
      subjects: components.subjects,
      features: components.config.engine.features,
      seed: async (market, before, n) => {
        const rows = await components.store!.snapshotsInRange(market, {
          start: 0,
          end: before,
        });
        return rows.slice(-n);
      },
    }),
  );
}

/**
 * The `detector` worker: feature vectors → market signals.
 *
 * @example
 * ```ts
 * import { detectorWorker } from "./partition_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = detectorWorker(request, components);
 * ```
 */
export function detectorWorker(request: KindRequest, components: Components): Worker {
  return partitionWorker(
    request,
    components,
    detectorStage({
      subjects: components.subjects,
      detectors: components.config.detectors,
    }),
  );
}

/**
 * The `manipulation` worker: screens signals for manipulation patterns.
 *
 * @example
 * ```ts
 * import { manipulationWorker } from "./partition_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = manipulationWorker(request, components);
 * ```
 */
export function manipulationWorker(request: KindRequest, components: Components): Worker {
  return partitionWorker(
    request,
    components,
    manipulationStage({
      subjects: components.subjects,
      options: components.config.engine.manipulation,
    }),
  );
}

/**
 * The `calibration` worker: attaches calibrated probabilities to signals.
 *
 * @example
 * ```ts
 * import { calibrationWorker } from "./partition_kinds.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = calibrationWorker(request, components);
 * ```
 */
export function calibrationWorker(request: KindRequest, components: Components): Worker {
  return partitionWorker(
    request,
    components,
    calibrationStage({
      subjects: components.subjects,
    }),
  );
}

/**
 * Run `stage` through the partition runner over the partitions `request.replica` owns, with
 * store-backed checkpoints and the bus lock's lease timings.
 *
 * @example
 * ```ts
 * import { partitionWorker } from "./partition_kinds.ts";
 * import type { PartitionStage } from "../partition_runner.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * declare const stage: PartitionStage;
 * partitionWorker(request, components, stage).kind === stage.kind; // true
 * ```
 */
export function partitionWorker(
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
