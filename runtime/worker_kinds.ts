/**
 * Kind → worker wiring for `augur run <kind>`: which components a kind opens and which
 * factory builds its loop. The factories live in runtime/kinds/ (partition-ordered runner,
 * bridge, singleton, sink). Kinds whose stage has not landed yet fail with one clear line
 * instead of pretending to run.
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
import type { ReplicaSpec } from "./replica.ts";
import type { CurveSet } from "../pipeline/calibration/curve.ts";
import { websocketWorker } from "./stages/websocket_stage.ts";
import {
  calibrationWorker,
  detectorWorker,
  featureWorker,
  manipulationWorker,
} from "./kinds/partition_kinds.ts";
import { pollerWorker } from "./kinds/poller_kind.ts";
import { singletonStageWorker } from "./kinds/signal_kinds.ts";
import { contextWorker } from "./kinds/context_kind.ts";
import { llmWorker } from "./kinds/llm_kind.ts";
import { storeWorker } from "./kinds/store_kind.ts";

/**
 * What `augur run` asked for.
 *
 * @example
 * ```ts
 * import type { KindRequest } from "./worker_kinds.ts";
 * import type { ReplicaSpec } from "./replica.ts";
 * declare const replica: ReplicaSpec;
 * const request: KindRequest = { kind: "feature", replica, replicaId: "feature-0" };
 * ```
 */
export interface KindRequest {
  readonly kind: WorkerKindName;
  readonly replica: ReplicaSpec;
  readonly replicaId: string;
  readonly platform?: string;
  readonly source?: string;
  /** Reliability curves (data/calibration/curves.json), for calibration and divergence. */
  readonly curves?: CurveSet;
}

/**
 * The components each kind opens.
 *
 * @example
 * ```ts
 * import { KIND_NEEDS } from "./worker_kinds.ts";
 * KIND_NEEDS.llm; // { bus: true, lock: true }
 * ```
 */
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

/**
 * Raised for a kind whose stage is not wired yet.
 *
 * @example
 * ```ts
 * import { KindUnavailableError } from "./worker_kinds.ts";
 * new KindUnavailableError("engine", "not wired").message;
 * // "augur run engine: not available yet — not wired"
 * ```
 */
export class KindUnavailableError extends AugurError {
  constructor(kind: string, reason: string) {
    super(`augur run ${kind}: not available yet — ${reason}`);
    this.name = "KindUnavailableError";
  }
}

/**
 * Build the worker of `request.kind` over opened components.
 *
 * @example
 * ```ts
 * import { buildWorker, type KindRequest } from "./worker_kinds.ts";
 * import type { Components } from "./components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = buildWorker(request, components);
 * // runWorker(worker, harnessOptions)
 * ```
 */
export function buildWorker(request: KindRequest, components: Components): Worker {
  switch (request.kind) {
    case "feature":
      return featureWorker(request, components);
    case "detector":
      return detectorWorker(request, components);
    case "manipulation":
      return manipulationWorker(request, components);
    case "calibration":
      return calibrationWorker(request, components);
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
      return storeWorker(components);
    default:
      throw new KindUnavailableError(
        request.kind,
        "its pipeline stage is not wired into the runtime in this build",
      );
  }
}
