/**
 * The engine: every stage of the pipeline in one process, over the in-memory bus, with the
 * same stage code the distributed workers run (so both produce the same signals and
 * byte-identical contexts). One poller per platform, then feature → detector → manipulation
 * → calibration (one partition each, in order), divergence and dedup (singletons on an
 * in-process lock), context, and the store sink (DuckDB by default).
 *
 * Checkpoints and fences live in memory: the positions they refer to belong to this process's
 * bus. On a restart the feature stage seeds its windows from the store.
 *
 * @example
 * ```ts
 * import { runEngine } from "./engine.ts";
 * // const summary = await runEngine(config, { source: "simulator:42", once: true, signal });
 * ```
 * @module
 */
import type { AugurConfig } from "../config/loader.ts";
import { MemoryBus } from "../adapters/bus/memory_bus.ts";
import { MemoryLock, MemoryLockStore } from "../adapters/lock/memory_lock.ts";
import { type LockBusConfig, lockTimings } from "../adapters/lock/factory.ts";
import { MemoryStore } from "../adapters/storage/memory_store.ts";
import type { Store } from "../adapters/storage/types.ts";
import { createMarketSource } from "../adapters/markets/source_factory.ts";
import type { SimulatorOptions } from "../adapters/markets/simulator.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import type { Readiness } from "../adapters/observability/http_server.ts";
import type { MarketSignal, Platform, SignalContext } from "../pipeline/models.ts";
import { PromptLibrary } from "../pipeline/prompts.ts";
import { FenceGate, StoreFenceRegistry } from "./fencing.ts";
import { type CheckpointStore, runPartitions, storeCheckpoints } from "./partition_runner.ts";
import type { PartitionStage } from "./partition_runner.ts";
import { runSingletonStage, type SingletonStage } from "./singleton_stage.ts";
import { runBridge } from "./bridge.ts";
import { HEADER } from "../adapters/bus/types.ts";
import { Subjects } from "./subjects.ts";
import { featureStage } from "./stages/feature_stage.ts";
import { detectorStage } from "./stages/detector_stage.ts";
import { calibrationStage, manipulationStage } from "./stages/signal_stages.ts";
import { pollIntoBus } from "./stages/poller_stage.ts";
import { contextStage } from "./stages/context_stage.ts";
import { runStoreSink } from "./stages/store_sink.ts";
import { signalStages } from "./kinds/signal_kinds.ts";
import type { Components } from "./components.ts";
import { relatedMarkets } from "./watchlist.ts";
import type { CurveSet } from "../pipeline/calibration/curve.ts";

/** Lease time-to-live inside the engine (no other replica exists to take over). */
const ENGINE_LEASE_MS = 10 * 60_000;

/** Smallest store-sink batch in the engine (500 → 2,000: 2,660 → 3,400 snapshots/s). */
const ENGINE_SINK_BATCH = 2_000;

/** Options of {@linkcode runEngine}. */
export interface EngineOptions {
  /** `live` (default), `simulator[:seed]` or `replay:FILE`. */
  readonly source?: string;
  /** Run one polling cycle (or drain a replay / finite simulation) and return. */
  readonly once?: boolean;
  /** Simulator overrides (the demo limits ticks). */
  readonly simulator?: Omit<SimulatorOptions, "seed" | "clock">;
  /** Stops the engine: pollers stop, the pipeline drains, final checkpoints are written. */
  readonly signal: AbortSignal;
  /** The store (opened and initialized by the caller). */
  readonly store: Store;
  /** Partitions of the in-process bus (default 1: one process has nothing to spread). */
  readonly partitions?: number;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  readonly readiness?: Readiness;
  /** Called with every assembled context (printing, counting). */
  readonly onContext?: (context: SignalContext) => void;
  /** Called with every signal dedup emits. */
  readonly onSignal?: (signal: MarketSignal) => void;
  /** Called after each published tick. */
  readonly onTick?: (tick: { platform: Platform; T: number; snapshots: number }) => void;
  /** Reliability curves (default: identity calibration). */
  readonly curves?: CurveSet;
  /** Longest the pipeline may take to settle after the sources ended (default 120 s). */
  readonly settleTimeoutMs?: number;
}

/** What the engine did. */
export interface EngineSummary {
  ticks: number;
  snapshots: number;
  markets: number;
  features: number;
  signals: number;
  contexts: number;
  signalsByType: Record<string, number>;
  deadLetters: number;
  sources: string[];
}

/** Run the whole pipeline in this process until the signal aborts or (once) the sources end. */
export async function runEngine(
  config: AugurConfig,
  options: EngineOptions,
): Promise<EngineSummary> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger({ component: "engine" });
  const partitions = options.partitions ?? 1;
  const subjects = new Subjects({ prefix: config.bus.nats.subject_prefix, partitions });
  const bus = new MemoryBus({
    capacity: Math.max(config.bus.backend.capacity, 1024),
    prefix: subjects.prefix,
    maxDeliver: config.bus.dlq.max_retries,
    registry,
    logger,
  });
  await bus.connect();
  const lockStore = new MemoryLockStore();
  const lock = new MemoryLock({ store: lockStore });
  const volatileState = new MemoryStore(); // checkpoints + fences: meaningful to this bus only
  await volatileState.initialize();
  const checkpoints: CheckpointStore = storeCheckpoints(volatileState);
  const store = options.store;
  const components = { config, subjects } as unknown as Components;
  const request = {
    kind: "engine" as const,
    replica: { index: 0, count: 1 },
    replicaId: "engine",
    source: options.source,
    curves: options.curves,
  };
  const shared = signalStages(request, components);
  const summary: EngineSummary = {
    ticks: 0,
    snapshots: 0,
    markets: 0,
    features: 0,
    signals: 0,
    contexts: 0,
    signalsByType: {},
    deadLetters: 0,
    sources: [],
  };
  const markets = new Set<string>();
  const dlq = bus.read(subjects.opsDlq(), { from: { kind: "first" } });
  const dlqDone = (async () => {
    for await (const d of dlq) {
      summary.deadLetters++;
      logger.warn("dead letter", {
        reason: d.headers["Augur-Reason"],
        subject: d.headers["Augur-Source-Subject"],
      });
    }
  })();

  // Stages stop when `stages` aborts: after the sources ended and the pipeline settled, or on
  // the caller's signal (then the pollers stop first and the rest drains).
  const stages = new AbortController();
  const pollers = new AbortController();
  const onAbort = () => pollers.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  // One process holds every lease and nothing could take one over: a long event-loop stall
  // (a tick of 10,000 markets) must not let them lapse and restart stages mid-stream.
  const lease = {
    ...lockTimings(config.bus as unknown as LockBusConfig),
    ttlMs: ENGINE_LEASE_MS,
    renewIntervalMs: ENGINE_LEASE_MS / 4,
  };
  const runnerOptions = {
    partitions: [...Array(partitions).keys()],
    replicaId: "engine",
    signal: stages.signal,
    lease,
    checkpointIntervalMs: config.engine.runtime.checkpoint_interval_seconds * 1000,
    maxRetries: config.bus.dlq.max_retries,
    retryBackoffMs: config.bus.dlq.retry_backoff_ms,
    registry,
    logger,
  };
  // Checkpoints written while draining go to the volatile store, which closes right after.
  const draining = stages.signal;
  const partitionStages: PartitionStage[] = [
    featureStage({
      subjects,
      features: config.engine.features,
      seed: (market, before, n) => store.latestSnapshots(market, n, { asOf: before - 1 }),
      seedAll: (before, n) => store.latestSnapshotsOfAll(n, { asOf: before - 1 }),
      // These checkpoints live in memory, so a restart seeds from the store anyway; a
      // partition restarted in process does the same instead of restoring its windows.
      checkpointWindows: false,
    }),
    detectorStage({ subjects, detectors: config.detectors }),
    manipulationStage({ subjects, options: config.engine.manipulation }),
    calibrationStage({ subjects, curves: options.curves }),
  ].map((stage) => drainlessPartition(stage, draining));
  const fences = new FenceGate(new StoreFenceRegistry(volatileState), { metrics: registry });
  const tasks: Promise<unknown>[] = [
    ...partitionStages.map((stage) =>
      runPartitions(bus, lock, checkpoints, stage, {
        ...runnerOptions,
        logger: logger.child({ stage: stage.kind }),
      })
    ),
    runSingletonStage(bus, lock, volatileState, drainlessSingleton(shared.divergence, draining), {
      replicaId: "engine",
      signal: stages.signal,
      lease,
      registry,
      logger,
    }),
    runSingletonStage(bus, lock, volatileState, {
      ...shared.dedup,
      open: async (state) => {
        const processor = await shared.dedup.open(state);
        return {
          process: (input, delivery) => {
            const out = processor.process(input, delivery);
            for (const message of out) {
              if (message.subject !== subjects.signals()) continue;
              const type = new TextDecoder().decode(message.payload).match(
                /"signal_type":"([a-z_]+)"/,
              )?.[1] ?? "unknown";
              summary.signals++;
              summary.signalsByType[type] = (summary.signalsByType[type] ?? 0) + 1;
            }
            return out;
          },
          checkpoint: () => draining.aborted ? NO_STATE : processor.checkpoint(),
        };
      },
    }, { replicaId: "engine", signal: stages.signal, lease, registry, logger }),
    runBridge(
      bus,
      contextStage({
        subjects,
        store,
        taxonomy: shared.taxonomy,
        prompts: PromptLibrary.fromEntries(config.prompts),
        watchlist: shared.watchlist,
        waitTimeoutMs: config.engine.runtime.context_wait_timeout_seconds * 1000,
        fences,
        registry,
        logger,
        onContext: (context) => {
          summary.contexts++;
          options.onContext?.(context);
        },
      }),
      {
        pattern: subjects.signals(),
        group: "context",
        worker: "context",
        // Contexts are independent of each other: no per-market ordering needed.
        keyOf: (delivery) => delivery.headers[HEADER.id] ?? delivery.position,
        signal: stages.signal,
        maxInFlight: config.bus.backend.max_in_flight,
        maxRetries: config.bus.dlq.max_retries,
        retryBackoffMs: config.bus.dlq.retry_backoff_ms,
        registry,
        logger,
      },
    ),
    runStoreSink(bus, store, {
      subjects,
      signal: stages.signal,
      // An embedded store's commit cost is mostly per statement (staging, merge): one
      // process writes fewer, bigger commits (the delay bound still holds).
      batchSize: Math.max(config.storage.sink.batch_size, ENGINE_SINK_BATCH),
      maxDelayMs: config.storage.sink.max_delay_ms,
      fences,
      registry,
      logger,
    }),
  ];
  options.readiness?.register("bus", () => !stages.signal.aborted);

  // Features are counted from the bus (the sink stores them; the summary needs the number).
  const featureTap = bus.subscribe(subjects.familyPattern("features"), "engine-summary");
  const featureCount = (async () => {
    for await (const d of featureTap) {
      if (d.headers["Augur-Tick"] === undefined) summary.features++;
      await d.ack();
    }
  })();

  const platforms = shared.platforms as Platform[];
  const related = relatedMarkets(shared.watchlist);
  const sources = platforms.map((platform) => {
    const source = createMarketSource(options.source ?? "live", {
      platform,
      markets: shared.watchlist.markets,
      polling: config.polling,
      simulator: options.simulator,
      once: options.once,
      registry,
    });
    summary.sources.push(`${platform}:${source.description}`);
    return pollIntoBus(bus, source, {
      platform,
      subjects,
      signal: pollers.signal,
      related,
      onTick: (tick) => {
        summary.ticks++;
        summary.snapshots += tick.messages.length;
        for (const m of tick.messages) markets.add(m.snapshot.market_id);
        options.onTick?.({ platform: tick.platform, T: tick.T, snapshots: tick.messages.length });
      },
    });
  });
  try {
    await Promise.all(sources);
    await settle(bus, subjects, registry, options.settleTimeoutMs ?? 120_000);
  } finally {
    stages.abort();
    await Promise.allSettled(tasks);
    await featureTap.stop();
    await featureCount.catch(() => {});
    await dlq.stop();
    await dlqDone.catch(() => {});
    options.signal.removeEventListener("abort", onAbort);
    await bus.close();
    await lock.close();
    await volatileState.close();
  }
  summary.markets = markets.size;
  return summary;
}

/** What a checkpoint holds when nobody will read it. */
const NO_STATE = new Uint8Array(0);

/**
 * The stage, except that checkpoints taken once `draining` aborted are empty. The engine's
 * checkpoints live in its volatile store, which closes right after the drain, so nothing ever
 * reads those; building them would be the run's last peak (the detector state of 10,000
 * markets: ~30 MB of JSON, ~100 MB of RSS while it is built).
 */
function drainlessPartition(stage: PartitionStage, draining: AbortSignal): PartitionStage {
  return {
    kind: stage.kind,
    inputSubject: (partition) => stage.inputSubject(partition),
    open: async (partition, state) => {
      const processor = await stage.open(partition, state);
      return {
        process: (delivery) => processor.process(delivery),
        checkpoint: () => draining.aborted ? NO_STATE : processor.checkpoint(),
      };
    },
  };
}

/** {@linkcode drainlessPartition} for a singleton stage. */
function drainlessSingleton(
  stage: SingletonStage,
  draining: AbortSignal,
): SingletonStage {
  return {
    kind: stage.kind,
    inputs: stage.inputs,
    outputs: stage.outputs,
    open: async (state) => {
      const processor = await stage.open(state);
      return {
        process: (input, delivery) => processor.process(input, delivery),
        checkpoint: () => draining.aborted ? NO_STATE : processor.checkpoint(),
      };
    },
  };
}

/**
 * Wait until the pipeline is idle: nothing pending for the durable consumers and no bus
 * activity (publishes, processed inputs) across several consecutive looks.
 */
async function settle(
  bus: MemoryBus,
  subjects: Subjects,
  registry: MetricsRegistry,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const activity = () => {
    const text = registry.expose();
    let total = 0;
    for (const line of text.split("\n")) {
      if (
        line.startsWith("augur_bus_published_total") ||
        line.startsWith("augur_worker_processed_total")
      ) total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  };
  let last = -1;
  let quiet = 0;
  while (Date.now() < deadline && quiet < 4) {
    const pending = (await bus.pending(subjects.signals(), "context") ?? 0) +
      (await bus.pending(subjects.familyPattern("snapshots"), "store") ?? 0) +
      (await bus.pending(subjects.contexts(), "store") ?? 0) +
      (await bus.pending(subjects.signals(), "store") ?? 0);
    const now = activity();
    quiet = pending === 0 && now === last ? quiet + 1 : 0;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
