/**
 * The partition-ordered loop of DESIGN §10, used by feature, detector, manipulation,
 * calibration (and, reading every partition, dedup):
 *
 * 1. For each owned partition p, hold the lease `part.<kind>.<pp>` (DistributedLock) before
 *    reading it; passive contenders retry every `waitTickMs`.
 * 2. Restore = the latest checkpoint (position + state) written by a lease holder, then a
 *    private ordered reader from that position. No checkpoint → the stage seeds itself.
 * 3. Process in order; outputs are published in order in batches; the position advances only
 *    once the outputs of every message up to it are persisted (PubAck / XADD reply).
 * 4. Checkpoint (kind, partition, position, state, token) every `checkpointIntervalMs` and on
 *    drain, after a barrier that waits for in-flight publishes. A stale token is ignored by
 *    the store.
 * 5. On losing the lease the partition stops at the local deadline and re-enters acquire; the
 *    process does not exit. On drain: flush, final checkpoint, release.
 *
 * @example
 * ```ts
 * import { runPartitions } from "./partition_runner.ts";
 * // await runPartitions(bus, lock, checkpoints, stage, { partitions: [0, 4], … });
 * ```
 * @module
 */
import type { Delivery, EventBus, OutgoingMessage } from "../adapters/bus/types.ts";
import type { DistributedLock, Lease } from "../adapters/lock/types.ts";
import { LeaseKeeper } from "../adapters/lock/lease_keeper.ts";
import { abortableSleep } from "./sleep.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import { workerMetrics } from "./worker_metrics.ts";
import { materializePayloads } from "./message_codec.ts";
import type { Store } from "../adapters/storage/types.ts";

/** A stored checkpoint of one partition. */
export interface Checkpoint {
  readonly position: string;
  readonly state: Uint8Array;
  readonly token: number;
}

/** Where checkpoints live (the Store's worker_state table in production). */
export interface CheckpointStore {
  load(kind: string, partition: number): Promise<Checkpoint | null>;
  /** Save unless a checkpoint with a newer token is stored. */
  save(kind: string, partition: number, checkpoint: Checkpoint): Promise<void>;
}

/** Checkpoints kept in the Store's `worker_state` table (key ""). */
export function storeCheckpoints(store: Pick<Store, "saveState" | "loadState">): CheckpointStore {
  return {
    load: async (kind, partition) => {
      const entry = await store.loadState(kind, partition);
      return entry ? { position: entry.position, state: entry.state, token: entry.token } : null;
    },
    save: async (kind, partition, checkpoint) => {
      await store.saveState({ kind, partition, key: "", ...checkpoint });
    },
  };
}

/** Per-partition processing state built by the stage. */
export interface PartitionProcessor {
  /**
   * Handle one input in order; return the outputs to publish after those of earlier inputs.
   * Throw a {@linkcode PoisonError} for an input that can never be processed (dead letter).
   */
  process(delivery: Delivery): OutgoingMessage[] | Promise<OutgoingMessage[]>;
  /** Serialize the state for a checkpoint. */
  checkpoint(): Uint8Array;
}

/** A partition-ordered stage. */
export interface PartitionStage {
  readonly kind: string;
  /** The input subject filter of partition p (e.g. `augur.snapshots.07.>`). */
  inputSubject(partition: number): string;
  /** Build the processor of partition p from its checkpointed state (null = none). */
  open(partition: number, state: Uint8Array | null): Promise<PartitionProcessor>;
}

/** Thrown by a processor for an input that must be dead-lettered (undecodable, invalid). */
export class PoisonError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoisonError";
  }
}

/** Options of {@linkcode runPartitions}. */
export interface PartitionRunnerOptions {
  /** Partitions this replica owns. */
  readonly partitions: readonly number[];
  readonly replicaId: string;
  readonly signal: AbortSignal;
  readonly lease: {
    readonly ttlMs: number;
    readonly renewIntervalMs: number;
    readonly marginMs: number;
    readonly waitTickMs: number;
  };
  /** Default 60 000 ms (DESIGN §10). */
  readonly checkpointIntervalMs?: number;
  /** Outputs published per batch (default 256). */
  readonly publishBatch?: number;
  /** Longest an output waits before its batch is flushed (default 5 ms). */
  readonly maxDelayMs?: number;
  /** Transform attempts before dead-lettering (default 5). */
  readonly maxRetries?: number;
  readonly retryBackoffMs?: readonly number[];
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  /** Called whenever a partition's lease is won or lost (readiness, tests). */
  readonly onOwnership?: (partition: number, owned: boolean) => void;
}

/** Run every owned partition until the signal aborts; resolves after the final checkpoints. */
export async function runPartitions(
  bus: EventBus,
  lock: DistributedLock,
  checkpoints: CheckpointStore,
  stage: PartitionStage,
  options: PartitionRunnerOptions,
): Promise<void> {
  const logger = (options.logger ?? createLogger()).child({ kind: stage.kind });
  await Promise.all(
    options.partitions.map((partition) =>
      partitionLoop(bus, lock, checkpoints, stage, partition, { ...options, logger })
    ),
  );
}

function pad(partition: number): string {
  return String(partition).padStart(2, "0");
}

async function partitionLoop(
  bus: EventBus,
  lock: DistributedLock,
  checkpoints: CheckpointStore,
  stage: PartitionStage,
  partition: number,
  options: PartitionRunnerOptions & { logger: Logger },
): Promise<void> {
  const name = `part.${stage.kind}.${pad(partition)}`;
  const registry = options.registry ?? defaultRegistry;
  const owned = registry.gauge(
    "augur_partition_owned",
    "1 while this replica holds the lease of the partition.",
    ["kind", "partition"],
  );
  const labels = { kind: stage.kind, partition: pad(partition) };
  while (!options.signal.aborted) {
    let lease: Lease | null = null;
    try {
      lease = await lock.acquire(name, options.replicaId, { ttlMs: options.lease.ttlMs });
    } catch (error) {
      options.logger.warn("lease acquire failed", { lease: name, error: (error as Error).message });
    }
    if (!lease) {
      await abortableSleep(options.lease.waitTickMs, options.signal);
      continue;
    }
    owned.set(labels, 1);
    options.onOwnership?.(partition, true);
    options.logger.info("partition lease acquired", { lease: name, token: lease.token });
    const keeper = new LeaseKeeper(lock, lease, {
      renewIntervalMs: options.lease.renewIntervalMs,
      marginMs: options.lease.marginMs,
      registry,
      logger: options.logger,
    });
    keeper.start();
    try {
      await ownPartition(bus, checkpoints, stage, partition, keeper, options);
    } catch (error) {
      options.logger.error("partition failed; re-entering acquire", {
        lease: name,
        error: (error as Error).message,
      });
    } finally {
      owned.set(labels, 0);
      options.onOwnership?.(partition, false);
      if (keeper.isValid()) await keeper.release().catch(() => false);
      else keeper.stop();
    }
    if (!options.signal.aborted) await abortableSleep(options.lease.waitTickMs, options.signal);
  }
}

/** Read and process one partition while the lease is valid and no drain was requested. */
async function ownPartition(
  bus: EventBus,
  checkpoints: CheckpointStore,
  stage: PartitionStage,
  partition: number,
  keeper: LeaseKeeper,
  options: PartitionRunnerOptions & { logger: Logger },
): Promise<void> {
  const registry = options.registry ?? defaultRegistry;
  const metrics = workerMetrics(registry);
  const restored = registry.counter(
    "augur_state_restored_total",
    "Partition state restores, by source (checkpoint or none).",
    ["kind", "source"],
  );
  const kindLabels = { kind: stage.kind };
  // Bound handles: no per-message label hashing on the hot path.
  const transformSeconds = metrics.transformSeconds.bind(kindLabels);
  const processedCount = metrics.processed.bind(kindLabels);
  const checkpoint = await checkpoints.load(stage.kind, partition);
  restored.inc({ kind: stage.kind, source: checkpoint ? "checkpoint" : "none" });
  const processor = await stage.open(partition, checkpoint?.state ?? null);
  const token = keeper.lease.token;

  // Stop reading when the drain starts or the lease may have expired.
  const stopped = new AbortController();
  const onAbort = () => stopped.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  const leaseWatch = setInterval(() => {
    if (!keeper.isValid()) stopped.abort();
  }, Math.max(50, Math.min(1000, options.lease.renewIntervalMs / 4)));

  const reader = bus.read(stage.inputSubject(partition), {
    from: checkpoint ? { kind: "after", position: checkpoint.position } : { kind: "first" },
    worker: stage.kind,
  });
  stopped.signal.addEventListener("abort", () => void reader.stop(), { once: true });
  // The drain may have started while the checkpoint loaded (its abort event is past).
  if (options.signal.aborted) stopped.abort();

  const batchSize = options.publishBatch ?? 256;
  const maxDelayMs = options.maxDelayMs ?? 5;
  const checkpointEvery = options.checkpointIntervalMs ?? 60_000;
  const maxRetries = options.maxRetries ?? 5;
  const backoff = options.retryBackoffMs ?? [100, 1000, 5000];

  let pending: OutgoingMessage[] = [];
  let pendingPosition: string | undefined; // position of the last input whose outputs are pending
  let committed: string | undefined = checkpoint?.position; // outputs persisted up to here
  let processedSinceFlush = 0;
  let flushChain: Promise<void> = Promise.resolve();
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let lastCheckpointAt = performance.now();

  const flush = (): Promise<void> => {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = undefined;
    const batch = pending;
    const position = pendingPosition;
    const count = processedSinceFlush;
    pending = [];
    processedSinceFlush = 0;
    flushChain = flushChain.then(async () => {
      for (let attempt = 1; batch.length > 0; attempt++) {
        if (!keeper.isValid()) throw new Error("lease lost before publish");
        try {
          await bus.publishBatch(batch);
          break;
        } catch (error) {
          // Stopping with unpersisted outputs: no checkpoint past them; the next owner replays.
          if (stopped.signal.aborted) throw error;
          metrics.retries.inc({ kind: stage.kind, stage: "publish" });
          options.logger.warn("publish failed; retrying", {
            attempt,
            error: (error as Error).message,
          });
          await abortableSleep(backoff[Math.min(attempt - 1, backoff.length - 1)], stopped.signal);
        }
      }
      if (position !== undefined) committed = position;
      processedCount.inc(count);
    });
    return flushChain;
  };

  const writeCheckpoint = async () => {
    await flush();
    if (committed === undefined || !keeper.isValid()) return;
    await checkpoints.save(stage.kind, partition, {
      position: committed,
      state: processor.checkpoint(),
      token,
    });
    lastCheckpointAt = performance.now();
  };

  try {
    for await (const delivery of reader) {
      if (stopped.signal.aborted) break;
      let outputs: OutgoingMessage[] | undefined;
      let now = 0;
      for (let attempt = 1; outputs === undefined; attempt++) {
        const started = performance.now();
        try {
          const result = processor.process(delivery);
          // A synchronous processor costs no extra promise (hot path).
          outputs = Array.isArray(result) ? result : await result;
          materializePayloads(outputs, bus);
        } catch (error) {
          if (error instanceof PoisonError || attempt >= maxRetries) {
            options.logger.warn("input dead-lettered", {
              subject: delivery.subject,
              position: delivery.position,
              reason: error instanceof PoisonError ? "decode" : "transform",
              error: (error as Error).message,
            });
            await delivery.deadLetter(error instanceof PoisonError ? "decode" : "transform");
            outputs = [];
          } else {
            metrics.retries.inc({ kind: stage.kind, stage: "transform" });
            await abortableSleep(
              backoff[Math.min(attempt - 1, backoff.length - 1)],
              stopped.signal,
            );
          }
        } finally {
          now = performance.now();
          transformSeconds.observe((now - started) / 1000);
        }
      }
      for (let i = 0; i < outputs.length; i++) pending.push(outputs[i]);
      pendingPosition = delivery.position;
      processedSinceFlush++;
      if (pending.length >= batchSize) await flush();
      else if (flushTimer === undefined) {
        flushTimer = setTimeout(() => flush().catch(() => stopped.abort()), maxDelayMs);
      }
      if (now - lastCheckpointAt >= checkpointEvery) await writeCheckpoint();
    }
    if (keeper.isValid()) await writeCheckpoint();
  } finally {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    clearInterval(leaseWatch);
    options.signal.removeEventListener("abort", onAbort);
    await reader.stop();
    await flushChain.catch(() => {});
  }
}
