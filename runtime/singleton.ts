/**
 * Active-passive singletons (dedup, llm, divergence, one poller per platform) over a
 * DistributedLock (DESIGN §5.4, §10). Passive replicas poll the lock every `waitTickMs`; the
 * active renews every `renewIntervalMs` and stops acting as soon as its lease may have expired
 * (last successful renew send time + ttl − margin), even when the lock backend is
 * unreachable. Then `runSingleton` resolves `"lost"` so the process exits and the
 * orchestrator restarts it; on drain it releases the lock and resolves `"drained"`.
 *
 * @example
 * ```ts
 * import { runSingleton } from "./singleton.ts";
 * import { MemoryLock } from "../adapters/lock/memory_lock.ts";
 * const controller = new AbortController();
 * const outcome = await runSingleton(new MemoryLock(), async ({ signal }) => {
 *   controller.abort();
 *   await new Promise((r) => signal.addEventListener("abort", r));
 * }, {
 *   kind: "dedup", replicaId: "r0", signal: controller.signal,
 *   lease: { ttlMs: 30000, renewIntervalMs: 10000, marginMs: 2000, waitTickMs: 1000 },
 * });
 * ```
 * @module
 */
import type { DistributedLock, Lease } from "../adapters/lock/types.ts";
import { LeaseKeeper } from "../adapters/lock/lease_keeper.ts";
import { abortableSleep } from "./sleep.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";

/** What the active replica gets. */
export interface ActiveContext {
  /** The fencing token of this tenure; stamp it on every output (`Augur-Fence`). */
  readonly token: number;
  /** Aborted on drain or when the lease may have expired: stop acting at once. */
  readonly signal: AbortSignal;
  /** True while the lease is valid (check before every externally visible effect). */
  isValid(): boolean;
}

/** Options of {@linkcode runSingleton}. */
export interface SingletonOptions {
  /** Singleton kind; the lock name is the kind (e.g. `dedup`, `poller.kalshi`). */
  readonly kind: string;
  readonly replicaId: string;
  readonly signal: AbortSignal;
  readonly lease: {
    readonly ttlMs: number;
    readonly renewIntervalMs: number;
    readonly marginMs: number;
    readonly waitTickMs: number;
  };
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  /** Called with the role as it changes (readiness: the role is known). */
  readonly onRole?: (role: "passive" | "active") => void;
}

/** Wait for the lock, run `active` while holding it; resolve why it ended. */
export async function runSingleton(
  lock: DistributedLock,
  active: (context: ActiveContext) => Promise<void>,
  options: SingletonOptions,
): Promise<"drained" | "lost"> {
  const registry = options.registry ?? defaultRegistry;
  const logger = (options.logger ?? createLogger()).child({ singleton: options.kind });
  const holderGauge = registry.gauge(
    "augur_singleton_lock_holder",
    "1 while this replica is the active singleton, 0 while passive.",
    ["singleton_kind", "replica_id"],
  );
  const failovers = registry.counter(
    "augur_failover_total",
    "Times a replica took over a singleton that another replica held before.",
    ["singleton_kind"],
  );
  const labels = { singleton_kind: options.kind, replica_id: options.replicaId };
  holderGauge.set(labels, 0);
  options.onRole?.("passive");

  let lease: Lease | null = null;
  let contended = false; // someone else held it while we waited: taking over is a failover
  while (!options.signal.aborted && !lease) {
    try {
      lease = await lock.acquire(options.kind, options.replicaId, { ttlMs: options.lease.ttlMs });
    } catch (error) {
      logger.warn("lock acquire failed", { error: (error as Error).message });
    }
    if (!lease) {
      contended = true;
      await abortableSleep(options.lease.waitTickMs, options.signal);
    }
  }
  if (!lease) return "drained";

  if (contended) failovers.inc({ singleton_kind: options.kind });
  holderGauge.set(labels, 1);
  options.onRole?.("active");
  logger.info("became active", { token: lease.token });

  const stop = new AbortController();
  const keeper = new LeaseKeeper(lock, lease, {
    renewIntervalMs: options.lease.renewIntervalMs,
    marginMs: options.lease.marginMs,
    registry,
    logger,
    onLost: (reason) => {
      logger.error("lease lost; stopping at once", { reason });
      stop.abort("lost");
    },
  });
  keeper.start();
  const onDrain = () => stop.abort("drained");
  options.signal.addEventListener("abort", onDrain, { once: true });
  if (options.signal.aborted) onDrain(); // drained while acquiring: its abort event is past
  try {
    await active({ token: lease.token, signal: stop.signal, isValid: () => keeper.isValid() });
  } finally {
    options.signal.removeEventListener("abort", onDrain);
    holderGauge.set(labels, 0);
  }
  if (keeper.isValid()) {
    await keeper.release().catch(() => false);
    return "drained";
  }
  keeper.stop();
  return "lost";
}
