/**
 * Singletons that read ordered streams (dedup reads every calibrated partition plus the
 * divergence subject; divergence reads the tick announcements). While active (holding the
 * lock) the runner:
 * 1. publishes a fence on each output subject and records it (DESIGN §10 fencing);
 * 2. restores the checkpoint (every reader's position + the stage state) and opens one private
 *    ordered reader per input from its position;
 * 3. feeds inputs to the processor, publishes its outputs in order stamped with the fencing
 *    token (`Augur-Fence`), and checkpoints every interval and on drain. The state and the
 *    positions are captured together, synchronously, then saved once every output produced up
 *    to that moment is persisted; inputs after the saved positions are replayed on restore and
 *    their outputs carry the same deterministic ids.
 *
 * @example
 * ```ts
 * import { runSingletonStage } from "./singleton_stage.ts";
 * // await runSingletonStage(bus, lock, store, stage, { replicaId, signal, lease, … });
 * ```
 * @module
 */
import type { Delivery, EventBus, OutgoingMessage, Subscription } from "../adapters/bus/types.ts";
import type { DistributedLock } from "../adapters/lock/types.ts";
import type { Store } from "../adapters/storage/types.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import { fenceHeader, publishFences, StoreFenceRegistry } from "./fencing.ts";
import { PoisonError } from "./partition_runner.ts";
import { runSingleton } from "./singleton.ts";
import { workerMetrics } from "./worker_metrics.ts";

/** A singleton's processing state. `process` must be synchronous (see the module doc). */
export interface SingletonProcessor {
  /** Handle one input of reader `input`; return outputs (the runner stamps the fence). */
  process(input: number, delivery: Delivery): OutgoingMessage[];
  /** Serialize the state. */
  checkpoint(): Uint8Array;
}

/** A singleton stage. */
export interface SingletonStage {
  /** Lock name and checkpoint kind (e.g. `dedup`). */
  readonly kind: string;
  /** Subjects read, one private ordered reader each. */
  readonly inputs: readonly string[];
  /** Subjects written (fenced on takeover). */
  readonly outputs: readonly string[];
  open(state: Uint8Array | null): PromiseLike<SingletonProcessor>;
}

/** Options of {@linkcode runSingletonStage}. */
export interface SingletonStageOptions {
  readonly replicaId: string;
  readonly signal: AbortSignal;
  readonly lease: {
    readonly ttlMs: number;
    readonly renewIntervalMs: number;
    readonly marginMs: number;
    readonly waitTickMs: number;
  };
  readonly checkpointIntervalMs?: number;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  readonly onRole?: (role: "passive" | "active") => void;
}

interface Saved {
  positions: (string | null)[];
  state: string; // base64 of the processor state
}

/** Run the stage as an active-passive singleton; resolves on drain or lost lease. */
export async function runSingletonStage(
  bus: EventBus,
  lock: DistributedLock,
  store: Store,
  stage: SingletonStage,
  options: SingletonStageOptions,
): Promise<"drained" | "lost"> {
  const logger = (options.logger ?? createLogger()).child({ kind: stage.kind });
  const registry = options.registry ?? defaultRegistry;
  const metrics = workerMetrics(registry);
  const fences = new StoreFenceRegistry(store);
  return await runSingleton(lock, async (active) => {
    await publishFences(bus, fences, { subjects: stage.outputs, token: active.token });
    const loaded = await store.loadState(stage.kind, 0);
    const saved: Saved | null = loaded
      ? JSON.parse(new TextDecoder().decode(loaded.state)) as Saved
      : null;
    const processor = await stage.open(saved ? decodeBase64(saved.state) : null);
    const positions: (string | null)[] = stage.inputs.map((_, i) => saved?.positions[i] ?? null);
    const stamp = fenceHeader(active.token);

    let chain: Promise<void> = Promise.resolve();
    let failed: Error | undefined;
    let stopReaders = () => {};
    const publish = (outputs: OutgoingMessage[]) => {
      if (outputs.length === 0) return;
      const stamped = outputs.map((o) => ({ ...o, headers: { ...o.headers, ...stamp } }));
      chain = chain.then(async () => {
        if (!active.isValid()) throw new Error("lease lost before publish");
        await bus.publishBatch(stamped);
      }).catch((error) => {
        failed ??= error;
        stopReaders(); // readers idle on an empty stream would otherwise never look again
        throw error;
      });
      // Handled: `failed` carries the error to the loop below, which rethrows it.
      chain.catch(() => {});
    };
    const checkpoint = async () => {
      const snapshot: Saved = {
        positions: [...positions],
        state: encodeBase64(processor.checkpoint()),
      };
      await chain; // every output produced up to the snapshot is persisted
      if (!active.isValid()) return;
      await store.saveState({
        kind: stage.kind,
        partition: 0,
        key: "",
        position: JSON.stringify(snapshot.positions),
        state: new TextEncoder().encode(JSON.stringify(snapshot)),
        token: active.token,
      });
    };

    const readers: Subscription[] = stage.inputs.map((subject, i) =>
      bus.read(subject, {
        from: positions[i] === null
          ? { kind: "first" }
          : { kind: "after", position: positions[i]! },
        worker: stage.kind,
      })
    );
    stopReaders = () => readers.forEach((r) => void r.stop());
    active.signal.addEventListener("abort", stopReaders, { once: true });
    if (active.signal.aborted) stopReaders(); // stopped while the state loaded
    const timer = setInterval(() => {
      checkpoint().catch((error) => logger.warn("checkpoint failed", { error: error.message }));
    }, options.checkpointIntervalMs ?? 60_000);
    try {
      await Promise.all(readers.map(async (reader, i) => {
        for await (const delivery of reader) {
          if (active.signal.aborted || failed) break;
          let outputs: OutgoingMessage[];
          try {
            outputs = processor.process(i, delivery);
          } catch (error) {
            if (!(error instanceof PoisonError)) throw error;
            logger.warn("input dead-lettered", {
              subject: delivery.subject,
              error: error.message,
            });
            await delivery.deadLetter("decode");
            outputs = [];
          }
          positions[i] = delivery.position;
          metrics.processed.inc({ kind: stage.kind });
          publish(outputs);
        }
      }));
      // A publish that failed for good ends the process (exit 1); the orchestrator restarts
      // it and the replacement resumes from the last checkpoint.
      if (failed) throw failed;
      if (active.isValid()) await checkpoint();
    } finally {
      clearInterval(timer);
      stopReaders();
      await chain.catch(() => {});
    }
  }, {
    kind: stage.kind,
    replicaId: options.replicaId,
    signal: options.signal,
    lease: options.lease,
    registry,
    logger,
    onRole: options.onRole,
  });
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
