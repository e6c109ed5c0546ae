/**
 * Opens what a worker process needs from its configuration — the bus, the lock, the store —
 * each only when the kind needs it, and hands back the closeables in shutdown order.
 *
 * Also enforces DESIGN §10: `bus.partitions` P is fixed per deployment and recorded at first
 * start; a process configured with another P exits 2.
 *
 * @example
 * ```ts
 * import { openComponents } from "./components.ts";
 * import { loadConfig } from "../config/loader.ts";
 * const components = await openComponents(await loadConfig(), { bus: true, store: true });
 * await components.close();
 * ```
 * @module
 */
import type { AugurConfig } from "../config/loader.ts";
import { ConfigError } from "../config/errors.ts";
import type { EventBus } from "../adapters/bus/types.ts";
import { type BusSection, createEventBus } from "../adapters/bus/factory.ts";
import type { DistributedLock } from "../adapters/lock/types.ts";
import { createLock, type LockBusConfig } from "../adapters/lock/factory.ts";
import type { MemoryLockStore } from "../adapters/lock/memory_lock.ts";
import type { Store } from "../adapters/storage/types.ts";
import { createStore } from "../adapters/storage/factory.ts";
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../adapters/observability/metrics.ts";
import { Subjects } from "./subjects.ts";

/** Which components to open. */
export interface ComponentNeeds {
  bus?: boolean;
  lock?: boolean;
  store?: boolean;
}

/** Open components of one process. */
export interface Components {
  readonly config: AugurConfig;
  readonly subjects: Subjects;
  readonly registry: MetricsRegistry;
  readonly logger: Logger;
  readonly bus?: EventBus;
  readonly lock?: DistributedLock;
  readonly store?: Store;
  /** Resources in the order the harness closes them (bus, lock, store). */
  readonly closeables: { name: string; close: () => Promise<void> }[];
  /** Close everything (used when start-up fails half way). */
  close(): Promise<void>;
}

/** Options of {@linkcode openComponents}. */
export interface OpenOptions {
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  /** Existing bus to share (the engine's memory bus). */
  readonly bus?: EventBus;
  /** Existing store to share (the engine's single DuckDB writer). */
  readonly store?: Store;
  /** Shared memory lock state (engine). */
  readonly memoryLockStore?: MemoryLockStore;
  /** Environment (default the process environment). */
  readonly env?: Record<string, string | undefined>;
}

/** Open the components a kind needs. Throws ConfigError / ConnectionError with one line. */
export async function openComponents(
  config: AugurConfig,
  needs: ComponentNeeds,
  options: OpenOptions = {},
): Promise<Components> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? createLogger();
  const subjects = Subjects.fromConfig(config);
  const closeables: { name: string; close: () => Promise<void> }[] = [];
  const close = async () => {
    for (const c of closeables) await c.close().catch(() => {});
  };
  const env = options.env ?? Deno.env.toObject();
  try {
    let bus = options.bus;
    if (needs.bus && !bus) {
      bus = await createEventBus(config.bus as BusSection, { env, registry, logger });
      await bus.connect();
      const opened = bus;
      closeables.push({ name: "bus", close: () => opened.close() });
    }
    let lock: DistributedLock | undefined;
    if (needs.lock) {
      lock = await createLock(config.bus as unknown as LockBusConfig, {
        env: (name) => env[name],
        registry,
        memoryStore: options.memoryLockStore,
      });
      const opened = lock;
      closeables.push({ name: "lock", close: () => opened.close() });
    }
    let store = options.store;
    if (needs.store && !store) {
      store = await createStore(config.storage, { env, registry, logger });
      const opened = store;
      closeables.push({ name: "store", close: () => opened.close() });
      await store.initialize();
      await checkPartitionCount(store, config.bus.backend.partitions);
    }
    return { config, subjects, registry, logger, bus, lock, store, closeables, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Record P on first start; refuse another P later (exit 2). Kept in the store's worker_state
 * table (shared by every process of a distributed deployment).
 */
export async function checkPartitionCount(store: Store, partitions: number): Promise<void> {
  const recorded = await store.loadState("deployment", 0, { key: "partitions" });
  if (recorded) {
    const stored = Number(new TextDecoder().decode(recorded.state));
    if (stored !== partitions) {
      throw new ConfigError(
        `bus.toml: backend.partitions: this deployment was started with ${stored} partitions, received ${partitions} (the partition count is fixed per deployment)`,
      );
    }
    return;
  }
  await store.saveState({
    kind: "deployment",
    partition: 0,
    key: "partitions",
    position: "",
    state: new TextEncoder().encode(String(partitions)),
    token: 0,
  });
}
